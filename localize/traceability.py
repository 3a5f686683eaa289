"""Test-to-code traceability by naming convention: the source files a failing test is named after.

A test module is conventionally named after the code it tests: tests/utils/test_http.py tests
utils/http.py, test_util_typing.py tests util/typing.py, tests/expressions/tests.py tests
expressions.py (the folder names the subject when the file is only "tests"). This is the
naming-convention (NC) rule of the test-to-code traceability literature (for example Van Rompaey
and Demeyer, 2009), stated over paths so that it holds for any repository's layout. A source file
whose module name ends with the test's subject scores by how many of the test's folder names its own
path shares (tests/utils_tests/test_http.py: django/utils/http.py before django/middleware/http.py).

One level down, a test function or class is named after the unit it tests (test_uniq tests
uniq, ReadOnlyPasswordHashTest tests ReadOnlyPasswordHashWidget): named_after finds, among the
definitions the failing runs executed, those whose names the failing tests' names hold.

It is evidence of what a test is about, not of where it fails: it is fused with the execution
signal, never used alone; the file rule only when a failing run names its test file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from patchsmith.repo_index.paths import SOURCE_ROOTS, TEST_FOLDERS, is_non_source
from patchsmith.repo_index.query import identifier_words

from patchsmith.localize.results import Element, ScoredElement, ScoredFile

_TEST_AFFIX = re.compile(r"^tests?_|_tests?$")


def _words(name: str) -> str:
    """A path component without the test markers of the convention: test_http -> http, utils_tests -> utils."""
    return _TEST_AFFIX.sub("", name.lower())


def subject(test_path: str) -> tuple[str, list[str]] | None:
    """What a test file is named after, and the folder names it sits under (test markers and
    test-only folders dropped): tests/utils_tests/test_http.py -> ("http", ["utils"]). None for a
    file not named like a test module (a test app's models.py says nothing of what it tests)."""
    path = PurePosixPath(test_path)
    stem = path.stem.lower()
    folders = [_words(f) for f in path.parent.parts if f.lower() not in TEST_FOLDERS]
    folders = [f for f in folders if f]
    if stem in ("tests", "test"):
        if not folders:
            return None
        return folders[-1], folders[:-1]
    if _TEST_AFFIX.search(stem) is None:
        return None
    return _words(stem), folders


def _module_parts(source_path: str) -> list[str]:
    """A source file's module path: src/pkg/mod.py -> ["pkg", "mod"], pkg/__init__.py -> ["pkg"]."""
    parts = [p.lower() for p in PurePosixPath(source_path).with_suffix("").parts]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    if len(parts) > 1 and parts[0] in SOURCE_ROOTS:
        parts = parts[1:]
    return parts


def match(test_path: str, source_path: str) -> float:
    """How well `source_path` is what `test_path` is named after: 0 when its module name does not
    end with the test's subject (the subject's underscores may stand for folders: util_typing ->
    util/typing); else 0.5 plus half the share of the test's folder names that the source's path
    has too."""
    named = subject(test_path)
    parts = _module_parts(source_path)
    if named is None or not parts:
        return 0.0
    topic, folders = named
    if not any("_".join(parts[-n:]) == topic for n in range(1, len(parts) + 1)):
        return 0.0
    if not folders:
        return 1.0
    shared = sum(any(f == p or f in p.split("_") for p in parts) for f in folders)
    return 0.5 + 0.5 * shared / len(folders)


def test_files(run_names: Iterable[str]) -> list[str]:
    """The test files that pytest node ids name (tests/test_x.py::test_y -> tests/test_x.py)."""
    found = []
    for name in run_names:
        path = name.split("::", 1)[0]
        if "::" in name and path.endswith(".py") and path not in found:
            found.append(path)
    return found


def traced_files(tests: Sequence[str], sources: Iterable[str], retrieval: Sequence[str]) -> list[ScoredFile]:
    """The source files the failing tests' files are named after, best first (ties by retrieval)."""
    scores: dict[str, float] = {}
    for path in sources:
        if is_non_source(path):
            continue
        best = max((match(test, path) for test in tests), default=0.0)
        if best:
            scores[path] = best
    rank = {path: n for n, path in enumerate(retrieval)}
    order = sorted(scores, key=lambda p: (-scores[p], rank.get(p, len(rank)), p))
    return [ScoredFile(path, round(scores[path], 6)) for path in order]


_TEST_WORDS = {"test", "tests"}
MIN_NAME_CHARS = 3  # a shared run of words shorter than this ("a", "by") names nothing


def test_subject_words(run_name: str) -> list[str]:
    """The words of what a failing test says it tests: its function's name and its class's, without
    the test markers, or the sentence that names it (a docstring's first line, as Django's runner
    reports it). tests/x.py::TestXFail::test_run_with_skip[a] -> x fail run with skip;
    "test_label (auth_tests.test_forms.ReadOnlyPasswordHashTest)" -> label read only password hash."""
    name = re.sub(r"\[.*\]$", "", run_name.strip())
    if "::" in name:
        parts = name.split("::")[1:]  # the file is traceability's (traced_files)
    elif (label := re.fullmatch(r"(\w+) \(([\w.]+)\)", name)) is not None:
        function, dotted = label.groups()
        owners = [p for p in dotted.split(".") if p != function]  # Django 5 repeats the function
        parts = [function, owners[-1]] if owners else [function]
    else:
        parts = [name]
    return [w for part in parts for w in identifier_words(part) if w not in _TEST_WORDS]


def _shared_run(subject: list[str], name: list[str]) -> tuple[int, float]:
    """The longest run of words that `name` and `subject` share in the same order: its characters,
    and the share of `name`'s characters it covers (how much of the name the test's name holds)."""
    best = 0
    for i in range(len(subject)):
        for j in range(len(name)):
            n = 0
            while i + n < len(subject) and j + n < len(name) and subject[i + n] == name[j + n]:
                n += 1
            best = max(best, sum(len(w) for w in name[j:j + n]))
    return best, best / max(1, sum(len(w) for w in name))


def named_after(run_names: Iterable[str], executed: Sequence[ScoredElement]) -> list[ScoredElement]:
    """The executed definitions the failing tests are named after, best first: the naming convention
    one level down from traced_files, where test_to_unstacked_dataset tests to_unstacked_dataset and
    ReadOnlyPasswordHashTest tests ReadOnlyPasswordHashWidget. For each test, the definitions whose
    qualified name shares the longest run of words with the test's subject (test_subject_words) are
    the ones it names. Each gets the share of its name that run covers (to_unstacked_dataset all of
    it, _add_parser_option for test_unknown_option only "option"), divided among them, so a name
    that many definitions share weighs little. A definition's score is averaged over the failing tests."""
    tests = list(run_names)
    # Each definition's name parts as words, split once for all the tests.
    name_words = {s.element: [identifier_words(part) for part in s.element.qualname.split(".")] for s in executed}
    points: dict[Element, float] = {}
    for test in tests:
        subject = test_subject_words(test)
        shared = {element: max(_shared_run(subject, words) for words in parts) for element, parts in name_words.items()}
        longest = max((length for length, _ in shared.values()), default=0)
        if longest < MIN_NAME_CHARS:
            continue
        chosen = {element: covered for element, (length, covered) in shared.items() if length == longest}
        for element, covered in chosen.items():
            points[element] = points.get(element, 0.0) + covered / len(chosen) / len(tests)
    # Ties keep the order of first naming: executed order (suspiciousness, then retrieval) within a test.
    return sorted((ScoredElement(e, round(p, 6)) for e, p in points.items()), key=lambda s: -s.score)
