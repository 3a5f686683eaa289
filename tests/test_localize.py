"""Localization on a small fixture repository, with a scripted model behind the real litellm path."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from patchsmith import repo_index
from patchsmith.localize import LocalizeSettings, Localization, localize, localize_files
from patchsmith.localize.answers import PathResolver, parse_elements, parse_locations
from patchsmith.llm import DryRunModel, Model, ModelSettings
from tests.scripted_model import ScriptedModel

FILES = {
    "inventory/__init__.py": '"""Inventory keeping."""\n',
    "inventory/pricing.py": '''\
        """Prices, discounts and tax."""

        TAX_RATE = 0.2


        def discount(price, percent):
            """The price after a discount of `percent` percent."""
            if percent >= 100:
                return price
            return price * (100 - percent) / 100


        def with_tax(price):
            return price * (1 + TAX_RATE)
        ''',
    "inventory/stock.py": '''\
        """Stock levels per warehouse."""


        class Warehouse:
            """Items and how many of each are in stock."""

            def __init__(self, name):
                self.name = name
                self.items = {}

            def add(self, item, count=1):
                self.items[item] = self.items.get(item, 0) + count

            def remove(self, item, count=1):
                self.items[item] = self.items.get(item, 0) - count

            def count(self, item):
                return self.items.get(item, 0)


        def restock_all(warehouses, item, count):
            for warehouse in warehouses:
                warehouse.add(item, count)
        ''',
    "inventory/report.py": '''\
        """Text reports."""

        from inventory.stock import Warehouse


        def summary(warehouse: Warehouse) -> str:
            return ", ".join(f"{item}: {n}" for item, n in sorted(warehouse.items.items()))
        ''',
    "tests/test_pricing.py": '''\
        from inventory.pricing import discount


        def test_discount_half():
            assert discount(10, 50) == 5
        ''',
    "docs/index.md": "# Inventory\n\nKeeps stock and prices.\n",
}

ISSUE = """\
discount() returns the full price for a 100% discount

