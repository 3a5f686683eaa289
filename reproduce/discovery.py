"""Finding the existing tests related to the localized files, from the repository index alone.

A test file is related when it imports a localized module, is named after one, sits in the tests
folder of a localized module's package, or imports the module's package and uses names the
module defines (how Django's and many other test suites reach code re-exported by a package).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from repo_index.model import FileEntry, RepoIndex

_TEST_DIRS = {"test", "tests", "testing"}
_TEST_NAME = re.compile(r"^(test_.*|.*_tests?)\.py$")
_TEST_FUNCTION = re.compile(r"^test(_|[A-Z0-9])")  # test_x, testX: not a helper named `test`
_SOURCE_ROOTS = ("src", "lib")  # layouts where the import name starts below this folder


def is_test_file(entry: FileEntry) -> bool:
    """A Python file in a test folder or named like a test module that defines at least one test
    function or method (so test helpers such as django/test/testcases.py are not run as tests)."""
    path = PurePosixPath(entry.path)
    if path.suffix != ".py" or path.name in ("conftest.py", "__init__.py"):
        return False
    if not (_TEST_NAME.match(path.name) or _TEST_DIRS & set(path.parts[:-1])):
        return False
    return any(d.kind in ("function", "method") and _TEST_FUNCTION.match(d.name) for d in entry.definitions)


def module_names(path: str) -> list[str]:
    """Dotted import names a source path may go by: `src/pkg/mod.py` -> ["src.pkg.mod", "pkg.mod"]."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    names = [".".join(parts)] if parts else []
    if len(parts) > 1 and parts[0] in _SOURCE_ROOTS:
        names.append(".".join(parts[1:]))
    return names


def _absolute_imports(entry: FileEntry) -> set[str]:
    """The file's imports with relative ones (".mod", "..pkg.mod") resolved against its own package."""
    package = list(PurePosixPath(entry.path).parts[:-1])
    resolved: set[str] = set()
    for name in entry.imports:
        dots = len(name) - len(name.lstrip("."))
        if not dots:
            resolved.add(name)
            continue
        base = package[: len(package) - (dots - 1)] if dots - 1 <= len(package) else []
        rest = name[dots:]
        resolved.add(".".join(base + ([rest] if rest else [])))
        for prefix in _SOURCE_ROOTS:  # a relative import inside src/ names the package without "src"
            if base and base[0] == prefix:
                resolved.add(".".join(base[1:] + ([rest] if rest else [])))
    return resolved


@dataclass(frozen=True)
class _Target:
    path: str
    modules: tuple[str, ...]
    stem: str  # "query" for django/db/models/query.py, the package name for an __init__.py
    package_dir: str  # folder holding the module
    names: frozenset[str]  # public top-level names the module defines


def _target(index: RepoIndex, path: str) -> _Target:
    entry = index.files[path]
    pure = PurePosixPath(path)
    stem = pure.parent.name if pure.name == "__init__.py" else pure.stem
    names = frozenset(
        d.name for d in entry.definitions if "." not in d.qualname and not d.name.startswith("_") and len(d.name) > 2
    )
    return _Target(path, tuple(module_names(path)), stem, str(pure.parent), names)


def _score(test: FileEntry, imports: set[str], target: _Target) -> float:
    score = 0.0
    test_path = PurePosixPath(test.path)
    parents = {m.rsplit(".", k)[0] for m in target.modules for k in range(1, m.count(".") + 1)}
    imports_parent = bool(imports & parents)
    if any(imp == m or imp.startswith(m + ".") for imp in imports for m in target.modules):
        score += 4  # imports the module itself (or something inside it)
    elif imports_parent and target.stem in test.references:
        score += 4  # `from package import module`
    if test_path.stem in (f"test_{target.stem}", f"{target.stem}_test", f"{target.stem}_tests", f"tests_{target.stem}"):
        score += 3  # named after it
    elif target.stem in test_path.parts[:-1] or f"{target.stem}_tests" in test_path.parts[:-1]:
        score += 1.5  # in a test folder named after it
    if str(test_path.parent) in (f"{target.package_dir}/tests", f"{target.package_dir}/test"):
        score += 1  # in the tests folder of the module's own package
    used = target.names.intersection(test.references)
    if used and imports_parent:
        score += 2 + min(len(used), 5) * 0.2  # imports its package and uses what the module defines
    return score


def related_test_files(index: RepoIndex, localized_paths: list[str], limit: int = 10) -> list[str]:
    """Test files related to the localized files, most related first (at most `limit`)."""
    targets = [_target(index, path) for path in localized_paths if path in index.files and path.endswith(".py")]
    scored: list[tuple[float, str]] = []
    for entry in index.files.values():
        if entry.path in localized_paths or not is_test_file(entry):
            continue
        imports = _absolute_imports(entry)
        # A file related to several localized files ranks above one related to a single file.
        score = sum(_score(entry, imports, target) for target in targets)
        if score > 0:
            scored.append((score, entry.path))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [path for _, path in scored[:limit]]
