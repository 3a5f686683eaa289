"""Reading a test run's log: {test id: status} for pytest, unittest, Django's runner and sympy's bin/test.

Test ids are the ones each runner prints, which are also the ids SWE-bench's FAIL_TO_PASS and
PASS_TO_PASS lists use:
- pytest: the node id as the `-rA` summary (or a verbose line) prints it, cut at the first blank,
  e.g. `tests/test_a.py::TestX::test_y[1-2]`;
- unittest and Django: the description before ` ... `, which is `test_y (module.TestX)` (Python 3.11
  adds the method name: `test_y (module.TestX.test_y)`), or the first docstring line when the test
  has a docstring;
- sympy: the bare function name, `test_y`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum


class TestStatus(str, Enum):
    """A test's outcome; PASSED and XFAIL count as passing when grading."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    PASSED = "PASSED"
    FAILED = "FAILED"
    ERROR = "ERROR"
    SKIPPED = "SKIPPED"
    XFAIL = "XFAIL"


class LogParserError(Exception):
    """An unknown parser name."""

    user_error = True


# Colour codes, when a runner was forced to colour its output.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PYTEST_WORDS = "|".join(status.value for status in TestStatus)
# Short summary (`-rA`) lines put the status first; verbose lines (`-v`) put it after the node id.
_PYTEST_STATUS_FIRST = re.compile(rf"^({_PYTEST_WORDS}) +(\S+)")
_PYTEST_ID_FIRST = re.compile(rf"^(\S+) +({_PYTEST_WORDS})(?: |$)")


def parse_pytest(log_text: str) -> dict[str, TestStatus]:
    statuses: dict[str, TestStatus] = {}
    for raw_line in log_text.splitlines():
        line = _ANSI.sub("", raw_line).rstrip()
        match = _PYTEST_STATUS_FIRST.match(line)
        if match:
            word, test_id = match.groups()
            # `SKIPPED [3] path:line: reason` counts skips per location and names no test.
            if word == "SKIPPED" and test_id.startswith("["):
                continue
        else:
            match = _PYTEST_ID_FIRST.match(line)
            if not match or "::" not in match.group(1) and not match.group(1).endswith(".py"):
                continue
            test_id, word = match.groups()
        statuses[test_id] = TestStatus(word)
    return statuses


# What unittest prints after ` ... ` (or alone on a later line when the test wrote output first).
_UNITTEST_RESULTS = {
    "ok": TestStatus.PASSED,
    "OK": TestStatus.PASSED,
    "FAIL": TestStatus.FAILED,
    "ERROR": TestStatus.ERROR,
    "expected failure": TestStatus.XFAIL,
}
_UNITTEST_HEADER = re.compile(r"^(FAIL|ERROR): (.+)$")


def _unittest_result(text: str) -> TestStatus | None:
    text = text.strip()
    if text in _UNITTEST_RESULTS:
        return _UNITTEST_RESULTS[text]
    if text.startswith("skipped"):
        return TestStatus.SKIPPED
    return None


def parse_unittest(log_text: str) -> dict[str, TestStatus]:
    """unittest's verbose output (`-v`, or Django's `--verbosity 2`)."""
    statuses: dict[str, TestStatus] = {}
    waiting: str | None = None  # a test whose result line was pushed down by its own output
    for raw_line in log_text.splitlines():
        line = _ANSI.sub("", raw_line).strip()
        if " ... " in line:
            test_id, rest = line.split(" ... ", 1)
            result = _unittest_result(rest)
            if result is None:
                waiting = test_id
            else:
                statuses[test_id] = result
                waiting = None
            continue
        result = _unittest_result(line)
        if result is not None and waiting is not None:
            statuses[waiting] = result
            waiting = None
            continue
        header = _UNITTEST_HEADER.match(line)
        if header:
            # The failure report names the test again; it keeps a result whose inline line was garbled.
            word, test_id = header.groups()
            statuses.setdefault(test_id, TestStatus.FAILED if word == "FAIL" else TestStatus.ERROR)
    return statuses


