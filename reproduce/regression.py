"""Regression tests: related tests that pass at the base commit, minus those the fix may change,
within a time budget."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from patchsmith.reproduce.context import Locations, location_paths
from patchsmith.reproduce.discovery import related_test_files
from patchsmith.reproduce.ports import ReproduceModel
from patchsmith.reproduce.results import RegressionSet

STAGE = "regression"
PASSING = ("PASSED", "XFAIL")  # as graded by SWE-bench: an expected failure counts as passing


class TestRunResult(Protocol):
    """One run of some test files (sandbox.TestRun): {test id: status} as the log parser read it."""

    statuses: dict[str, str]
    log: str
    duration: float
    timed_out: bool


@runtime_checkable
class TestRunner(Protocol):
    """Runs the repository's tests in the sandbox; `command` and `parser` are recorded in the result."""

    command: str
    parser: str

    def label(self, path: str) -> str: ...  # the argument that names a test file to `command`

    def run_tests(self, files: Sequence[str], *, timeout: float) -> TestRunResult: ...


def path_label(path: str) -> str:
    return path


def django_label(path: str) -> str:
    """Django's runner takes dotted labels relative to its tests folder: tests/a/b.py -> a.b."""
    label = path[len("tests/"):] if path.startswith("tests/") else path
    return label.removesuffix(".py").replace("/", ".")


class CommandTestRunner:
    """A test command with the files appended, run by sandbox.run_tests and read by its log parser."""

    def __init__(
        self,
        container: object,
        command: str,
        parser: str,
        label: Callable[[str], str] = path_label,
        *,
        shorten_path_ids: bool = False,
    ) -> None:
        self.container, self.command, self.parser, self.label = container, command, parser, label
        self.shorten_path_ids = shorten_path_ids  # ids carrying temporary paths (see sandbox.log_parsers)

    def run_tests(self, files: Sequence[str], *, timeout: float) -> TestRunResult:
        from patchsmith.sandbox import run_tests

        run = run_tests(self.container, self.command, [self.label(f) for f in files], parser=self.parser, timeout=timeout)
        if self.shorten_path_ids:
            from patchsmith.sandbox.log_parsers import shorten_path_parameters

            run = replace(run, statuses=shorten_path_parameters(run.statuses))
        return run


@dataclass(frozen=True)
class RegressionSettings:
    # The selected files must run within this, at base.
    budget_seconds: float = field(default=120.0, metadata={"flag": "--test-budget", "positive": True, "help": "seconds the selected regression tests may take at the base commit"})
    discovery_seconds: float = 600.0  # all test runs at base together stop starting new files after this
    max_files: int = 10  # related test files tried, most related first
    ask_model: bool = True  # let the model name tests the fix may legitimately change
    max_prompt_tests: int = 400  # tests listed to the model (the rest are kept)


_REMOVAL_PROMPT = """# Issue

{issue}

# Existing tests that pass before the fix

{tests}

# Question

A correct fix for the issue will be checked against the tests above, which all pass today. Some of
them may assert the very behaviour the issue reports as wrong; a correct fix is allowed to change
their outcome. Name only those, one test id per line, exactly as listed. If there are none, answer NONE."""


def ask_removals(model: ReproduceModel, issue_text: str, tests: Sequence[str], limit: int) -> tuple[str, ...]:
    """Tests the model says the fix may legitimately change; only ids it was shown count."""
    shown = list(tests)[:limit]
    if not shown:
        return ()
    prompt = _REMOVAL_PROMPT.format(issue=issue_text.strip(), tests="\n".join(shown))
    answer = model.complete([{"role": "user", "content": prompt}], stage=STAGE, n=1, temperature=0.0)[0]
    known = set(shown)
    removed: list[str] = []
    for line in answer.splitlines():
        candidate = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s*", "", line).strip().strip("`'\",").strip()
        if candidate in known and candidate not in removed:
            removed.append(candidate)
    return tuple(removed)


def select_regression_tests(
    index: object,
    locations: Locations,
    tests: TestRunner,
    *,
    model: ReproduceModel | None = None,
    issue_text: str = "",
    settings: RegressionSettings = RegressionSettings(),
) -> RegressionSet:
    """Run the tests related to the localized files at the base commit, one file at a time (so a
    file that fails to import costs only itself and each file's time is known), keep the passing
    tests, drop the ones the model names, and keep whole files, most related first, within the budget."""
    candidates = related_test_files(index, location_paths(locations), settings.max_files)  # type: ignore[arg-type]
    started = time.monotonic()
    passing: dict[str, list[str]] = {}
    failing: list[str] = []
    file_seconds: list[tuple[str, float]] = []
    over_budget: list[str] = []  # files stopped at the budget: they can never be selected
    for path in candidates:
        remaining = settings.discovery_seconds - (time.monotonic() - started)
        if remaining <= 0:
            break
        # A file that alone outlasts the budget could never be selected: stop it there.
        run = tests.run_tests([path], timeout=min(remaining, settings.budget_seconds))
        file_seconds.append((path, round(run.duration, 3)))
        if run.timed_out:
            over_budget.append(path)
            continue
        passing[path] = [t for t, status in run.statuses.items() if status in PASSING]
        failing.extend(t for t, status in run.statuses.items() if status not in PASSING)
    all_passing = [test for path in passing for test in passing[path]]
    removed = ask_removals(model, issue_text, all_passing, settings.max_prompt_tests) if model and settings.ask_model else ()
    kept_files: list[str] = []
    dropped: list[str] = list(over_budget)
    used = 0.0
    for path, seconds in file_seconds:
        if path not in passing or not passing[path]:
            continue
        if used + seconds <= settings.budget_seconds:
            kept_files.append(path)
            used += seconds
        else:
            dropped.append(path)
    removed_set = set(removed)
    selected = tuple(t for path in kept_files for t in passing[path] if t not in removed_set)
    return RegressionSet(
        tests=selected,
        test_files=tuple(kept_files),
        test_args=tuple(tests.label(path) for path in kept_files),
        shorten_path_ids=bool(getattr(tests, "shorten_path_ids", False)),
        parser=tests.parser,
        command=tests.command,
        seconds_at_base=round(used, 3),
        budget_seconds=settings.budget_seconds,
        candidates=tuple(candidates),
        failing_at_base=tuple(failing),
        removed_by_model=tuple(removed),
        dropped_for_budget=tuple(dropped),
        file_seconds=tuple(file_seconds),
    )


def broken_tests(target: object, selection: RegressionSet, *, timeout: float | None = None) -> tuple[str, ...]:
    """The selected tests that no longer pass (after a candidate fix): what `repair` checks.

    `target` is the TestRunner the selection was made with, or just the container: the record
    carries the command, its arguments and the parser, so a RegressionSet read back from JSON
    is enough."""
    if not selection.test_files:
        return ()
    timeout = timeout or max(60.0, 3 * selection.seconds_at_base)
    if isinstance(target, TestRunner):
        statuses = target.run_tests(selection.test_files, timeout=timeout).statuses
    else:
        from patchsmith.sandbox import run_tests
        from patchsmith.sandbox.log_parsers import shorten_path_parameters

        args = list(selection.test_args or selection.test_files)
        statuses = run_tests(target, selection.command, args, parser=selection.parser, timeout=timeout).statuses
        if selection.shorten_path_ids:
            statuses = shorten_path_parameters(statuses)
    return tuple(t for t in selection.tests if statuses.get(t) not in PASSING)
