"""reproduce: reproduction scripts and regression-test selection (a stage).

It imports the leaves (repo_index, sandbox) and never patchsmith. The model and the sandbox reach
it as arguments (patchsmith.llm.Model, sandbox.Container): reproduce.ports names what it uses of them.

    report = sample_and_run(issue_text, locations, sandbox, model, index=index)   # every sample
    run = run_script(sandbox, test.script, timeout=test.timeout)                  # after a fix
    selection = select_regression_tests(index, locations, CommandTestRunner(sandbox, cmd, "pytest"), model=model, issue_text=issue_text)
    broken = broken_tests(container, selection)                                  # after a fix
    failing = check_at_base(runner, ["tests/t.py::test_bug"], timeout=60)       # --failing-test
"""

from patchsmith.reproduce.discovery import related_test_files
from patchsmith.reproduce.failing import FailingTestError, FailingTests, check_at_base, run_failing_tests
from patchsmith.reproduce.normalize import majority_groups, normalize_script
from patchsmith.reproduce.ports import ExecOutcome, ReproduceModel, Sandbox
from patchsmith.reproduce.regression import (
    CommandTestRunner,
    RegressionSettings,
    TestRunResult,
    TestRunner,
    broken_tests,
    django_label,
    select_regression_tests,
)
from patchsmith.reproduce.results import ERROR, REPRODUCED, RESOLVED, RegressionSet, ReproReport, ReproTest, ScriptRun
from patchsmith.reproduce.settings import ReproduceSettings
from patchsmith.reproduce.scripts import ReproSettings, extract_script, run_script, sample_and_run
from patchsmith.reproduce.verdict import judge

__all__ = [
    "ExecOutcome",
    "FailingTestError",
    "FailingTests",
    "check_at_base",
    "run_failing_tests",
    "CommandTestRunner",
    "ERROR",
    "ReproduceModel",
    "REPRODUCED",
    "RESOLVED",
    "RegressionSet",
    "RegressionSettings",
    "ReproReport",
    "ReproSettings",
    "ReproduceSettings",
    "ReproTest",
    "Sandbox",
    "ScriptRun",
    "TestRunResult",
    "TestRunner",
    "broken_tests",
    "django_label",
    "extract_script",
    "judge",
    "majority_groups",
    "normalize_script",
    "related_test_files",
    "run_script",
    "sample_and_run",
    "select_regression_tests",
]
