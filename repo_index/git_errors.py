"""git's own reason for a failure, out of what GitPython captured, as the end of one sentence."""

from __future__ import annotations


def git_failure(stderr: str) -> str:
    """The first `fatal:` line of git's stderr, else its last line that says anything."""
    for line in stderr.splitlines():
        if "fatal:" in line:
            return line.split("fatal:", 1)[1].strip().strip("'").rstrip(".")
    lines = [line.strip().strip("'") for line in stderr.splitlines() if line.strip().strip("'")]
    return lines[-1] if lines else "git failed"