def parse_django(log_text: str) -> dict[str, TestStatus]:
    """Django's tests/runtests.py prints unittest's verbose format; its tests often write output
    between ` ... ` and the result (system checks, server errors, the version), which
    parse_unittest follows to the result line."""
    return parse_unittest(log_text)


_SYMPY_RESULTS = {
    "ok": TestStatus.PASSED,
    "F": TestStatus.FAILED,
    "E": TestStatus.ERROR,
    "f": TestStatus.XFAIL,
    "s": TestStatus.SKIPPED,
    "w": TestStatus.SKIPPED,  # skipped as slow
}
# The last test of a file carries the file's verdict on the same line: `test_z ok      [FAIL]`.
_SYMPY_LINE = re.compile(r"^\s*(test_\w+)\s+(ok|F|E|f|s|w)(?:\s+\[(?:OK|FAIL)\])?\s*$")


def parse_sympy(log_text: str) -> dict[str, TestStatus]:
    """sympy's `bin/test --verbose`: one `test_name ok|F|E|f|s|w` line per test, indented under its file."""
    statuses: dict[str, TestStatus] = {}
    for raw_line in log_text.splitlines():
        match = _SYMPY_LINE.match(_ANSI.sub("", raw_line))
        if match:
            statuses[match.group(1)] = _SYMPY_RESULTS[match.group(2)]
    return statuses


PARSERS: dict[str, Callable[[str], dict[str, TestStatus]]] = {
    "pytest": parse_pytest,
    "unittest": parse_unittest,
    "django": parse_django,
    "sympy": parse_sympy,
}


def parse_log(log_text: str, parser_name: str) -> dict[str, TestStatus]:
    """Map each test named in `log_text` to its status, read with the parser `parser_name`."""
    try:
        parser = PARSERS[parser_name]
    except KeyError:
        raise LogParserError(f"unknown log parser {parser_name!r}; choose one of {', '.join(PARSERS)}.") from None
    return parser(log_text)


# `test_y (module.TestX.test_y)`, the form unittest prints from Python 3.11 on.
_METHOD_NAMED_ID = re.compile(r"^(\w+) \(([\w.]+)\.\1\)$")
_CLASS_NAMED_ID = re.compile(r"^(\w+) \(([\w.]+)\)$")


def with_both_unittest_forms(statuses: dict[str, TestStatus]) -> dict[str, TestStatus]:
    """Each unittest id also under the other Python's form: `test_y (module.TestX.test_y)` (3.11 and
    later) as `test_y (module.TestX)` (before), and the reverse. A dataset records the ids of the
    Python it ran on; an environment chosen from the project's own metadata may run another one.
    An id the log itself printed is never replaced."""
    both = dict(statuses)
    for test_id, status in statuses.items():
        newer = _METHOD_NAMED_ID.match(test_id)
        if newer:
            both.setdefault(f"{newer.group(1)} ({newer.group(2)})", status)
            continue
        older = _CLASS_NAMED_ID.match(test_id)
        if older:
            both.setdefault(f"{older.group(1)} ({older.group(2)}.{older.group(1)})", status)
    return both


_PATH_PARAMETER = re.compile(r"^(.*?)\[(/[^/*][^*]*)\]$")


def shorten_path_parameters(statuses: dict[str, TestStatus]) -> dict[str, TestStatus]:
    """Cut an absolute-path parameter to its last component (`t[/tmp/x/a.py]` -> `t[/a.py]`).

    Some suites parametrize tests with temporary paths that change from run to run; benchmarks that
    record such ids (SWE-bench does for pylint and requests) record the short form.
    """
    shortened: dict[str, TestStatus] = {}
    for test_id, status in statuses.items():
        match = _PATH_PARAMETER.match(test_id)
        if match:
            test_id = f"{match.group(1)}[/{match.group(2).rsplit('/', 1)[-1]}]"
        shortened[test_id] = status
    return shortened
