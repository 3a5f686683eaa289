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

from repair.diff import unified_diff

WHITESPACE = re.compile(r"\s+")
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _drop_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if not isinstance(node, DOCUMENTED) or not node.body:
            continue
        first = node.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            node.body = node.body[1:] or [ast.Pass()]


def _collapsed(text: str) -> str:
    lines = (WHITESPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "".join(line + "\n" for line in lines if line)


@functools.lru_cache(maxsize=64)  # the base files are normalized once for all candidates
def normalize_code(path: str, text: str) -> str:
    """The file's code without comments, docstrings or layout (Python); else its collapsed lines."""
    if not path.endswith((".py", ".pyi")):
        return _collapsed(text)
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _collapsed(text)
    _drop_docstrings(tree)
    try:
        return ast.unparse(tree) + "\n"
    except (RecursionError, ValueError):
        return _collapsed(text)


def normalized_patch(base: Mapping[str, str], edited: Mapping[str, str]) -> str:
    """The diff from the normalized base to the normalized edited files; "" when they agree.

    `edited` holds the files changed or created; a created file is compared with an empty one.
    """
    old = {path: normalize_code(path, base.get(path) or "") for path in edited}
    new = {path: normalize_code(path, text) for path, text in edited.items()}
    return unified_diff(old, {path: text for path, text in new.items() if text != old[path]})
