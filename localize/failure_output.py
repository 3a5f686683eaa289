"""The repository source files a failing run's output names: its traceback frames and the places
its warnings and pytest's failure reports point at.

A failing test that raises inside the library prints the call chain from the test down to the
raise; a warning names the line that issued it. Both are the program's own account of where the
run went wrong, a coarser cousin of coverage: coverage says every file the run passed through,
the output says the few it stopped or complained in. Installed packages, the standard library,
tests and documentation are left out, as in the execution signal. A failing assertion inside the
test itself names no source file, and the signal is then empty.

Mentions are recognised by their form, not by any one runner's layout: `File "PATH", line N`
(Python's tracebacks, so unittest, Django's and sympy's runners, a script) and `PATH:N` (pytest's
reports and the warnings module).
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import Collection

from patchsmith.repo_index.paths import is_non_source

from patchsmith.localize.results import ScoredFile

_MENTION = re.compile(r'File "(?P<quoted>[^"\n]+?\.py)", line \d+|(?P<bare>[\w./+-]*\w\.py):\d+')


def mentioned_paths(output: str, root: str = "/testbed") -> list[str]:
    """Every .py path `output` names with a line number, relative to `root`, in order of mention
    (repeats kept). An absolute path outside `root` (site-packages, the standard library) and a
    relative one that climbs out of it are dropped; a relative path is taken from `root`, where
    the sandbox runs its commands."""
    prefix = root.rstrip("/") + "/"
    found = []
    for match in _MENTION.finditer(output):
        path = match.group("quoted") or match.group("bare")
        if path.startswith("/"):
            if not path.startswith(prefix):
                continue
            path = path[len(prefix):]
        path = posixpath.normpath(path)
        if not path.startswith("../") and path != "..":
            found.append(path)
    return found


def named_files(output: str, sources: Collection[str], root: str = "/testbed") -> list[ScoredFile]:
    """The repository's source files the output names, most mentioned first (ties in order of first
    mention). Each scores 1 / the number of files named: one file named alone is strong evidence,
    while a long traceback through a framework's request handling or a connection pool spreads the
    same evidence over every frame it passes, so none of them outweighs the other signals."""
    counts = Counter(p for p in mentioned_paths(output, root) if p in sources and not is_non_source(p))
    # most_common keeps the order of first mention among equal counts.
    return [ScoredFile(path, round(1 / len(counts), 6)) for path, _ in counts.most_common()]
