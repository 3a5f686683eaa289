"""Finding the existing tests related to the localized files, from the repository index alone.

A test file is related when it imports a localized module, is named after one, sits in the tests
folder of a localized module's package, or imports the module's package and uses names the
module defines (how Django's and many other test suites reach code re-exported by a package).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from patchsmith.repo_index.model import FileEntry, RepoIndex
from patchsmith.repo_index.paths import SOURCE_ROOTS, is_test_path, module_names

_TEST_FUNCTION = re.compile(r"^test(_|[A-Z0-9])")  # test_x, testX: not a helper named `test`


def is_test_file(entry: FileEntry) -> bool:
    """A Python test module by its path (repo_index.paths) that defines at least one test function
    or method, so that test helpers such as django/test/testcases.py are not run as tests."""
    path = PurePosixPath(entry.path)
    if path.suffix != ".py" or path.name in ("conftest.py", "__init__.py") or not is_test_path(entry.path):
        return False
    return any(d.kind in ("function", "method") and _TEST_FUNCTION.match(d.name) for d in entry.definitions)


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
        for prefix in SOURCE_ROOTS:  # a relative import inside src/ names the package without "src"
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


def _subject(test_path: PurePosixPath) -> str:
    """What a test file's name says it tests: test_durationfield.py -> "durationfield"."""
    stem = test_path.stem
    for prefix in ("tests_", "test_"):
        if stem.startswith(prefix):
            return stem[len(prefix):]
    for suffix in ("_tests", "_test"):
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def _score(test: FileEntry, imports: set[str], target: _Target, rarity: dict[str, float]) -> float:
    score = 0.0
    test_path = PurePosixPath(test.path)
    parents = {m.rsplit(".", k)[0] for m in target.modules for k in range(1, m.count(".") + 1)}
    imports_parent = bool(imports & parents)
    imports_module = any(imp == m or imp.startswith(m + ".") for imp in imports for m in target.modules)
    if imports_module:
        score += 4  # imports the module itself (or something inside it)
    elif imports_parent and target.stem in test.references:
        score += 4  # `from package import module`
    subject = _subject(test_path)
    if test_path.stem != subject and subject == target.stem:
        score += 3  # named after the module
    elif target.stem in test_path.parts[:-1]:
        score += 1.5  # in a test folder named after it (tests/model_fields/ for .../fields/)
    if str(test_path.parent) in (f"{target.package_dir}/tests", f"{target.package_dir}/test"):
        score += 1  # in the tests folder of the module's own package
    used = target.names.intersection(test.references)
    if used and (imports_module or imports_parent):
        if not imports_module:
            score += 2  # imports its package and uses what the module defines
        # Using a name few test files use says more than using one every test file uses.
        score += 2 * max(rarity.get(name, 0.0) for name in used)
        if subject in {name.lower() for name in used}:
            score += 2  # named after a class or function of the module (test_durationfield.py)
    return score


def related_test_files(index: RepoIndex, localized_paths: list[str], limit: int = 10) -> list[str]:
    """Test files related to the localized files, most related first (at most `limit`)."""
    targets = [_target(index, path) for path in localized_paths if path in index.files and path.endswith(".py")]
    tests = [e for e in index.files.values() if e.path not in localized_paths and is_test_file(e)]
    # How rare each of the localized files' names is among the test files: 1 for a name one file
    # uses, 0 for a name every test file uses (an inverse document frequency scaled to [0, 1]).
    names = set().union(*(target.names for target in targets)) if targets else set()
    uses = {name: 0 for name in names}
    for entry in tests:
        for name in names.intersection(entry.references):
            uses[name] += 1
    scale = math.log(len(tests) + 1)
    rarity = {name: math.log((len(tests) + 1) / count) / scale for name, count in uses.items() if count}
    scored: list[tuple[float, str]] = []
    for entry in tests:
        imports = _absolute_imports(entry)
        # A file related to several localized files ranks above one related to a single file.
        score = sum(_score(entry, imports, target, rarity) for target in targets)
        if score > 0:
            scored.append((score, entry.path))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [path for _, path in scored[:limit]]
