"""Spectrum-based suspiciousness: lines that failing runs execute and passing runs avoid.

Ochiai per line, ef / sqrt(F * (ef + ep)), where F is the number of failing runs, ef of them
executed the line and ep passing runs executed it. An element (function, method) scores
the maximum over the lines inside its span in the index; a file the maximum over its lines. Only
lines in function bodies count (see body_lines).
Ties are broken by retrieval's order, then by path and name. Test and documentation files are never candidates.

The signal's limit: code that no failing run executes scores nothing, so a fix that adds a
missing branch (an `elif` nobody reaches) is found only through the code around it, and a wrong
module-level constant not at all.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol

from patchsmith import repo_index
from patchsmith.repo_index import RepoIndex
from patchsmith.repo_index.search import is_non_source

from patchsmith.localize.results import Element, ExecutionSignal, ScoredElement, ScoredFile


class Run(Protocol):
    """One execution, as sandbox.coverage.CoveredRun gives it."""

    name: str
    failed: bool
    lines: dict[str, tuple[int, ...]]
    output: str  # what a failing run printed (localize.failure_output)


def body_lines(index: RepoIndex, path: str) -> set[int]:
    """The lines inside function and method bodies: what runs when the code is called. Lines run at
    import (`def` and `class` statements, decorators, module and class level) are left out, since a
    script's run counts its imports while a test's context starts after them."""
    text = repo_index.read_text(index, path).splitlines()
    lines: set[int] = set()
    for definition in index.files[path].definitions:
        if definition.kind not in ("function", "method"):
            continue
        header = definition.start
        while header < definition.end and text[header - 1].lstrip().startswith("@"):
            header += 1
        lines.update(range(header + definition.signature.count("\n") + 1, definition.end + 1))
    return lines


def line_scores(runs: Sequence[Run], index: RepoIndex) -> dict[str, dict[int, float]]:
    """Ochiai of every function-body line some failing run executed, per repository source file."""
    failing = [r for r in runs if r.failed]
    if not failing:
        return {}
    failed_hits: dict[tuple[str, int], int] = defaultdict(int)
    passed_hits: dict[tuple[str, int], int] = defaultdict(int)
    for run in runs:
        hits = failed_hits if run.failed else passed_hits
        for path, lines in run.lines.items():
            if is_non_source(path):
                continue
            for line in set(lines):
                hits[(path, line)] += 1
    scores: dict[str, dict[int, float]] = defaultdict(dict)
    bodies: dict[str, set[int]] = {}
    for (path, line), ef in failed_hits.items():
        if path not in index.files:
            continue
        if path not in bodies:
            bodies[path] = body_lines(index, path)
        if line in bodies[path]:
            scores[path][line] = ef / math.sqrt(len(failing) * (ef + passed_hits.get((path, line), 0)))
    return dict(scores)


def _order(scored: dict, retrieval: Sequence) -> list:
    """Highest score first; ties go to the one retrieval ranks better, then by path and name: not by
    the order coverage happened to list the files in, which differs from one measurement to the next."""
    rank = {key: position for position, key in enumerate(retrieval)}
    return sorted(scored, key=lambda key: (-scored[key], rank.get(key, len(rank)), key))


def rank_files(lines: dict[str, dict[int, float]], index: RepoIndex, retrieval: Sequence[str]) -> list[ScoredFile]:
    best = {path: max(scores.values()) for path, scores in lines.items() if path in index.files and scores}
    return [ScoredFile(path, round(best[path], 6)) for path in _order(best, retrieval)]


def rank_elements(
    lines: dict[str, dict[int, float]], index: RepoIndex, retrieval: Sequence[tuple[str, str]]
) -> list[ScoredElement]:
    """Every function and method a failing run entered, by the best line inside its span."""
    best: dict[tuple[str, str], float] = {}
    spans: dict[tuple[str, str], Element] = {}
    for path, scores in lines.items():
        if path not in index.files:
            continue
        for definition in index.files[path].definitions:
            # Only body lines count, so a class always scores what its best method does: it is left
            # out, and the method, which says more, keeps the place.
            if definition.kind in ("variable", "class"):
                continue
            inside = [s for line, s in scores.items() if definition.start <= line <= definition.end]
            if inside:
                key = (path, definition.qualname)
                best[key] = max(max(inside), best.get(key, 0.0))
                spans[key] = Element(path, definition.qualname, definition.kind, definition.start, definition.end)
    return [ScoredElement(spans[key], round(best[key], 6)) for key in _order(best, retrieval)]


def execution_signal(
    runs: Iterable[Run], index: RepoIndex, retrieval_files: Sequence[str], retrieval_elements: Sequence[tuple[str, str]]
) -> ExecutionSignal | None:
    """The execution signal of `runs`, or None when none of them failed (nothing to point at)."""
    runs = list(runs)
    lines = line_scores(runs, index)
    if not lines:
        return None
    return ExecutionSignal(
        runs=tuple((r.name, r.failed) for r in runs),
        files=tuple(rank_files(lines, index, retrieval_files)),
        elements=tuple(rank_elements(lines, index, retrieval_elements)),
    )
