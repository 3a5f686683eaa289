"""What a failing test's body uses: the source definitions its code names, weighed by how rare the name is.

A test that fails on an issue calls the code it is about: test_unicode_validator builds a
UnicodeUsernameValidator, test_parse_expr calls parse_expr. The names a failing test's body uses
point at the code, even where the execution signal cannot: a class that holds only attributes has
no body lines to execute, and when few passing runs are measured, dozens of files tie at the top
suspiciousness. It is the "lexical" and "last call" family of test-to-code traceability (for
example Qusef et al., 2014), stated over names alone so that it holds for any repository.

Each name the body uses is matched to the repository's source definitions of that name as Python
resolves it: a bare name (`Symbol(...)`, which the test imported) to module-level classes and
functions, a name after a dot to those and to methods (`models.CharField`, `qs.filter`). Each name is weighed twice: by how specific
it is to the failing tests among all the tests of their files (a name every test uses, such as
Symbol in sympy's tests, says nothing of this one), and split among the definitions it matches
(filter names dozens of methods). Each failing test hands out at most one point, in shares of
all the names its body uses, matched or not: a test that mostly uses its own helpers and models
says little of the code. A definition's score is averaged over the failing tests.
"""

from __future__ import annotations

import io
import keyword
import re
import textwrap
import tokenize
from collections import defaultdict
from collections.abc import Iterable, Mapping

from patchsmith.repo_index import Definition, RepoIndex, read_text
from patchsmith.repo_index.extract import entry, record_for
from patchsmith.repo_index.paths import is_non_source

from patchsmith.localize.results import Element, ScoredElement

_UNITTEST_ID = re.compile(r"(\w+) \(([\w.]+)\)$")
ATTRIBUTE, BARE = "attribute", "bare"  # how a body uses a name: after a dot, or on its own


def used_names(body: str) -> list[tuple[str, str]]:
    """The (name, use) pairs a function's code holds, each once, in first-seen order: names, not the
    words of its strings and comments; keywords and one-letter names left out."""
    names: dict[tuple[str, str], None] = {}
    after_dot = False
    try:
        for token in tokenize.generate_tokens(io.StringIO(textwrap.dedent(body)).readline):
            if token.type == tokenize.NAME and len(token.string) > 1 and not keyword.iskeyword(token.string):
                names[(token.string, ATTRIBUTE if after_dot else BARE)] = None
            if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
                after_dot = token.string == "."
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # a body cut short (unbalanced brackets): what was read so far
    return list(names)


def test_of(run_name: str) -> tuple[str, str, str]:
    """(file, owner, name) a failing run's name gives its test: a pytest node id its file, classes and
    function (parameters dropped); a unittest id ("test_x (module.Class)") its class and function;
    a bare name (sympy's) the function only. Empty where the name does not say."""
    name = re.sub(r"\[.*\]$", "", run_name.strip())
    if "::" in name:
        path, *parts = name.split("::")
        return path, ".".join(parts[:-1]), parts[-1] if parts else ""
    unittest = _UNITTEST_ID.match(name)
    if unittest:
        function, dotted = unittest.groups()
        owners = [p for p in dotted.split(".") if p != function]  # Django 5 repeats the function
        return "", owners[-1] if owners else "", function
    return "", "", name


def _definitions(path: str, text: str) -> tuple[Definition, ...]:
    return entry(path, "", record_for(text.encode("utf-8", errors="replace"), "python")).definitions


def test_bodies(run_names: Iterable[str], sources: Mapping[str, str]
                ) -> tuple[dict[str, list[tuple[str, str]]], list[list[tuple[str, str]]]]:
    """{failing run name: the names its test's body uses}, for the runs whose test is found among
    the test files `sources` ({path: text}), and the names every test function of those files uses
    (one list per test), which say how common a name is among the tests."""
    tests = []  # (definition, the names its body uses)
    for path, text in sources.items():
        lines = text.splitlines()
        for definition in _definitions(path, text):
            if definition.kind in ("function", "method") and definition.name.startswith("test"):
                # The body below the header: parameters (self, pytest's fixtures) name no code.
                header = definition.start
                while header < definition.end and lines[header - 1].lstrip().startswith("@"):
                    header += 1
                body = "\n".join(lines[header + definition.signature.count("\n"):definition.end])
                tests.append((definition, [n for n in used_names(body) if n[0] != definition.name]))
    found: dict[str, list[str]] = {}
    for run in run_names:
        path, owner, function = test_of(run)
        for definition, names in tests:
            # A Django test reported by its docstring's first line is found by that line.
            named = definition.name == function or (definition.doc and definition.doc == run.strip())
            if named and (not path or definition.path == path) and (not owner or definition.qualname.endswith(f"{owner}.{definition.name}")):
                found.setdefault(run, []).extend(n for n in names if n not in found.get(run, ()))
    return found, [names for _, names in tests]


def used_definitions(run_names: Iterable[str], sources: Mapping[str, str], index: RepoIndex) -> list[ScoredElement]:
    """The source definitions the failing tests' bodies use, best first (see the module docstring)."""
    used, every_test = test_bodies(run_names, sources)
    if not used:
        return []
    # The tests' own helpers and models are defined in their files, not in the code under test.
    local = {d.name for path, text in sources.items() for d in _definitions(path, text)}
    wanted = {name for names in used.values() for name, _ in names} - local
    by_name: dict[tuple[str, str], list[Element]] = defaultdict(list)
    for path, file_entry in index.files.items():
        if is_non_source(path) or file_entry.language != "python":
            continue
        for d in file_entry.definitions:
            if d.name not in wanted:
                continue
            element = Element(path, d.qualname, d.kind, d.start, d.end)
            importable = d.kind in ("class", "function") and "." not in d.qualname
            if d.kind == "method" or importable:
                by_name[(d.name, ATTRIBUTE)].append(element)
            if importable:
                by_name[(d.name, BARE)].append(element)
    users: dict[tuple[str, str], int] = defaultdict(int)
    for names in every_test:
        for name in set(names):
            users[name] += 1
    points: dict[Element, float] = defaultdict(float)
    for names in used.values():
        # Smoothed, so that a test alone in its files still weighs its names (all alike).
        specific = {n: (len(every_test) + 1 - users[n]) / (len(every_test) + 1) for n in names}
        total = sum(specific.values())
        for name, weight in specific.items():
            for element in by_name.get(name, ()):
                points[element] += weight / total / len(by_name[name]) / len(used)
    return sorted((ScoredElement(e, round(p, 6)) for e, p in points.items() if p > 0), key=lambda s: (-s.score, s.element.path, s.element.qualname))


def sources_in_index(index: RepoIndex, test_files: Iterable[str], run_names: Iterable[str]) -> dict[str, str]:
    """{path: text} of the failing tests' files that the index holds: the paths given, and the
    modules unittest ids name (auth_tests.test_forms is a file ending auth_tests/test_forms.py)."""
    wanted = [p for p in test_files if p in index.files]
    modules = {m.group(2).rsplit(".", 1)[0] for name in run_names if (m := _UNITTEST_ID.match(name.strip()))}
    for module in modules:
        tail = module.replace(".", "/") + ".py"
        wanted += [p for p in index.files if (p == tail or p.endswith("/" + tail)) and p not in wanted]
    return {path: read_text(index, path) for path in wanted}