Calling `discount(10, 100)` from inventory/pricing.py gives 10, but a 100 percent discount should
make the item free (0). Other percentages work.
"""


def make_repo(root: Path) -> Path:
    for path, text in FILES.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def index(tmp_path):
    return repo_index.build_index(str(make_repo(tmp_path / "repo")))


def scripted_model(server: ScriptedModel, tmp_path: Path, **changes) -> Model:
    settings = ModelSettings(model="openai/scripted", api_base=server.url, api_key="test", backoff=0.01, **changes)
    return Model(settings, ledger_path=tmp_path / "run" / "model_calls.jsonl", cache_dir=tmp_path / "cache")


def user_prompt(request: dict) -> str:
    return request["messages"][-1]["content"]


def test_files_elements_and_lines_from_the_model(server, index, tmp_path):
    server.add(
        "```\ninventory/pricing.py\ninventory/stock.py\n```",
        "```\ninventory/pricing.py::discount\ninventory/pricing.py::TAX_RATE\n```",
        ["```\ninventory/pricing.py:8-9 discount\n```", "Here:\n```\ninventory/pricing.py:8-10\n```"],
    )
    model = scripted_model(server, tmp_path)
    result = localize(index, ISSUE, model, LocalizeSettings(line_samples=2))

    # File level: the model's first file is first, named by both rankings.
    assert result.files.paths[0] == "inventory/pricing.py"
    assert result.files.files[0].sources == ("model", "retrieval")
    assert result.files.model_files == ("inventory/pricing.py", "inventory/stock.py")
    assert "inventory/pricing.py" in user_prompt(server.requests[0])  # the tree view was shown
    # Element level: the top files' skeletons were shown; both names are real.
    assert "def discount(price, percent)" in user_prompt(server.requests[1])
    assert [(e.path, e.qualname, e.kind) for e in result.elements.elements] == [
        ("inventory/pricing.py", "discount", "function"),
        ("inventory/pricing.py", "TAX_RATE", "variable"),
    ]
    # Line level: line-numbered code, two samples asked in one request, two location sets kept.
    assert server.requests[2]["n"] == 2
    assert "return price * (100 - percent) / 100" in user_prompt(server.requests[2])
    assert [[(l.path, l.start, l.end, l.element) for l in s] for s in result.edits.samples] == [
        [("inventory/pricing.py", 8, 9, "discount")],
        [("inventory/pricing.py", 8, 10, "discount")],
    ]
    assert [(l.start, l.end) for l in result.edits.union] == [(8, 10)]
    assert all(not r.fallback for r in result.reports)
    assert all(r.prompt_tokens > 0 for r in result.reports)
    assert len(server.requests) == 3


def test_invented_paths_are_dropped(server, index, tmp_path):
    server.add("```\ninventory/discounts.py\nsrc/pricing_engine.py\n./inventory/pricing.py\n```")
    result = localize_files(index, ISSUE, scripted_model(server, tmp_path), LocalizeSettings())
    assert result.model_files == ("inventory/pricing.py",)
    assert set(result.dropped) == {"inventory/discounts.py", "src/pricing_engine.py"}
    assert not set(result.dropped) & set(result.paths)
    assert all(path in index.files for path in result.paths)


def test_paths_in_prose_are_found(server, index, tmp_path):
    server.add("1. The bug is in **inventory/stock.py**, see `Warehouse.remove`.\n2. Maybe inventory/pricing.py too.")
    result = localize_files(index, ISSUE, scripted_model(server, tmp_path), LocalizeSettings())
    assert result.model_files == ("inventory/stock.py", "inventory/pricing.py")
    assert result.dropped == ()


def test_malformed_answers_fall_back_to_retrieval(server, index, tmp_path):
    prose = "I am not sure; the pricing logic looks suspicious to me."
    server.add(prose, "The function that computes things.", ["no idea", "line forty-two"])
    result = localize(index, ISSUE, scripted_model(server, tmp_path), LocalizeSettings(line_samples=2))
    assert [bool(r.fallback) for r in result.reports] == [True, True, True]
    # Retrieval carries each step: its ranking, its definitions, those definitions' lines.
    assert result.files.paths == result.files.retrieval_files
    assert result.files.paths[0] == "inventory/pricing.py"
    assert result.elements.elements, "retrieval found no definition in the top files"
    assert all(e.path in result.files.paths[:5] for e in result.elements.elements)
    first = result.elements.elements[0]
    assert result.edits.union[0].path == first.path
    assert len(result.edits.samples) == 1


def test_names_the_index_does_not_know_are_dropped(server, index, tmp_path):
    server.add(
        "```\ninventory/pricing.py\n```",
        "```\ninventory/pricing.py::apply_coupon\ninventory/stock.py::Warehouse.remove\nWarehouse.count\n```",
        "```\ninventory/stock.py:14-15\ninventory/stock.py:900-910\nnowhere.py:3\n```",
    )
    result = localize(index, ISSUE, scripted_model(server, tmp_path), LocalizeSettings(line_samples=1))
    assert [e.qualname for e in result.elements.elements] == ["Warehouse.remove", "Warehouse.count"]
    assert result.elements.dropped == ("inventory/pricing.py::apply_coupon",)
    # Lines past the file's end and files that do not exist are left out.
    assert [(l.path, l.start, l.end, l.element) for l in result.edits.union] == [
        ("inventory/stock.py", 14, 15, "Warehouse.remove")
    ]
    assert server.requests[2].get("temperature") == 0.0  # one sample: greedy


def test_second_run_is_served_from_the_cache(server, index, tmp_path):
    server.add("```\ninventory/pricing.py\n```", "```\ninventory/pricing.py::discount\n```", "```\ninventory/pricing.py:8-9\n```")
    first = localize(index, ISSUE, scripted_model(server, tmp_path, price_per_token=(1e-6, 1e-6)), LocalizeSettings(line_samples=1))
    again_model = scripted_model(server, tmp_path, price_per_token=(1e-6, 1e-6))
    again = localize(index, ISSUE, again_model, LocalizeSettings(line_samples=1))
    assert again == first
    assert len(server.requests) == 3
    assert again_model.spent == 0.0
    assert all(r.cache_hit for r in again_model.ledger.records)


def test_each_prompt_stays_within_its_budget_and_the_context_window(index):
    dry = DryRunModel("openai/gpt-4o", context_window=4_096 + 400)
    settings = LocalizeSettings(answer_reserve=4_096)
    result = localize(index, ISSUE * 20, dry, settings)
    assert [stage for stage, _ in dry.prompts] == ["localize.files", "localize.elements", "localize.lines"]
    assert all(tokens <= 400 + 20 for _, tokens in dry.prompts)  # budget 400, a message's framing on top
    assert result.edits.union  # retrieval still localized something


def test_lowest_ranked_skeletons_are_dropped_first(server, index, tmp_path):
    answers = ("```\ninventory/pricing.py\ninventory/stock.py\ninventory/report.py\n```", "```\ndiscount\n```", "```\ninventory/pricing.py:8\n```")
    server.add(*answers)
    full = localize(index, ISSUE, scripted_model(server, tmp_path), LocalizeSettings(line_samples=1))
    top = full.files.paths[:3]
    assert all(f"### {path}" in user_prompt(server.requests[1]) for path in top)
    # A budget that holds the instructions, the issue and the first outline, not all three.
    budget = full.elements.report.prompt_tokens - 40
    server.add(*answers)
    small = localize(index, ISSUE, scripted_model(server, tmp_path / "again"), LocalizeSettings(line_samples=1, elements_tokens=budget))
    prompt = user_prompt(server.requests[4])
    assert small.elements.report.prompt_tokens <= budget
    assert f"### {top[0]}" in prompt and f"### {top[2]}" not in prompt


def test_json_round_trip(server, index, tmp_path):
    server.add("```\ninventory/pricing.py\n```", "```\ninventory/pricing.py::discount\n```", ["```\ninventory/pricing.py:8\n```"] * 2)
    result = localize(index, ISSUE, scripted_model(server, tmp_path), LocalizeSettings(line_samples=2))
    text = json.dumps(result.to_json())
    assert Localization.from_json(json.loads(text)) == result


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("inventory/pricing.py", "inventory/pricing.py"),
        ("./inventory/pricing.py", "inventory/pricing.py"),
        ("repo/inventory/pricing.py", "inventory/pricing.py"),
        ("inventory.pricing", "inventory/pricing.py"),
        ("pricing.py", "inventory/pricing.py"),
        ("inventory/pricng.py", "inventory/pricing.py"),
        ("inventory/coupons.py", None),
        ("billing/pricing_rules.py", None),
    ],
)
def test_path_resolver(written, expected):
    assert PathResolver(FILES).resolve(written) == expected


def test_answer_formats():
    elements = parse_elements("inventory/stock.py\n  class: Warehouse\n  function: Warehouse.add\nfoo.py:bar()\n")
    assert [(e.path, e.name) for e in elements] == [
        ("inventory/stock.py", "Warehouse"),
        ("inventory/stock.py", "Warehouse.add"),
        ("foo.py", "bar"),
    ]
    locations = parse_locations("1. `a/b.py:3-5 Foo.bar`\na/c.py\nline: 7\nlines: 9-12\nnot a location")
    assert [(l.path, l.start, l.end, l.element) for l in locations] == [
        ("a/b.py", 3, 5, "Foo.bar"),
        ("a/c.py", 7, 7, ""),
        ("a/c.py", 9, 12, ""),
    ]
