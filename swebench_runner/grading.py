"""Grading a parsed test log as the official SWE-bench harness does.

An instance is resolved only when every FAIL_TO_PASS and every PASS_TO_PASS test passes.
PASSED and XFAIL pass; a test that is missing from the log, FAILED or ERROR fails. A SKIPPED
test is neither and lands in no list, so, as in the official harness, it does not block
resolution.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from patchsmith.sandbox.log_parsers import TestStatus

PASSING = (TestStatus.PASSED, TestStatus.XFAIL)
FAILING = (TestStatus.FAILED, TestStatus.ERROR)


def passes(test: str, statuses: Mapping[str, TestStatus]) -> bool:
    return statuses.get(test) in PASSING


def fails(test: str, statuses: Mapping[str, TestStatus]) -> bool:
    return test not in statuses or statuses[test] in FAILING


@dataclass(frozen=True)
class Grade:
    """Which listed tests passed and which failed after a patch."""

    fail_to_pass_success: tuple[str, ...]
    fail_to_pass_failure: tuple[str, ...]
    pass_to_pass_success: tuple[str, ...]
    pass_to_pass_failure: tuple[str, ...]

    @property
    def resolved(self) -> bool:
        # Official rule: the share of successes is 1 in both lists (an empty list counts as 1).
        return self._all_succeeded(self.fail_to_pass_success, self.fail_to_pass_failure) and self._all_succeeded(
            self.pass_to_pass_success, self.pass_to_pass_failure
        )

    @staticmethod
    def _all_succeeded(success: tuple[str, ...], failure: tuple[str, ...]) -> bool:
        return not failure if (success or failure) else True

    def tests_status(self) -> dict[str, dict[str, list[str]]]:
        """The official report's `tests_status` block."""
        return {
            "FAIL_TO_PASS": {"success": list(self.fail_to_pass_success), "failure": list(self.fail_to_pass_failure)},
            "PASS_TO_PASS": {"success": list(self.pass_to_pass_success), "failure": list(self.pass_to_pass_failure)},
            "FAIL_TO_FAIL": {"success": [], "failure": []},
            "PASS_TO_FAIL": {"success": [], "failure": []},
        }


def _split(tests: Iterable[str], statuses: Mapping[str, TestStatus]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    success: list[str] = []
    failure: list[str] = []
    for test in tests:
        if passes(test, statuses):
            success.append(test)
        elif fails(test, statuses):
            failure.append(test)
    return tuple(success), tuple(failure)


def grade(statuses: Mapping[str, TestStatus], fail_to_pass: Iterable[str], pass_to_pass: Iterable[str]) -> Grade:
    """Grade a parsed log against an instance's two test lists."""
    f2p_success, f2p_failure = _split(fail_to_pass, statuses)
    p2p_success, p2p_failure = _split(pass_to_pass, statuses)
    return Grade(f2p_success, f2p_failure, p2p_success, p2p_failure)
