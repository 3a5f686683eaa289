"""Judging a reproduction script's run from its output, exit status and time limit."""

from __future__ import annotations

import re

from patchsmith.reproduce.results import ERROR, VERDICTS

MARKER = "PATCHSMITH_VERDICT:"
# A verdict line is the marker at the start of a line (leading blanks tolerated), then one word.
_VERDICT_LINE = re.compile(r"^\s*PATCHSMITH_VERDICT:[ \t]*(\S*)[ \t]*\r?$", re.MULTILINE)
# Any line that mentions the marker at all, so that a mangled second verdict still counts as one.
_ANY_MARKER = re.compile(r"^.*PATCHSMITH_VERDICT.*$", re.MULTILINE)


def judge(output: str, exit_code: int | None, timed_out: bool, timeout: float = 0.0) -> tuple[str, str]:
    """(verdict, reason): the script's one stated verdict, or ERROR with the reason it does not count.

    A timeout, a non-zero exit (a crash), no verdict line, several verdict lines and an unknown
    verdict word are all ERROR.
    """
    if timed_out:
        return ERROR, f"timed out after {timeout:g} s" if timeout else "timed out"
    if exit_code not in (0, None):
        return ERROR, f"exited with status {exit_code}"
    mentions = _ANY_MARKER.findall(output)
    if not mentions:
        return ERROR, "printed no verdict line"
    if len(mentions) > 1:
        return ERROR, f"printed {len(mentions)} verdict lines"
    match = _VERDICT_LINE.search(output)
    word = match.group(1).lower() if match else ""
    if word not in VERDICTS:
        return ERROR, f"unreadable verdict line {mentions[0].strip()[:80]!r}"
    return word, ""
