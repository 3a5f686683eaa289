"""repo_index.search and `patchsmith search` on a fixture repository built here."""

from __future__ import annotations

import importlib
import json
import textwrap
from pathlib import Path

import pytest

from patchsmith import repo_index
from patchsmith.cli import main
from patchsmith.repo_index import build_index, search, search_definitions, search_files
from patchsmith.repo_index.query import analyze, tokens
from patchsmith.repo_index.paths import is_non_source

FILES = {
    "shop/__init__.py": """
        from shop.cart import Cart
        from shop.pricing import TaxTable
    """,
    "shop/cart.py": '''
        """A shopping cart: items, quantities and the cart total."""
        from shop.pricing import TaxTable, round_price


        class Cart:
            """Holds the items a customer put in the cart."""

            def __init__(self):
                self.items = {}

            def add_item(self, name, price, quantity=1):
                """Add an item to the cart, or raise its quantity when the item is in the cart already."""
                old_price, old_quantity = self.items.get(name, (price, 0))
                self.items[name] = (price, old_quantity + quantity)

            def total(self):
                """The cart total: the price of every item in the cart times its quantity."""
                return round_price(sum(price * quantity for price, quantity in self.items.values()))
    ''',
    "shop/pricing.py": '''
        """Prices: rounding and taxes."""


        def round_price(amount):
            return round(amount, 2)


        def compute_tax_rate(region):
            """The tax rate of a region, as a fraction."""
            return TaxTable().lookup(region)


        class TaxTable:
            rates = {"eu": 0.2, "us": 0.07}

            def lookup(self, region):
                return self.rates[region]
    ''',
    "shop/inventory.py": '''
        """Stock levels of the warehouse."""
        from shop import pricing


        class Stock:
            def __init__(self):
                self.levels = {}

            def reserve(self, sku, count):
                """Take `count` units of `sku` out of the stock."""
                level = self.levels[sku]
                self.levels[sku] = level - count
                return level
    ''',
    "tests/test_cart.py": '''
        from shop.cart import Cart


        def test_cart_total_after_adding_the_same_item_twice():
            cart = Cart()
            cart.add_item("apple", 1.0)
            cart.add_item("apple", 1.0)
            # the cart total counts the item twice: the cart holds two of the item
            assert cart.total() == 2.0


        def test_cart_total_of_an_empty_cart():
            assert Cart().total() == 0
    ''',
}


@pytest.fixture(scope="module")
def shop_repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shop")
    for path, text in FILES.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())
    return root


@pytest.fixture(scope="module")
def shop_index(shop_repo):
    return build_index(shop_repo)


def file_paths(hits) -> list[str]:
    return [h.path for h in hits if h.kind == "file"]


def definition_names(hits) -> list[str]:
    return [h.qualname for h in hits if h.kind == "definition"]


def test_a_traceback_frame_ranks_its_file_and_function_first(shop_index):
    issue = textwrap.dedent('''
        Adding an item to the cart crashes when the warehouse has no stock for it:

        Traceback (most recent call last):
          File "/srv/app/views.py", line 40, in checkout
          File "/usr/lib/python3/site-packages/shop/inventory.py", line 10, in reserve
        KeyError: 'apple'
    ''')
    hits = search(shop_index, issue, k=3)
    assert file_paths(hits)[0] == "shop/inventory.py"
    assert definition_names(hits)[0] == "Stock.reserve"


def test_an_identifier_in_the_issue_ranks_its_definition_first(shop_index):
    # The prose is about the cart; the identifier written as code points at pricing.
    issue = "The cart total of an item in the cart is off: `compute_tax_rate` gives the wrong value for the item."
    hits = search(shop_index, issue, k=3)
    assert file_paths(hits)[0] == "shop/pricing.py"
    definitions = search_definitions(shop_index, issue, k=3)
    assert definitions[0].qualname == "compute_tax_rate"
    assert (definitions[0].path, definitions[0].start, definitions[0].end) == ("shop/pricing.py", 8, 10)


def test_a_dotted_path_ranks_its_module_and_method_first(shop_index):
    issue = "shop.pricing.TaxTable.lookup raises when the cart total of an item is computed for the item in the cart."
    hits = search(shop_index, issue, k=3)
    assert file_paths(hits)[0] == "shop/pricing.py"
    assert definition_names(hits)[0] == "TaxTable.lookup"


def test_source_ranks_above_the_tests_that_share_its_words(shop_index):
    issue = "The cart total is wrong after adding the same item to the cart twice."
    ranked = file_paths(search_files(shop_index, issue, k=5))
    assert ranked.index("shop/cart.py") < ranked.index("tests/test_cart.py")
    assert ranked[0] == "shop/cart.py"


