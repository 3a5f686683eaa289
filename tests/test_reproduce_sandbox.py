"""The reproduce stage end to end: a scripted model through the real litellm code path, scripts and
tests run in one real sandbox container holding a fixture repository with a known bug
(examples/shopcart: bulk tiers start one item too late)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from patchsmith.llm import Model, ModelSettings
from patchsmith.reproduce import (
    ERROR,
    REPRODUCED,
    RESOLVED,
    CommandTestRunner,
    RegressionSettings,
    ReproSettings,
    broken_tests,
    run_script,
    sample_and_run,
    select_regression_tests,
)
from patchsmith.sandbox import DEFAULT_TEST_COMMAND
from tests.conftest import make_git_repo
from tests.scripted_model import ScriptedModel

pytestmark = pytest.mark.docker

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shopcart"

# The known fix of the fixture's bug.
FIX = """\
--- a/shopcart/pricing.py
+++ b/shopcart/pricing.py
@@ -27,7 +27,7 @@ def bulk_unit_price(unit_price, quantity: int) -> Decimal:
     price = Decimal(str(unit_price))
     for threshold, discount in BULK_TIERS:
-        if quantity > threshold:
+        if quantity >= threshold:
             return to_money(price * (1 - discount))
     return to_money(price)
"""

# A test that pins the buggy behaviour (the fix may change it), one failing at base, a slow one.
EXTRA_TESTS = {
    "tests/test_tiers.py": '''from decimal import Decimal

from shopcart.pricing import bulk_unit_price


def test_ten_items_pay_full_price():
    assert bulk_unit_price("2.00", 10) == Decimal("2.00")


def test_eleven_items_get_five_percent():
    assert bulk_unit_price("2.00", 11) == Decimal("1.90")


def test_known_broken():
    assert bulk_unit_price("2.00", 1) == Decimal("0")
''',
    "tests/test_pricing_slow.py": '''import time

from shopcart import pricing


def test_slow_rounding():
    time.sleep(9)
    assert str(pricing.to_money("0.005")) == "0.01"
''',
}

ISSUE = (EXAMPLE / "ISSUE.md").read_text()


def _script(verdict_expr: str, extra: str = "") -> str:
    return f"from shopcart import bulk_unit_price\n{extra}print({verdict_expr})\n"


GOOD = _script('"PATCHSMITH_VERDICT: " + ("reproduced" if price == "2.00" else "resolved")', 'price = str(bulk_unit_price("2.00", 10))\n')
# The same script as GOOD up to names, comments and a docstring: it votes with GOOD.
GOOD_RENAMED = '''"""Ten items must get the 5% tier."""
from shopcart import bulk_unit_price

got = str(bulk_unit_price("2.00", 10))  # the issue's example
print("PATCHSMITH_VERDICT: " + ("reproduced" if got == "2.00" else "resolved"))
'''
OTHER = _script('"PATCHSMITH_VERDICT: " + ("reproduced" if str(bulk_unit_price("10.00", 50)) != "8.80" else "resolved")')
CRASH = "import shopcart\nraise RuntimeError('boom')\nprint('PATCHSMITH_VERDICT: reproduced')\n"
HANG = "import time\nprint('PATCHSMITH_VERDICT: reproduced', flush=True)\ntime.sleep(600)\n"
SILENT = "import shopcart\nopen('shopcart/stray.txt', 'w').write('left behind')\n"  # writes into the repository
TWICE = "print('PATCHSMITH_VERDICT: reproduced')\nprint('PATCHSMITH_VERDICT: resolved')\n"


def fenced(script: str) -> str:
    return f"Here is a script.\n\n```python\n{script}```\n"


@pytest.fixture(scope="module")
def fixture_repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("shopcart")
    shutil.copytree(EXAMPLE, repo, dirs_exist_ok=True)
    for path, text in EXTRA_TESTS.items():
        (repo / path).write_text(text)
    make_git_repo(repo, message="base")
    return repo


@pytest.fixture(scope="module")
def repro_env_image(fixture_repo, bookworm_base_image, sandbox_cache_dir, tmp_path_factory) -> str:
    """The fixture's environment image: its recipe inferred (editable install plus pytest)."""
    from patchsmith.sandbox import build_env_image

    log = tmp_path_factory.mktemp("shopcart-env") / "build.log"
    return build_env_image(fixture_repo, "HEAD", cache_dir=sandbox_cache_dir, log_path=log).tag


