"""Running a repository's tests in a container and reading the result through the log parsers."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from patchsmith.sandbox.container import Container


@dataclass(frozen=True)
class TestRun:
    command: str
    statuses: dict[str, str] = field(default_factory=dict)  # test id -> PASSED | FAILED | ERROR | SKIPPED | XFAIL
    log: str = ""
    exit_code: int = 0
    timed_out: bool = False
    duration: float = 0.0

    def status(self, test_id: str) -> str | None:
        return self.statuses.get(test_id)

    @property
    def passed(self) -> list[str]:
        return [t for t, s in self.statuses.items() if s in ("PASSED", "XFAIL")]

    @property
    def failed(self) -> list[str]:
        return [t for t, s in self.statuses.items() if s in ("FAILED", "ERROR")]


def run_tests(
    container: Container,
    command: str,
    tests: list[str] | tuple[str, ...] = (),
    *,
    parser: str = "pytest",
    timeout: float = 1800,
    env: dict[str, str] | None = None,
) -> TestRun:
    """Run `command` followed by the test ids or files in `tests` (each shell-quoted), with the
    container off every network, and parse its log with the named parser ("pytest",
    "unittest", "django", "sympy")."""
    from patchsmith.sandbox.log_parsers import parse_log  # written alongside; imported late to keep import light

    if container.network:
        container.disconnect_network()  # tests never run with a network
    full = command + "".join(" " + shlex.quote(t) for t in tests)
    result = container.exec(full, timeout=timeout, env=env)
    statuses = {test: str(getattr(status, "value", status)) for test, status in parse_log(result.output, parser).items()}
    return TestRun(full, statuses, result.output, result.exit_code, result.timed_out, result.duration)