def test_hits_are_best_first_and_k_is_respected(shop_index):
    files = search_files(shop_index, "cart item quantity price", k=2)
    assert len(files) == 2
    assert files[0].score >= files[1].score
    assert search(shop_index, "zzzz qqqq", k=5) == []


def test_the_engine_is_built_once_per_index(shop_index):
    search_module = importlib.import_module("patchsmith.repo_index.search")  # the module, not the function it exports
    engine = search_module._engine(shop_index)
    search(shop_index, "cart", k=1)
    assert search_module._engine(shop_index) is engine


def test_query_analysis_finds_what_an_issue_names():
    parts = analyze(textwrap.dedent('''
        Calling `QuerySet.filter()` from django.db.models.query fails, see django/db/models/query.py.

            File "/x/django/db/models/sql/compiler.py", line 12, in as_sql
        tests/test_x.py:5: in test_filter_on_empty
        Also getHTTPResponse_code(), e.g. in setup.py.
    '''))
    assert parts.frames[0].path == "/x/django/db/models/sql/compiler.py"
    assert parts.frames[0].line == 12 and parts.frames[0].function == "as_sql"
    assert any(f.path == "tests/test_x.py" and f.function == "test_filter_on_empty" for f in parts.frames)
    assert "django/db/models/query.py" in parts.paths and "setup.py" in parts.paths
    assert "QuerySet.filter" in parts.dotted and "django.db.models.query" in parts.dotted
    assert "e.g" not in parts.dotted
    assert {"QuerySet", "filter", "as_sql", "getHTTPResponse_code"} <= set(parts.code_identifiers)
    assert "test_filter_on_empty" in parts.test_names
    assert tokens("getHTTPResponse_code") == ["gethttpresponse_code", "get", "http", "response", "code"]


@pytest.mark.parametrize("path, expected", [
    ("tests/test_cart.py", True), ("pkg/tests/helpers.py", True), ("test_x.py", True), ("pkg/x_test.py", True),
    ("conftest.py", True), ("docs/conf.py", True), ("examples/plot.py", True), ("testing/python/x.py", True),
    ("js_tests/qunit.js", True), ("pkg/cart.py", False), ("pkg/testing_utils.py", False), ("src/contest.py", False), ("pkg/latest.py", False),
])
def test_non_source_rule(path, expected):
    assert is_non_source(path) is expected


# ---------------------------------------------------------------- the command


def test_search_command_json(shop_repo, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHSMITH_CACHE_DIR", str(tmp_path / "cache"))
    code = main(["search", "--repo", str(shop_repo), "compute_tax_rate is wrong for the us region", "-k", "2", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"files", "definitions"}
    assert out["files"][0] == {"path": "shop/pricing.py", "score": out["files"][0]["score"]}
    assert len(out["files"]) == 2 and len(out["definitions"]) == 2
    assert set(out["definitions"][0]) == {"path", "qualname", "start", "end", "score"}
    assert out["definitions"][0]["qualname"] == "compute_tax_rate"
    assert out["files"][0]["score"] >= out["files"][1]["score"]
    assert (tmp_path / "cache" / "index").exists()


def test_search_command_text(shop_repo, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHSMITH_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["search", "--repo", str(shop_repo), "Stock.reserve KeyError"]) == 0
    out = capsys.readouterr().out
    assert out.index("files:") < out.index("shop/inventory.py") < out.index("definitions:")
    assert "Stock.reserve" in out.split("definitions:")[1]


@pytest.mark.parametrize("argv, sentence", [
    (["search", "--repo", "{missing}", "text"], "does not exist"),
    (["search", "--repo", "{repo}", "   "], "search text is empty"),
    (["search", "--repo", "{repo}", "text", "-k", "0"], "-k must be at least 1"),
])
def test_search_command_errors(argv, sentence, shop_repo, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATCHSMITH_CACHE_DIR", str(tmp_path / "cache"))
    argv = [a.format(missing=tmp_path / "nowhere", repo=shop_repo) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("patchsmith: ") and sentence in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_exports():
    assert repo_index.search is search and callable(repo_index.search_files)


def test_search_reads_a_commit_without_a_checkout(shop_repo, tmp_path):
    import subprocess

    repo = tmp_path / "clone"
    subprocess.run(["cp", "-r", str(shop_repo), str(repo)], check=True)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "shop"], check=True)
    (repo / "shop" / "inventory.py").write_text("# emptied in the working tree only\n")
    index = build_index(repo, commit="HEAD")
    hits = search_definitions(index, "Stock.reserve takes more units than the stock holds", k=1)
    assert (hits[0].path, hits[0].qualname) == ("shop/inventory.py", "Stock.reserve")
