"""Tests the user names as showing the bug (`--failing-test`): the reproduction, with no script.

Their verdict is their outcome: "reproduced" while any of them fails, "resolved" once all pass.
A named test that passes at the base commit shows nothing, so it is an error, as is one the test
command does not find.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from patchsmith.reproduce.regression import PASSING, TestRunner
from patchsmith.reproduce.results import REPRODUCED, RESOLVED, _JsonMixin


class FailingTestError(Exception):
    user_error = True


@dataclass(frozen=True)
class FailingTests(_JsonMixin):
    tests: tuple[str, ...]  # as the user named them (pytest node ids)
    statuses_at_base: tuple[tuple[str, str], ...]  # (test, status) at the base commit
    output_at_base: str = ""

    @property
    def files(self) -> tuple[str, ...]:
        """The files that hold the named tests: a candidate may not edit them."""
        return tuple(dict.fromkeys(test.split("::")[0] for test in self.tests))


def run_failing_tests(tests: TestRunner, named: Sequence[str], *, timeout: float) -> tuple[str, str, dict[str, str]]:
    """(verdict, output tail, statuses): run the named tests where `tests` runs (after a candidate, or at base)."""
    run = tests.run_tests(list(named), timeout=timeout)
    statuses = {test: run.statuses.get(test, "MISSING") for test in named}
    verdict = RESOLVED if all(status in PASSING for status in statuses.values()) else REPRODUCED
    return verdict, run.log[-2000:], statuses


def check_at_base(tests: TestRunner, named: Sequence[str], *, timeout: float) -> FailingTests:
    """The named tests at the base commit; each must run and fail there."""
    _, output, statuses = run_failing_tests(tests, named, timeout=timeout)
    for test, status in statuses.items():
        if status == "MISSING":
            raise FailingTestError(f"the failing test {test} was not found by the test command at the base commit")
        if status in PASSING:
            raise FailingTestError(f"the failing test {test} already passes at the base commit, so it cannot show the bug")
    return FailingTests(tuple(named), tuple(statuses.items()), output)
