"""Checks an edited file must pass: it still parses, and the change is more than whitespace.

Syntax is judged by tree-sitter rather than `compile`: `compile` accepts exactly the grammar of
the Python running patchsmith (3.11 here), while the repository under repair may target another
version (`print` statements, `async` as a name, `match` statements); a tree-sitter grammar does
not depend on the host interpreter, and it covers the other languages we index too.
tree-sitter's Python grammar does not check indentation, though (an unexpected indent parses
cleanly), and indentation is what a whitespace-insensitive edit can get wrong. So Python files
are also compiled to an AST, and only IndentationError counts: those rules have not changed
across Python 3 versions, unlike the rest of the grammar.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import re
from collections.abc import Iterable, Iterator

from tree_sitter import Language, Node, Parser

# File suffix -> (grammar module, function returning its language).
GRAMMARS = {
    ".py": ("tree_sitter_python", "language"),
    ".pyi": ("tree_sitter_python", "language"),
    ".js": ("tree_sitter_javascript", "language"),
    ".mjs": ("tree_sitter_javascript", "language"),
    ".cjs": ("tree_sitter_javascript", "language"),
    ".jsx": ("tree_sitter_javascript", "language"),
    ".ts": ("tree_sitter_typescript", "language_typescript"),
    ".tsx": ("tree_sitter_typescript", "language_tsx"),
    ".go": ("tree_sitter_go", "language"),
    ".java": ("tree_sitter_java", "language"),
    ".rs": ("tree_sitter_rust", "language"),
}
WHITESPACE = re.compile(r"\s+")

# Paths a fix has no business changing: what runs in CI with the repository's secrets (GitHub
# workflows and actions, other CI services' files, pre-commit hooks), an action's own files, and
# submodule URLs. A candidate that changes one is rejected unless the caller clears this list.
# fnmatch patterns, matched case-insensitively against the whole path; "*" crosses "/".
PROTECTED_PATHS = (
    ".github/*", ".gitmodules",
    "action.yml", "action.yaml", "*/action.yml", "*/action.yaml",
    ".gitlab-ci.yml", ".gitlab/*", ".travis.yml", ".circleci/*", "azure-pipelines.yml", ".azure-pipelines/*",
    "appveyor.yml", ".appveyor.yml", "jenkinsfile", ".buildkite/*", ".drone.yml", ".woodpecker.yml",
    ".woodpecker/*", "bitbucket-pipelines.yml", ".cirrus.yml", ".pre-commit-config.yaml",
)


@functools.cache
def _parser(suffix: str) -> Parser | None:
    grammar = GRAMMARS.get(suffix)
    if grammar is None:
        return None
    module_name, function = grammar
    module = __import__(module_name)
    return Parser(Language(getattr(module, function)()))


def parser_for(path: str) -> Parser | None:
    """A tree-sitter parser for the file's language, or None when we have no grammar for it."""
    dot = path.rfind(".")
    return _parser(path[dot:].lower()) if dot > path.rfind("/") else None


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def _nodes(root: Node) -> Iterator[tuple[Node, int]]:
    """Every node under `root`, in document order, with its depth."""
    cursor = root.walk()
    depth = 0
    while True:
        yield cursor.node, depth
        if cursor.goto_first_child():
            depth += 1
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return
            depth -= 1


def syntax_errors(path: str, text: str) -> int | None:
    """How many ERROR or MISSING nodes tree-sitter finds in the file; None when its language is not parsed."""
    parser = parser_for(path)
    if parser is None:
        return None
    root = parser.parse(_encode(text)).root_node
    if not root.has_error:
        return 0
    return sum(1 for node, _ in _nodes(root) if node.is_error or node.is_missing)


def indentation_error(path: str, text: str) -> str:
    """The IndentationError a Python file raises when compiled, as a sentence; "" when none (or not Python)."""
    if not path.endswith((".py", ".pyi")):
        return ""
    try:
        compile(text, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except IndentationError as error:  # TabError included
        return f"{error.msg} (line {error.lineno})"
    except (SyntaxError, ValueError):
        return ""  # other syntax is version-dependent; tree-sitter judges it
    return ""


def syntax_problem(path: str, before: str | None, after: str) -> str:
    """"" unless the edit leaves the file with more syntax errors than it had; then a sentence."""
    indentation = indentation_error(path, after)
    if indentation and not (before is not None and indentation_error(path, before)):
        return f"{path} has an indentation error after the edit: {indentation}."
    errors = syntax_errors(path, after)
    if not errors:
        return ""
    had = syntax_errors(path, before) if before is not None else 0
    if had and errors <= had:
        return ""  # the file did not parse before either (a test fixture, say); the edit made it no worse
    return f"{path} has syntax errors after the edit."


def _shape(path: str, text: str) -> list[tuple[int, str, str]] | str:
    parser = parser_for(path)
    if parser is None:
        return WHITESPACE.sub(" ", text).strip()
    source = _encode(text)
    shape: list[tuple[int, str, str]] = []  # depth keeps the nesting: a line moved out of a block differs
    for node, depth in _nodes(parser.parse(source).root_node):
        # Leaves carry text; so do strings with escapes or interpolations inside, whose spaces
        # sit between their children.
        if node.child_count and "string" not in node.type:
            shape.append((depth, node.type, ""))
            continue
        leaf = source[node.start_byte : node.end_byte].decode("utf-8", errors="replace")
        if "comment" in node.type:
            leaf = WHITESPACE.sub(" ", leaf).strip()
        shape.append((depth, node.type, leaf))
    return shape


def whitespace_only(path: str, before: str, after: str) -> bool:
    """True when the edit changes only whitespace that carries no meaning.

    With a grammar, the syntax trees (node kinds and leaf texts) are compared, so re-indenting a
    Python statement into or out of a block, or spaces inside a string, count as real changes.
    Without one, runs of whitespace are collapsed.
    """
    if WHITESPACE.sub("", before) != WHITESPACE.sub("", after):
        return False  # a visible character changed: no need to parse
    return _shape(path, before) == _shape(path, after)


def protected_path(path: str, patterns: Iterable[str]) -> str:
    """The first pattern the path falls under ("" when none), after dropping "." and empty parts,
    so that "./.github//x" and ".GitHub/x" are caught like ".github/x"."""
    plain = "/".join(part for part in path.split("/") if part not in ("", ".")).casefold()
    return next((pattern for pattern in patterns if fnmatch.fnmatchcase(plain, pattern.casefold())), "")
