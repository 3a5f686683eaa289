"""Normalizing scripts so that samples differing only in comments, docstrings or names vote together."""

from __future__ import annotations

import ast
import builtins
import io
import tokenize
from collections.abc import Sequence

_BUILTINS = frozenset(dir(builtins))


class _Renamer(ast.NodeTransformer):
    """Renames every name the script binds itself (variables, functions, classes, arguments,
    import aliases) to v0, v1, ... in order of first appearance. Names it only reads (builtins,
    imported modules' attributes) keep their meaning, so different API calls stay different."""

    def __init__(self, bound: set[str]) -> None:
        self.bound = bound
        self.names: dict[str, str] = {}

    def _new(self, name: str) -> str:
        if name not in self.bound:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._new(node.arg)
        node.annotation = None
        return node

    def _visit_def(self, node):
        node.name = self._new(node.name)
        self.generic_visit(node)
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _visit_def

    def visit_alias(self, node: ast.alias) -> ast.AST:
        if node.asname:
            node.asname = self._new(node.asname)
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        if node.name:
            node.name = self._new(node.name)
        self.generic_visit(node)
        return node


def _bound_names(tree: ast.AST) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias) and node.asname:
            bound.add(node.asname)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound - _BUILTINS


def _drop_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]


def _without_comments(source: str) -> str:
    """Fallback for text that does not parse: drop comments and blank lines, collapse blanks."""
    kept: list[tuple[int, str]] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type != tokenize.COMMENT:
                kept.append((token.type, token.string))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # keep what was read before the error (an unclosed bracket fails only at the end)
    if kept:
        source = tokenize.untokenize(kept)
    return "\n".join(" ".join(line.split()) for line in source.splitlines() if line.strip())


def normalize_script(source: str) -> str:
    """A canonical form: no comments, no docstrings, locally bound names renamed, layout unified."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return _without_comments(source)
    _drop_docstrings(tree)
    tree = _Renamer(_bound_names(tree)).visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree))


def majority_groups(scripts: Sequence[str]) -> list[list[int]]:
    """Indices of `scripts` grouped by normalized form: largest group first, then by earliest
    member, so the first index of the first group is the majority choice with ties going to the
    earliest sample."""
    groups: dict[str, list[int]] = {}
    for index, script in enumerate(scripts):
        groups.setdefault(normalize_script(script), []).append(index)
    return sorted(groups.values(), key=lambda members: (-len(members), members[0]))
