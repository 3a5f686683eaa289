"""The pipeline's measuring step: which runs go under coverage, and what a candidate may not touch
when the user named failing tests."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class MeasureSettings:
    passing_runs: int = 30  # regression tests measured under coverage as the passing runs (a fixed-seed sample)


def measure_reproduction(box, failing, script, regression, settings: MeasureSettings = MeasureSettings()) -> tuple:  # noqa: ANN001 - stage results
    """The reproduction and a sample of the regression tests under coverage; () without a reproduction."""
    from patchsmith.sandbox.coverage import bring_coverage
    from patchsmith.paths import cache_root

    if failing is None and script is None:
        return ()
    bring_coverage(box, cache_root() / "sandbox")
    return measured_runs(box, failing, script, regression, settings.passing_runs)


def summary(runs: tuple) -> str:
    if not runs:
        return "no reproduction to measure"
    failed = sum(run.failed for run in runs)
    return f"{failed} failing and {len(runs) - failed} passing runs under coverage"


def measured_runs(box, failing, script, regression, passing_runs: int) -> tuple:  # noqa: ANN001 - stage results
    """The failing runs (the named tests, else the chosen script) and up to `passing_runs` passing
    tests, sampled with a fixed seed from the regression set and, with named tests, the other tests
    of their files. Named tests (pytest node ids) run under pytest; with a script, the regression
    tests run under the runner they were selected with (passing_tests)."""
    from patchsmith.reproduce import REPRODUCED, run_script
    from patchsmith.sandbox.coverage import CoveredRun, covered_python, read_lines, run_tests_covered

    regression_ids = list(regression.tests) if regression is not None and regression.parser == "pytest" else []
    if failing is not None:
        covered = run_tests_covered(box, [*failing.tests, *sample(regression_ids, passing_runs), *failing.files],
                                    run_last=failing.tests)
        named = set(failing.tests)
        passed = [r for r in covered.runs.values() if r.status == "passed" and r.name not in named]
        failed = [replace(covered.runs[t], output=covered.log) for t in failing.tests if covered.runs[t].failed]
        return tuple(failed) + tuple(sample(passed, passing_runs))
    runs: list = []
    result = run_script(box, script.script, timeout=script.timeout, python=covered_python("reproduction script"))
    if result.verdict == REPRODUCED:
        runs.append(CoveredRun("reproduction script", True, read_lines(box).get("reproduction script", {}), result.verdict,
                               output=result.output))
    if regression is not None and regression.tests:
        runs += passing_tests(box, regression, sample(list(regression.tests), passing_runs))
    return tuple(runs)


def passing_tests(box, regression, tests: list[str]) -> list:  # noqa: ANN001 - stage results
    """`tests` of the regression set that pass under coverage: under pytest one context per node id;
    under any other runner (Django's runtests.py, sympy's bin/test, unittest) the set's own command
    on its files, one context per test function (sandbox.coverage_command)."""
    import shlex

    from patchsmith.sandbox.coverage import run_tests_covered
    from patchsmith.sandbox.coverage_command import run_command_covered

    if regression.parser == "pytest":
        covered = run_tests_covered(box, tests)
    else:
        command = " ".join([regression.command, *map(shlex.quote, regression.test_args or regression.test_files)])
        covered = run_command_covered(box, command, regression.parser, tests)
    return [run for run in covered.runs.values() if run.status == "passed"]


def sample(items: list, limit: int) -> list:
    """At most `limit` of `items`, the same ones every time (a fixed seed), in their own order."""
    import random

    if len(items) <= limit:
        return list(items)
    chosen = set(random.Random(0).sample(range(len(items)), limit))
    return [item for position, item in enumerate(items) if position in chosen]


def keep_tests_unedited(candidates: tuple, test_files: tuple[str, ...]) -> tuple:
    """Candidates that edit a file holding a named failing test are rejected: they may not change the evidence."""
    kept = []
    for candidate in candidates:
        touched = sorted(set(candidate.edit.files) & set(test_files)) if candidate.edit.ok else []
        if touched:
            edit = replace(candidate.edit, ok=False, reason=f"edits {', '.join(touched)}, which holds a named failing test")
            candidate = replace(candidate, edit=edit)
        kept.append(candidate)
    return tuple(kept)

