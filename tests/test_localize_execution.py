"""Localization from execution against the real engine: a fixture repository (tests/fixtures/ledger)
whose buggy function, money.to_hundredths, the issue never names. Retrieval ranks it outside its
top 5; the failing test's coverage, weighed against the passing tests', ranks it first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_git_repo

pytestmark = pytest.mark.docker

LEDGER = Path(__file__).resolve().parent / "fixtures" / "ledger"
FAILING = "tests/test_invoice.py::test_total_when_tax_is_half_way"
BUGGY = ("ledger/money.py", "to_hundredths")
# A test that raises inside the library (a ValueError in ledger/parse_once.py), beside one that passes.
PARSE_FILES = {
    "ledger/parse_once.py": "def parse(text):\n    return int(text)\n",
    "tests/test_parse_once.py": "from ledger.parse_once import parse\n\n\n"
                                "def test_parse_words():\n    assert parse('ten') == 10\n\n\ndef test_digits():\n    assert parse('10') == 10\n",
}
PARSE_FAILING = "tests/test_parse_once.py::test_parse_words"


def ledger_files() -> dict[str, str]:
    return {p.relative_to(LEDGER).as_posix(): p.read_text() for p in sorted(LEDGER.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def ledger_repo(tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("ledger")
    return root, make_git_repo(root, ledger_files())


@pytest.fixture(scope="module")
def ledger_box(ledger_repo, bookworm_base_image, sandbox_cache_dir, tmp_path_factory):
    from patchsmith.sandbox import Container, build_env_image

    root, commit = ledger_repo
    env = build_env_image(root, commit, cache_dir=sandbox_cache_dir, log_path=tmp_path_factory.mktemp("env") / "build.log")
    with Container(env.tag).start(root, commit) as box:
        yield box


def issue_text() -> str:
    return (LEDGER / "ISSUE.md").read_text()


def test_coverage_runs_give_each_test_its_lines_and_outcome(ledger_box, sandbox_cache_dir):
    from patchsmith.sandbox.coverage import bring_coverage, run_tests_covered

    bring_coverage(ledger_box, sandbox_cache_dir)
    covered = run_tests_covered(ledger_box, ["tests/test_invoice.py", "tests/test_invoice.py::test_does_not_exist"])

    assert covered.runs[FAILING].failed and covered.runs[FAILING].status == "failed"
    passing = [r for r in covered.runs.values() if r.status == "passed"]
    assert len(passing) == 6
    assert covered.runs["tests/test_invoice.py::test_does_not_exist"].status == "missing"
    # Only the repository's own files, never the environment's packages; a test's lines are its own.
    lines = covered.runs[FAILING].lines
    assert set(lines) >= {"ledger/money.py", "ledger/tax.py", "ledger/invoice.py"}
    assert all(not path.startswith(("/", "opt/", "usr/")) for run in covered.runs.values() for path in run.lines)
    source = (LEDGER / "ledger" / "money.py").read_text().splitlines()
    last_return = len(source) - source[::-1].index("    return floor")  # reached only when 0 < rest <= 0.5
    assert last_return in lines["ledger/money.py"]
    assert all(last_return not in r.lines.get("ledger/money.py", ()) for r in passing)
    # The same selection without coverage (the bench's baseline): outcomes, no lines.
    plain = run_tests_covered(ledger_box, [FAILING, "tests/test_invoice.py::test_empty_invoice"], measure=False)
    assert {t: r.status for t, r in plain.runs.items()} == {FAILING: "failed", "tests/test_invoice.py::test_empty_invoice": "passed"}
    assert all(not r.lines for r in plain.runs.values())
    # coverage came in at run time: the image itself has none.
    assert not ledger_box.exec("python -c 'import coverage'").ok


def test_named_failing_tests_run_last_so_work_done_once_goes_to_a_passing_test(ledger_box, sandbox_cache_dir):
    from patchsmith.sandbox.coverage import bring_coverage, run_tests_covered

    # A table filled on first use; the failing test comes first in its file.
    ledger_box.put_file("/testbed/ledger/rates_once.py",
                        "_TABLE = {}\n\n\ndef rate(name):\n    if not _TABLE:\n        _TABLE.update(std=2, low=1)\n    return _TABLE[name]\n")
    ledger_box.put_file("/testbed/tests/test_rates_once.py", "from ledger.rates_once import rate\n\n\n"
                        "def test_low_is_half():\n    assert rate('low') * 2 == 3\n\n\ndef test_std():\n    assert rate('std') == 2\n")
    failing, passing, fill = "tests/test_rates_once.py::test_low_is_half", "tests/test_rates_once.py::test_std", 6
    try:
        bring_coverage(ledger_box, sandbox_cache_dir)
        in_file_order = run_tests_covered(ledger_box, ["tests/test_rates_once.py"])
        failing_last = run_tests_covered(ledger_box, ["tests/test_rates_once.py"], run_last=[failing])
    finally:
        ledger_box.exec("rm -f /testbed/ledger/rates_once.py /testbed/tests/test_rates_once.py")

    ran = lambda covered: [t for t, r in covered.runs.items() if r.status != "missing"]  # noqa: E731 - in run order
    assert ran(in_file_order) == [failing, passing]
    assert fill in in_file_order.runs[failing].lines["ledger/rates_once.py"]
    assert ran(failing_last) == [passing, failing] and failing_last.runs[failing].failed
    assert fill in failing_last.runs[passing].lines["ledger/rates_once.py"]
    assert fill not in failing_last.runs[failing].lines["ledger/rates_once.py"]


def test_a_failing_test_keeps_its_output_which_names_the_file_it_raised_in(ledger_box, sandbox_cache_dir):
    from patchsmith.localize.failure_output import named_files
    from patchsmith.measure import measured_runs
    from patchsmith.reproduce import FailingTests
    from patchsmith.sandbox.coverage import bring_coverage

    for path, text in PARSE_FILES.items():
        ledger_box.put_file(f"/testbed/{path}", text)
    failing = PARSE_FAILING
    try:
        bring_coverage(ledger_box, sandbox_cache_dir)
        runs = measured_runs(ledger_box, FailingTests((failing,), ()), None, None, 30)
    finally:
        ledger_box.exec("rm -f /testbed/ledger/parse_once.py /testbed/tests/test_parse_once.py")

    failed, passed = [r for r in runs if r.failed], [r for r in runs if not r.failed]
    assert [r.name for r in failed] == [failing] and [r.name for r in passed] == ["tests/test_parse_once.py::test_digits"]
    assert "ValueError" in failed[0].output and passed[0].output == ""
    # pytest's report of the real run names the frame that raised; the test file is not a candidate.
    named = named_files(failed[0].output, {"ledger/parse_once.py", "ledger/money.py", "tests/test_parse_once.py"})
    assert [f.path for f in named] == ["ledger/parse_once.py"]


# A value whose __repr__ a failed assertion's message calls; line 9 is the body of __repr__.
POINT_FILES = {
    "ledger/point_once.py": "class Point:\n    def __init__(self, x):\n        self.x = x\n\n"
                            "    def __eq__(self, other):\n        return self.x == other.x\n\n"
                            "    def __repr__(self):\n        return 'Point(%r)' % self.x\n",
    "tests/test_point_once.py": "import unittest\nfrom ledger.point_once import Point\n\n\n"
                                "def test_plain_assert():\n    assert Point(1) == Point(2)\n\n\n"
                                "class PointTests(unittest.TestCase):\n    def test_assert_equal(self):\n"
                                "        self.assertEqual([Point(1)], [Point(2)])\n\n\n"
                                "def test_repr_itself():\n    assert repr(Point(1)) == 'Point(1)'\n",
}


def test_what_describes_a_failure_is_not_measured(ledger_box, sandbox_cache_dir):
    from patchsmith.sandbox.coverage import bring_coverage, run_tests_covered

    for path, text in POINT_FILES.items():
        ledger_box.put_file(f"/testbed/{path}", text)
    tests = ["tests/test_point_once.py::test_plain_assert", "tests/test_point_once.py::PointTests::test_assert_equal",
             "tests/test_point_once.py::test_repr_itself"]
    try:
        bring_coverage(ledger_box, sandbox_cache_dir)
        covered = run_tests_covered(ledger_box, tests)
    finally:
        ledger_box.exec("rm -f /testbed/ledger/point_once.py /testbed/tests/test_point_once.py")

    plain, unittest_style, itself = (covered.runs[test] for test in tests)
    assert plain.failed and unittest_style.failed and itself.status == "passed"
    # Both failures compared (line 6) and their messages called __repr__ (line 9); only the
    # comparison is the tests' execution. A test that calls repr() itself keeps line 9.
    for failed in (plain, unittest_style):
        assert 6 in failed.lines["ledger/point_once.py"] and 9 not in failed.lines["ledger/point_once.py"]
    assert 9 in itself.lines["ledger/point_once.py"]


def test_a_script_run_under_coverage_has_one_context(ledger_box, sandbox_cache_dir):
    from patchsmith.reproduce import run_script
    from patchsmith.sandbox.coverage import bring_coverage, covered_python, read_lines

    bring_coverage(ledger_box, sandbox_cache_dir)
    script = "from ledger import Invoice\nb = Invoice('x', '0.07'); b.add_line('w', '10.50')\nprint(b.total())\n"
    run = run_script(ledger_box, script, timeout=60, python=covered_python("repro"))
    assert "11.23" in run.output
    contexts = read_lines(ledger_box)
    assert list(contexts) == ["repro"]
    assert "ledger/money.py" in contexts["repro"] and contexts["repro"]["ledger/report.py"] == (1, 4, 9, 19)  # imports only


def test_execution_ranks_the_unnamed_buggy_function_first(ledger_repo, ledger_box, sandbox_cache_dir):
    from patchsmith import repo_index
    from patchsmith.llm import DryRunModel
    from patchsmith.localize import LocalizeSettings, localize
    from patchsmith.sandbox.coverage import bring_coverage, run_tests_covered

    root, commit = ledger_repo
    index = repo_index.build_index(str(root), commit=commit)
    issue = issue_text()
    settings = LocalizeSettings(max_elements=30)
    retrieval = [(h.path, h.qualname) for h in repo_index.search_definitions(index, issue, k=50)]
    assert BUGGY not in retrieval[:5]
    assert "to_hundredths" not in issue

    bring_coverage(ledger_box, sandbox_cache_dir)
    runs = list(run_tests_covered(ledger_box, ["tests/test_invoice.py"]).runs.values())
    model = DryRunModel("openai/none", context_window=32_000)
    plain = localize(index, issue, model, settings)
    fused = localize(index, issue, model, settings, runs=runs)

    assert plain.execution is None and "execution" not in plain.elements.rankings
    top = fused.execution.elements[0]
    assert (top.element.path, top.element.qualname) == BUGGY and top.score == 1.0
    assert fused.execution.files[0].path == "ledger/money.py"
    assert all(not f.path.startswith("tests/") for f in fused.execution.files)
    keys = [(e.path, e.qualname) for e in fused.elements.elements]
    assert BUGGY in keys[:5] and BUGGY not in [(e.path, e.qualname) for e in plain.elements.elements][:5]
    assert "ledger/money.py" in fused.files.paths[:3] and "ledger/money.py" not in plain.files.paths[:3]
    # localize.json keeps every signal's ranking and the fused one, and reads back the same.
    data = fused.to_json()
    assert data["elements"]["rankings"]["execution"][0] == "ledger/money.py::to_hundredths"
    assert data["elements"]["rankings"]["retrieval"]
    assert data["files"]["execution_files"][0] == "ledger/money.py"
    assert type(fused).from_json(json.loads(json.dumps(data))) == fused


def test_the_element_prompt_shows_what_the_failing_run_executed():
    from patchsmith.localize.prompts import elements_prompt

    shown = elements_prompt("issue", ["### a.py\ndef f(): ..."], ["a.py::f 0.91"])[-1]["content"]
    assert "<executed>\na.py::f 0.91\n</executed>" in shown
    assert "<executed>" not in elements_prompt("issue", ["### a.py\ndef f(): ..."])[-1]["content"]
