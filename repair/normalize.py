"""Normalized patches: two candidates that differ only in comments, docstrings or layout compare equal.

Selection votes over these: a Python file is parsed with `ast`, its docstrings removed, and
unparsed (comments and formatting do not survive `ast`); the normalized patch is the diff
between the normalized base and the normalized edited files. `ast` is the host's, so a file it
cannot parse (older syntax, say) falls back to its lines with whitespace collapsed and blank
lines dropped, which still equates candidates that differ only in layout.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Mapping

from patchsmith.repair.diff import unified_diff

WHITESPACE = re.compile(r"\s+")
PYTHON_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _drop_docstrings(tree: ast.AST) -> None:
    """Remove the docstrings of every module, class and function in `tree`."""
    for node in ast.walk(tree):
        if not isinstance(node, DOCUMENTED) or not node.body:
            continue
        first = node.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            node.body = node.body[1:] or [ast.Pass()]


def _collapsed(text: str) -> str:
    lines = (WHITESPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "".join(line + "\n" for line in lines if line)


_STATEMENTS: dict[tuple[str, int, int], str] = {}  # a statement's source -> its normalized text


def _statement(lines: list[str], node: ast.stmt) -> str:
    """One top-level statement, normalized; cached by its source, as most statements of an
    edited file are those of the base (ast.unparse is the slow part)."""
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
    key = ("".join(lines[start - 1 : node.end_lineno]), node.col_offset, node.end_col_offset or 0)
    text = _STATEMENTS.get(key)
    if text is None:
        _drop_docstrings(node)
        text = ast.unparse(node) + "\n"
        if len(_STATEMENTS) > 50_000:
            _STATEMENTS.clear()
        _STATEMENTS[key] = text
    return text


@functools.lru_cache(maxsize=64)  # the base files are normalized once for all candidates
def normalize_code(path: str, text: str) -> str:
    """The file's code without comments, docstrings or layout (Python); else its collapsed lines."""
    if not path.endswith((".py", ".pyi")):
        return _collapsed(text)
    try:
        tree = ast.parse(text, filename=path)
        body = tree.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the module docstring (or a bare constant, which does nothing either)
        lines = PYTHON_LINES.findall(text)  # numbered as the parser numbers them (not str.splitlines)
        return "".join(_statement(lines, node) for node in body)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _collapsed(text)


def normalized_patch(base: Mapping[str, str], edited: Mapping[str, str]) -> str:
    """The diff from the normalized base to the normalized edited files; "" when they agree.

    `edited` holds the files changed or created; a created file is compared with an empty one.
    """
    old = {path: normalize_code(path, base.get(path) or "") for path in edited}
    new = {path: normalize_code(path, text) for path, text in edited.items()}
    return unified_diff(old, {path: text for path, text in new.items() if text != old[path]})
