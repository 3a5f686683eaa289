"""Facts about a source tree that several stages need, each kept once: which files are tests or
other non-source code, the dotted names a file is imported by, and what a path someone wrote
stands for in the repository."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Sequence
from pathlib import PurePosixPath

# Folder names of code that is not shipped source: tests, documentation, examples, benchmarks.
TEST_FOLDERS = frozenset({"test", "tests", "testing"})
NON_SOURCE_FOLDERS = TEST_FOLDERS | {"doc", "docs", "example", "examples", "benchmark", "benchmarks", "bench",
                                     "asv_bench", "tutorial", "tutorials"}
SOURCE_ROOTS = ("src", "lib")  # layouts where the import name starts below this folder


def is_test_path(path: str) -> bool:
    """A file in a test folder (tests/, test_x/, x_tests/) or named like a test module
    (test_x.py, x_test.py, x_tests.py, conftest.py), by the usual conventions."""
    *folders, name = path.split("/")
    for folder in (f.lower() for f in folders):
        if folder in TEST_FOLDERS or folder.startswith("test_") or folder.endswith(("_test", "_tests")):
            return True
    stem = name.rsplit(".", 1)[0].lower()
    return stem.startswith("test_") or stem.endswith(("_test", "_tests", ".test", ".spec")) or stem in ("conftest", "tests")


def is_non_source(path: str) -> bool:
    """Tests, documentation, examples and benchmarks."""
    return is_test_path(path) or any(f.lower() in NON_SOURCE_FOLDERS for f in path.split("/")[:-1])


def module_names(path: str) -> list[str]:
    """The dotted names a source file is imported by: `src/pkg/mod.py` -> ["src.pkg.mod", "pkg.mod"]
    (a package's `__init__.py` goes by the package's name)."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    names = [".".join(parts)] if parts else []
    if len(parts) > 1 and parts[0] in SOURCE_ROOTS:
        names.append(".".join(parts[1:]))
    return names


def written_path(written: str, known: Collection[str] = ()) -> str:
    """A repository path as someone (a model, a diff header) wrote it, cleaned: quotes and list
    punctuation, backslashes, a line number after it, a leading "./" or "/", and a diff's "a/" or
    "b/" prefix, unless the repository really has that folder and the path is in it."""
    path = written.strip().strip("`'\"()[],;*").rstrip(".:").replace("\\", "/")
    path = re.sub(r":\d+(?:-\d+)?$", "", path)  # a line number written after the path
    while path.startswith(("./", "/")):
        path = path[1:] if path.startswith("/") else path[2:]
    if path[:2] in ("a/", "b/") and path not in known:
        prefix = path[:2]
        if path[2:] in known or not any(p.startswith(prefix) for p in known):
            path = path[2:]
    return path


class PathResolver:
    """Maps a path as a model wrote it to one of the repository's paths, or to None."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = sorted(paths)
        self._known = set(self.paths)
        self._by_name: dict[str, list[str]] = {}
        for path in self.paths:
            self._by_name.setdefault(path.rsplit("/", 1)[-1], []).append(path)

    def resolve(self, written: str, prefer: Sequence[str] = ()) -> str | None:
        path = written_path(written, self._known)
        if not path:
            return None
        if path in self._known:
            return path
        if "/" not in path and not re.search(r"\.(py|pyi|pyx)$", path) and "." in path:
            # A module's dotted name: pkg.mod -> pkg/mod.py or pkg/mod/__init__.py
            as_path = path.replace(".", "/")
            for guess in (f"{as_path}.py", f"{as_path}/__init__.py"):
                found = self.resolve(guess, prefer)
                if found:
                    return found
            return None
        # A repository-name (or other) folder in front: drop leading folders until one matches.
        parts = path.split("/")
        for k in range(1, len(parts) - 1):
            if "/".join(parts[k:]) in self._known:
                return "/".join(parts[k:])
        # A shortened path: the files whose path ends with it.
        candidates = [p for p in self._by_name.get(parts[-1], []) if p == path or p.endswith("/" + path)]
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            for preferred in prefer:
                if preferred in candidates:
                    return preferred
            return None
        # A small slip in a file name ("querys.py"): only within the folder the model named.
        folder = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
        siblings = [p for p in self.paths if p.startswith(folder) and "/" not in p[len(folder) :]]
        close = difflib.get_close_matches(path, siblings, n=1, cutoff=0.9)
        return close[0] if close else None
