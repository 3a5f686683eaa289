"""Grading a parsed test log as the official SWE-bench harness does.

An instance is resolved only when every FAIL_TO_PASS and every PASS_TO_PASS test succeeds.
The rules are those of the official package's version GRADING_RULES (5.x): PASSED and XFAIL
pass; a test missing from the log, FAILED or ERROR fails. A SKIPPED test fails when it is a
FAIL_TO_PASS test (skipping is not fixing) and is kept when it is a PASS_TO_PASS test (skipping
is not breaking). 4.x let a skipped FAIL_TO_PASS test land in neither list, so it resolved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from patchsmith.sandbox import TestStatus

# Where the rules come from; every report records it, and a grade is reused only under the same rules.
GRADING_RULES = "swebench 5.0.2"
PASSING = (TestStatus.PASSED, TestStatus.XFAIL)
# Statuses our parsers read in a log where the official parser of that log format reads nothing
# (Django's and unittest's "expected failure", sympy's `f`, `s` and `w`): the official harness
# then counts the test as missing, so it fails. Graded as it grades, they are dropped. We read
# one thing more and keep it: sympy's last test of a file, on the line of the file's `[OK]`. The
# dataset's lists were made with the official parser, which misses that line, so no such test is
# listed (tests/test_swebench_official.py checks our grades of real logs against the official ones).
UNREAD_BY_OFFICIAL = {
    "django": (TestStatus.XFAIL,),
    "unittest": (TestStatus.XFAIL,),
    "sympy": (TestStatus.XFAIL, TestStatus.SKIPPED),
}


def official_view(statuses: Mapping[str, TestStatus], parser: str) -> dict[str, TestStatus]:
    """The statuses the official parser of the same log would have read."""
    unread = UNREAD_BY_OFFICIAL.get(parser, ())
    return {test: status for test, status in statuses.items() if status not in unread}


def status_of(test: str, statuses: Mapping[str, TestStatus]) -> TestStatus | None:
    """The test's status; for an id cut inside its parameters (SWE-bench records some so), the
    status of the ids it begins, when they all agree on passing or not (the 5.x rule)."""
    if test in statuses or test.count("[") <= test.count("]"):
        return statuses.get(test)
    matching = [status for name, status in statuses.items() if name.startswith(test)]
    if matching and len({status in PASSING for status in matching}) == 1:
        return matching[0]
    return None


def passes(test: str, statuses: Mapping[str, TestStatus]) -> bool:
    return status_of(test, statuses) in PASSING


def kept(test: str, statuses: Mapping[str, TestStatus]) -> bool:
    """A PASS_TO_PASS test succeeds when it passes or is skipped."""
    return status_of(test, statuses) in (*PASSING, TestStatus.SKIPPED)


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


def _split(tests: Iterable[str], succeeded) -> tuple[tuple[str, ...], tuple[str, ...]]:
    success: list[str] = []
    failure: list[str] = []
    for test in tests:
        (success if succeeded(test) else failure).append(test)
    return tuple(success), tuple(failure)


def grade(statuses: Mapping[str, TestStatus], fail_to_pass: Iterable[str], pass_to_pass: Iterable[str]) -> Grade:
    """Grade a parsed log against an instance's two test lists."""
    f2p_success, f2p_failure = _split(fail_to_pass, lambda test: passes(test, statuses))
    p2p_success, p2p_failure = _split(pass_to_pass, lambda test: kept(test, statuses))
    return Grade(f2p_success, f2p_failure, p2p_success, p2p_failure)