@pytest.fixture(scope="module")
def container(fixture_repo, repro_env_image):
    from patchsmith.sandbox.container import Container

    with Container(repro_env_image).start(repo=fixture_repo, commit="HEAD") as running:
        yield running


def scripted_model(server: ScriptedModel, tmp_path) -> Model:
    settings = ModelSettings(model="openai/scripted", api_base=server.url, api_key="test-key", backoff=0.01, timeout=10.0)
    return Model(settings, cache_dir=tmp_path / "model-cache")


def test_samples_are_judged_and_the_majority_is_chosen(container, server, tmp_path):
    answers = [fenced(s) for s in (CRASH, HANG, SILENT, TWICE, OTHER, GOOD, GOOD_RENAMED)] + ["I cannot write that."]
    server.add(answers)
    settings = ReproSettings(samples=len(answers), timeout=4.0, parallel=2)
    started = time.monotonic()
    report = sample_and_run(ISSUE, ["shopcart/pricing.py"], container, scripted_model(server, tmp_path), settings)
    elapsed = time.monotonic() - started

    judged = {run.sample: (run.verdict, run.reason) for run in report.runs}
    assert judged[0] == (ERROR, "exited with status 1")
    assert judged[1] == (ERROR, "timed out after 4 s")
    assert judged[2] == (ERROR, "printed no verdict line")
    assert judged[3] == (ERROR, "printed 2 verdict lines")
    assert judged[4][0] == judged[5][0] == judged[6][0] == REPRODUCED
    assert judged[7] == (ERROR, "the answer held no script")
    assert "boom" in report.runs[0].output
    assert container.diff() == ""  # the file the silent script wrote is gone
    # The hung script was killed at its limit, not left to sleep 600 s.
    assert report.runs[1].timed_out and report.runs[1].seconds < 4.0 + 3
    assert elapsed < 60
    # GOOD and GOOD_RENAMED normalize alike and outvote OTHER, the earlier sample.
    chosen = report.chosen
    assert (chosen.sample, chosen.votes, chosen.script) == (5, 2, GOOD)
    assert chosen.runners_up == (OTHER,)
    assert "PATCHSMITH_VERDICT: reproduced" in chosen.output_at_base
    # The model saw the issue and the localized file's path.
    prompt = server.requests[0]["messages"][-1]["content"]
    assert "Bulk discount is not applied" in prompt and "shopcart/pricing.py" in prompt


def test_reproduced_at_base_and_resolved_after_the_known_fix(container, server, tmp_path):
    server.add([fenced(GOOD), fenced(OTHER)])
    report = sample_and_run(ISSUE, ["shopcart/pricing.py"], container, scripted_model(server, tmp_path), ReproSettings(samples=2))
    assert report.chosen is not None and report.chosen.script == GOOD
    try:
        assert container.apply_diff(FIX).applied
        after = run_script(container, report.chosen.script, timeout=report.chosen.timeout)
        assert (after.verdict, after.reason) == (RESOLVED, "")
    finally:
        container.reset()
    again = run_script(container, report.chosen.script, timeout=report.chosen.timeout)
    assert again.verdict == REPRODUCED


def test_nothing_reproducing_is_recorded(container, server, tmp_path):
    server.add([fenced(TWICE), fenced(_script('"PATCHSMITH_VERDICT: resolved"'))])
    report = sample_and_run(ISSUE, ["shopcart/pricing.py"], container, scripted_model(server, tmp_path), ReproSettings(samples=2))
    assert report.chosen is None
    assert [run.verdict for run in report.runs] == [ERROR, RESOLVED]
    assert report.note.startswith("no sample reproduced the issue")




