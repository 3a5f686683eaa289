"""Processes that outlive their command inside a container, and the shell that kills them.

A command's process group is killed at its time limit, but a child that called `setsid` left
that group and would run on. Every command the sandbox runs carries MARKER=<its id> in its
environment, which its children inherit whatever session they make, so /proc tells which
processes a command left behind. The scripts below run in the container (as root, with only a
POSIX shell and grep, which every image has).
"""

from __future__ import annotations

import uuid

MARKER = "PATCHSMITH_EXEC"


def new_mark() -> str:
    return uuid.uuid4().hex[:12]


def _kill_where(test: str) -> str:
    # A process that exits meanwhile is no error; the loop never looks at itself ($$).
    return (f'for p in /proc/[0-9]*; do n=${{p#/proc/}}; [ "$n" = "$$" ] && continue; '
            f'm=$(tr "\\0" "\\n" < "$p/environ" 2>/dev/null | grep "^{MARKER}=") || continue; '
            f'{test} && kill -KILL "$n" 2>/dev/null; done; true')


def kill_marked(mark: str) -> str:
    """Shell that kills every process a command with this mark left, in any session."""
    return _kill_where(f'[ "$m" = "{MARKER}={mark}" ]')


def kill_all_marked_but_mine() -> str:
    """Shell, run as a marked command itself, that kills what every other command left."""
    return _kill_where(f'[ "$m" != "{MARKER}=${MARKER}" ]')
