"""A suite's own test command under coverage (sandbox.coverage_command), for runners pytest does
not drive (Django's runtests.py, sympy's bin/test): real engine, the ledger fixture, a small
unittest runner that, like sympy's, has a function of its own named `test` and re-runs itself
in a child process."""

from __future__ import annotations

import pytest

from tests.test_localize_execution import LEDGER, POINT_FILES, ledger_box, ledger_repo  # noqa: F401 - fixtures

RUNNER = '''import os, subprocess, sys, unittest


def test(names):
    """The runner's entry point: named like a test, as sympy's runtests.test is."""
    if not os.environ.get("RUNNER_CHILD"):
        # Run again in a child process, as sympy does to set hash randomization.
        return subprocess.call([sys.executable, __file__, *names], env={**os.environ, "RUNNER_CHILD": "1"})
    sys.path.insert(0, os.getcwd())
    result = unittest.TextTestRunner(verbosity=2).run(unittest.defaultTestLoader.loadTestsFromNames(names))
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(test(sys.argv[1:]))
'''

UNITS = '''import unittest
from decimal import Decimal

from ledger import Invoice


def bill(amount, rate):
    made = Invoice("acme", rate)
    made.add_line("widgets", amount)
    return made


class Totals(unittest.TestCase):
    def test_half_way(self):
        self.assertEqual(bill("10.50", "0.07").total(), Decimal("11.24"))

    def test_without_tax(self):
        self.assertEqual(bill("10.00", "0").total(), Decimal("10.00"))

    def test_amounts(self):
        for amount, total in (("10.00", "10.70"), ("10.50", "11.24")):
            with self.subTest(amount=amount):
                self.assertEqual(bill(amount, "0.07").total(), Decimal(total))
'''

COMMAND = "python runner/runtests.py tests.test_units"
HALF_WAY = "test_half_way (tests.test_units.Totals.test_half_way)"  # Python 3.11's unittest id
WITHOUT_TAX = "test_without_tax (tests.test_units.Totals)"  # the older form, as Django 3.x logs have it
AMOUNTS = "test_amounts (tests.test_units.Totals.test_amounts)"


@pytest.mark.docker
def test_each_test_of_a_foreign_runner_gets_its_own_lines_and_outcome(ledger_box, sandbox_cache_dir):  # noqa: F811
    from patchsmith.sandbox.coverage import bring_coverage
    from patchsmith.sandbox.coverage_command import run_command_covered

    ledger_box.put_files({"runner/runtests.py": RUNNER, "tests/test_units.py": UNITS})
    bring_coverage(ledger_box, sandbox_cache_dir)
    wanted = [HALF_WAY, WITHOUT_TAX, AMOUNTS, "test_gone (tests.test_units.Totals)"]
    covered = run_command_covered(ledger_box, COMMAND, "unittest", wanted)

    runs = covered.runs
    assert (runs[HALF_WAY].status, runs[HALF_WAY].failed) == ("failed", True)
    assert (runs[WITHOUT_TAX].status, runs[WITHOUT_TAX].failed) == ("passed", False)
    # A subtest's failure is logged under another name: the test ran, so it has lines, and the
    # caller decides; it never counts as failing by itself.
    assert (runs[AMOUNTS].status, runs[AMOUNTS].failed) == ("unreported", False) and runs[AMOUNTS].lines
    assert runs["test_gone (tests.test_units.Totals)"].status == "missing"
    # Measured in the child process, per test: the runner's own `test` function holds no test's
    # lines (with coverage's test_function contexts it would hold all of them).
    source = (LEDGER / "ledger" / "money.py").read_text().splitlines()
    last_return = len(source) - source[::-1].index("    return floor")  # reached only when 0 < rest <= 0.5
    assert last_return in runs[HALF_WAY].lines["ledger/money.py"]
    assert last_return not in runs[WITHOUT_TAX].lines["ledger/money.py"]
    assert "runner/runtests.py" not in runs[HALF_WAY].lines
    # The same command without coverage: outcomes from the log, no lines, and no coverage loaded.
    plain = run_command_covered(ledger_box, COMMAND + "; python -c 'import coverage'", "unittest", [HALF_WAY, WITHOUT_TAX],
                                measure=False)
    assert {t: r.status for t, r in plain.runs.items()} == {HALF_WAY: "failed", WITHOUT_TAX: "passed"}
    assert all(not r.lines for r in plain.runs.values())
    assert "No module named 'coverage'" in plain.log


POINT_UNITS = '''import unittest

from ledger.point_once import Point


class Points(unittest.TestCase):
    def test_equal(self):
        self.assertEqual([Point(1)], [Point(2)])

    def test_repr(self):
        self.assertEqual(repr(Point(1)), "Point(1)")
'''


@pytest.mark.docker
def test_what_unittest_runs_to_describe_a_failure_is_not_measured(ledger_box, sandbox_cache_dir):  # noqa: F811
    from patchsmith.sandbox.coverage import bring_coverage
    from patchsmith.sandbox.coverage_command import run_command_covered

    ledger_box.put_files({"runner/runtests.py": RUNNER, "tests/test_point_units.py": POINT_UNITS,
                          "ledger/point_once.py": POINT_FILES["ledger/point_once.py"]})
    bring_coverage(ledger_box, sandbox_cache_dir)
    equal, itself = "test_equal (tests.test_point_units.Points)", "test_repr (tests.test_point_units.Points)"
    try:
        covered = run_command_covered(ledger_box, "python runner/runtests.py tests.test_point_units", "unittest", [equal, itself])
    finally:
        ledger_box.exec("rm -f /testbed/ledger/point_once.py /testbed/tests/test_point_units.py")

    # The failure's message called __repr__ (line 9) in the child process; only the comparison
    # (line 6) is the test's. The test that calls repr() keeps line 9.
    assert covered.runs[equal].failed and covered.runs[itself].status == "passed"
    assert 6 in covered.runs[equal].lines["ledger/point_once.py"] and 9 not in covered.runs[equal].lines["ledger/point_once.py"]
    assert 9 in covered.runs[itself].lines["ledger/point_once.py"]