def test_regression_selection_discovers_runs_asks_and_budgets(fixture_repo, container, server, tmp_path):
    from patchsmith import repo_index

    index = repo_index.build_index(fixture_repo)
    tests = CommandTestRunner(container, DEFAULT_TEST_COMMAND, "pytest")
    removal = "These pin the old behaviour:\n- tests/test_tiers.py::test_ten_items_pay_full_price\n- tests/test_made_up.py::test_x\n"
    server.add(removal)
    model = scripted_model(server, tmp_path)
    selection = select_regression_tests(
        index,
        ["shopcart/pricing.py"],
        tests,
        model=model,
        issue_text=ISSUE,
        settings=RegressionSettings(budget_seconds=6.0),
    )
    # Related: the files that import pricing or its package's names; not test_cart.py.
    assert set(selection.candidates) == {"tests/test_pricing.py", "tests/test_tiers.py", "tests/test_pricing_slow.py"}
    assert "tests/test_tiers.py::test_known_broken" in selection.failing_at_base
    # The model's removal is honoured; the id it invented is ignored.
    assert selection.removed_by_model == ("tests/test_tiers.py::test_ten_items_pay_full_price",)
    assert "tests/test_tiers.py::test_ten_items_pay_full_price" not in selection.tests
    # The slow file (9 s) does not fit a 6 s budget, and was stopped there; the others fit.
    assert selection.dropped_for_budget == ("tests/test_pricing_slow.py",)
    assert set(selection.test_files) == {"tests/test_pricing.py", "tests/test_tiers.py"}
    assert selection.seconds_at_base <= 6.0
    assert dict(selection.file_seconds)["tests/test_pricing_slow.py"] < 6.0 + 3
    assert "tests/test_tiers.py::test_eleven_items_get_five_percent" in selection.tests
    assert "tests/test_pricing.py::test_percentage_coupon" in selection.tests
    # What repair needs travels in the record: it runs from the JSON alone.
    selection = type(selection).from_json(selection.to_json())
    assert not any(t.startswith("tests/test_cart.py") for t in selection.tests)

    # After the known fix nothing selected breaks; after a bad change, the selection notices.
    try:
        assert container.apply_diff(FIX).applied
        assert broken_tests(container, selection) == broken_tests(tests, selection) == ()
    finally:
        container.reset()
    bad = FIX.replace("if quantity >= threshold:", "if quantity >= 0:")  # every order gets the top tier
    try:
        assert container.apply_diff(bad).applied
        broken = broken_tests(container, selection)
        assert "tests/test_pricing.py::test_no_discount_for_few_items" in broken
        assert "tests/test_tiers.py::test_ten_items_pay_full_price" not in broken  # removed, not checked
    finally:
        container.reset()


def test_command_prints_script_output_and_regression_set(fixture_repo, repro_env_image, server, tmp_path, capsys, monkeypatch):
    from patchsmith.cli import main

    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("PATCHSMITH_CACHE_DIR", str(tmp_path / "cache"))  # no model answers cached elsewhere
    server.add([fenced(GOOD), fenced(SILENT)], "NONE")
    out = tmp_path / "run"
    argv = ["reproduce", "--repo", str(fixture_repo), "--commit", "HEAD", "--issue", str(EXAMPLE / "ISSUE.md"),
            "--model", "openai/scripted", "--api-base", server.url, "--files", "shopcart/pricing.py",
            "--repro-samples", "2", "--test-budget", "6", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert 'bulk_unit_price("2.00", 10)' in printed  # the chosen script
    assert "PATCHSMITH_VERDICT: reproduced" in printed  # its output at base
    assert "tests/test_tiers.py" in printed and "regression set:" in printed
    record = json.loads((out / "reproduce.json").read_text())
    assert record["repro"]["chosen"]["script"] == GOOD
    assert "tests/test_pricing.py::test_percentage_coupon" in record["regression"]["tests"]
    assert server.remaining() == 0  # both samples and the removal question were asked


def test_command_refuses_unknown_files_in_one_sentence(fixture_repo, capsys):
    from patchsmith.cli import main

    argv = ["reproduce", "--repo", str(fixture_repo), "--issue", "text", "--model", "openai/scripted",
            "--files", "no/such.py"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == "patchsmith: the repository has no file no/such.py"