def test_test_ids_join_the_contexts_named_after_test_functions():
    from patchsmith.sandbox.coverage_command import context_name, join_contexts

    assert context_name("test_x (app.tests.Case)") == "app.tests.Case.test_x"
    assert context_name("test_x (app.tests.Case.test_x)") == "app.tests.Case.test_x"
    assert context_name("test_x") == "test_x"
    contexts = {"app.tests.Case.test_x": {"app/a.py": (1, 2)}, "None.test_y": {"app/a.py": (3,)},
                "other.test_y": {"app/b.py": (4,)}, "app.tests.Case.test_xx": {"app/c.py": (5,)}}
    joined = join_contexts(["test_x (app.tests.Case)", "test_y", "test_z"], contexts)
    # a bare name (sympy's) matches its name in each measured file; a longer name never matches
    assert joined == {"test_x (app.tests.Case)": {"app/a.py": (1, 2)}, "test_y": {"app/a.py": (3,), "app/b.py": (4,)}}


DOCUMENTED = '''import unittest
from decimal import Decimal

from ledger import Invoice


class Documented(unittest.TestCase):
    def test_half_way(self):
        """A total half way between two cents rounds up.

        The log names this test by the line above, as Django's ids in SWE-bench do."""
        made = Invoice("acme", "0.07")
        made.add_line("widgets", "10.50")
        self.assertEqual(made.total(), Decimal("11.24"))
'''
DOCUMENTED_ID = "A total half way between two cents rounds up."


@pytest.mark.docker
def test_a_test_the_log_names_by_its_docstring_is_found_and_measured(ledger_box, sandbox_cache_dir):  # noqa: F811
    from patchsmith.sandbox.coverage import bring_coverage
    from patchsmith.sandbox.coverage_command import docstring_names, run_command_covered

    ledger_box.put_files({"runner/runtests.py": RUNNER, "tests/test_documented.py": DOCUMENTED})
    bring_coverage(ledger_box, sandbox_cache_dir)
    docstrings = docstring_names(ledger_box, ["tests.test_documented", "tests.not_there"])
    assert docstrings == {DOCUMENTED_ID: "tests.test_documented.Documented.test_half_way"}

    command = "python runner/runtests.py tests.test_documented"
    found = run_command_covered(ledger_box, command, "unittest", [DOCUMENTED_ID], docstrings=docstrings).runs[DOCUMENTED_ID]
    assert (found.status, found.failed) == ("failed", True)
    source = (LEDGER / "ledger" / "money.py").read_text().splitlines()
    assert len(source) - source[::-1].index("    return floor") in found.lines["ledger/money.py"]
    # Without the names, the log's line cannot be joined to the test's context.
    assert run_command_covered(ledger_box, command, "unittest", [DOCUMENTED_ID]).runs[DOCUMENTED_ID].status == "unmatched"


@pytest.mark.docker
def test_a_script_reproduction_gets_passing_runs_from_a_regression_set_of_another_runner(ledger_box, sandbox_cache_dir):  # noqa: F811
    from patchsmith.measure import measured_runs
    from patchsmith.reproduce import RegressionSet, ReproTest
    from patchsmith.sandbox.coverage import bring_coverage

    ledger_box.put_files({"runner/runtests.py": RUNNER, "tests/test_units.py": UNITS})
    bring_coverage(ledger_box, sandbox_cache_dir)
    script = ("from decimal import Decimal\nfrom ledger import Invoice\nmade = Invoice('acme', '0.07')\n"
              "made.add_line('widgets', '10.50')\n"
              "print('PATCHSMITH_VERDICT: ' + ('resolved' if made.total() == Decimal('11.24') else 'reproduced'))\n")
    chosen = ReproTest(script=script, output_at_base="", sample=0, votes=1, timeout=120)
    regression = RegressionSet(tests=(WITHOUT_TAX, HALF_WAY), test_files=("tests/test_units.py",), parser="unittest",
                               command="python runner/runtests.py", seconds_at_base=1.0, budget_seconds=60.0,
                               test_args=("tests.test_units",))
    runs = measured_runs(ledger_box, None, chosen, regression, 30)

    assert [(r.name, r.failed) for r in runs] == [("reproduction script", True), (WITHOUT_TAX, False)]
    assert "ledger/money.py" in runs[1].lines  # measured by the runner's own command, one context per test


@pytest.mark.docker
def test_a_command_stopped_at_its_time_limit_says_so(ledger_box, sandbox_cache_dir):  # noqa: F811
    from patchsmith.sandbox.coverage import bring_coverage
    from patchsmith.sandbox.coverage_command import run_command_covered

    bring_coverage(ledger_box, sandbox_cache_dir)
    stopped = run_command_covered(ledger_box, "sleep 60", "unittest", [HALF_WAY], timeout=2)
    assert stopped.timed_out and stopped.runs[HALF_WAY].status == "missing"
    assert not run_command_covered(ledger_box, "true", "unittest", [HALF_WAY], timeout=60, measure=False).timed_out
