"""File level: the model ranks files from the issue and the tree; retrieval ranks them too; both fuse."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from patchsmith import repo_index
from patchsmith.repo_index import RepoIndex
from patchsmith.repo_index.paths import is_non_source

from patchsmith.localize.answers import PathResolver, answer_lines
from patchsmith.localize.budget import head_and_tail, truncate
from patchsmith.localize.prompts import files_prompt
from patchsmith.localize.results import Element, ExecutionSignal, FileLocations, RankedFile, StepReport
from patchsmith.localize.settings import LocalizeModel, LocalizeSettings

STAGE = "localize.files"


def retrieval_ranking(index: RepoIndex, issue: str, k: int) -> list[str]:
    """The repository's files as repo_index's ranker orders them for the issue, best first."""
    return [hit.path for hit in repo_index.search_files(index, issue, k=k)]


def fuse(rankings: list[list[str]], k: int) -> list[tuple[str, float, set[int]]]:
    """Reciprocal rank fusion: each ranking gives a file 1 / (k + rank). Ties keep first-seen order,
    so the first ranking given wins them."""
    scores: dict[str, float] = {}
    sources: dict[str, set[int]] = {}
    for which, ranking in enumerate(rankings):
        for rank, path in enumerate(ranking, start=1):
            scores[path] = scores.get(path, 0.0) + 1.0 / (k + rank)
            sources.setdefault(path, set()).add(which)
    order = sorted(scores, key=lambda p: -scores[p])  # sorted() is stable: first-seen order on ties
    return [(p, scores[p], sources[p]) for p in order]


def fuse_with_execution(
    rankings: list[list[str]], suspicious: dict[str, float], k: int, weight: float,
    also: Sequence[tuple[dict[str, float], float]] = (),
) -> list[tuple[str, float, set[int]]]:
    """`fuse`, with the execution signal added by its scores rather than its ranks: each ranking
    gives (k + 1) / (k + rank), 1 for a first place, and the signal adds `weight` times the key's
    suspiciousness (0 to 1). Plain reciprocal ranks flatten the signal (1/61 and 1/65 differ
    little), so what every failing run and no passing test executed would lose to whatever two
    rankings both place near the top. The signal's source index is len(rankings). `also` holds
    more scored signals with their weights (traceability), added the same way, indexed after it."""
    scores = {key: (k + 1) * score for key, score, _ in fuse(rankings, k)}
    sources = {key: src for key, _, src in fuse(rankings, k)}
    for which, (scored, scored_weight) in enumerate([(suspicious, weight), *also], start=len(rankings)):
        for key, score in scored.items():
            scores[key] = scores.get(key, 0.0) + scored_weight * score
            sources.setdefault(key, set()).add(which)
    order = sorted(scores, key=lambda key: -scores[key])  # stable: first-seen order on ties
    return [(key, scores[key], sources[key]) for key in order]


def folded_folder(path: str) -> str:
    """The folder a test or documentation file is folded into: up to its first such folder."""
    folders = path.split("/")[:-1]
    for depth, folder in enumerate(folders):
        if is_non_source(folder + "/x"):
            return "/".join(folders[: depth + 1]) + "/"
    return "(test files beside the code)"


def compact_tree(index: RepoIndex, budget: int, count) -> str:  # noqa: ANN001 - count: str -> int
    """The repository's source tree within `budget` tokens: tests and documentation folded into a
    count each, and folders cut off at the deepest level that still fits."""
    source = RepoIndex(index.root, index.commit, {p: e for p, e in index.files.items() if not is_non_source(p)})
    folded = Counter(folded_folder(p) for p in index.files if is_non_source(p))
    note = ""
    if folded:
        listed = ", ".join(f"{folder} ({n} files)" for folder, n in folded.most_common(8))
        more = f" and {len(folded) - 8} more" if len(folded) > 8 else ""
        note = f"\nFolded, tests and documentation: {listed}{more}"
    deepest = max((p.count("/") for p in source.files), default=0)
    tree = ""
    for depth in [None, *range(deepest - 1, 0, -1)]:
        tree = repo_index.tree_view(source, max_depth=depth, parsed_only=True) + note
        if count(tree) <= budget:
            return tree
    return truncate(tree, budget, count)


def prompt_budget(model: LocalizeModel, step_tokens: int, settings: LocalizeSettings) -> int:
    """A step's prompt budget: its own setting, and never beyond the model's context window."""
    return max(256, min(step_tokens, model.context_window - settings.answer_reserve))


def issue_for_prompt(issue: str, model: LocalizeModel, settings: LocalizeSettings, budget: int) -> str:
    """The issue as prompts show it: at most `issue_tokens`, and at most half of the step's budget."""
    return head_and_tail(issue, min(settings.issue_tokens, budget // 2), model.count_tokens)


def model_paths(answer: str, resolver: PathResolver, prefer: list[str], limit: int) -> tuple[list[str], list[str]]:
    """The real paths an answer names, in its order, and what it named that matches no file.
    Each line gives at most one path: its first word that is one (so prose around it does no harm)."""
    found: list[str] = []
    dropped: list[str] = []
    for line in answer_lines(answer):
        misses = []
        for word in line.split():
            if "/" not in word and "." not in word.strip(".,:;"):
                continue
            path = resolver.resolve(word, prefer)
            if path is not None:
                if path not in found:
                    found.append(path)
                break
            if "/" in word or re.search(r"\.(py|pyi|pyx)\W*$", word):  # meant as a path, not prose
                misses.append(word.strip("`'\"*,;:"))
        else:
            dropped.extend(misses)
    return found[:limit], dropped


def localize_files(
    index: RepoIndex, issue: str, model: LocalizeModel, settings: LocalizeSettings, execution: ExecutionSignal | None = None
) -> FileLocations:
    """Files fused from the model's answer, retrieval and, when runs were measured, the files the
    failing runs executed (by suspiciousness)."""
    retrieval = retrieval_ranking(index, issue, settings.retrieval_files)
    hints = retrieval[: settings.retrieval_hint]
    budget = prompt_budget(model, settings.files_tokens, settings)
    issue_text = issue_for_prompt(issue, model, settings, budget)
    fixed = model.count_tokens(files_prompt(issue_text, "", hints, settings.model_files))
    tree = compact_tree(index, budget - fixed, model.count_tokens)
    messages = files_prompt(issue_text, tree, hints, settings.model_files)
    tokens = model.count_tokens(messages)
    answers = model.complete(messages, stage=STAGE, n=1, temperature=0.0)

    resolver = PathResolver(index.files)
    chosen, dropped = model_paths(answers[0], resolver, retrieval, settings.model_files) if answers else ([], [])
    if not answers:
        fallback = "no answer from the model"
    elif not chosen:
        fallback = "the answer named no file of the repository"
    else:
        fallback = ""
    found = FileLocations(
        files=(),
        model_files=tuple(chosen),
        retrieval_files=tuple(retrieval),
        dropped=tuple(dropped),
        report=StepReport("files", tokens, 1, fallback),
    )
    return with_execution(found, execution, settings)


def with_execution(files: FileLocations, execution: ExecutionSignal | None, settings: LocalizeSettings) -> FileLocations:
    """The file ranking fused again from the model's and retrieval's rankings and, when there is one,
    the execution signal's: no model is asked again (the pipeline calls this once runs are measured)."""
    executed = execution.file_ranking[: settings.retrieval_files] if execution else []
    rankings = [list(files.model_files), list(files.retrieval_files)]
    if execution is None:
        fused = fuse(rankings, settings.rrf_k)
    else:
        scores = {f.path: f.score for f in execution.files[: settings.retrieval_files]}
        traced = (execution.traced_scores, settings.traceability_weight)
        named = (execution.named_scores, settings.failure_output_weight)
        named_after = (execution.named_after_scores, settings.test_name_weight)
        fused = fuse_with_execution(rankings, scores, settings.rrf_k, settings.execution_weight, [traced, named, named_after])
    names = ("model", "retrieval", "execution", "traceability", "failure output", "test names")
    ranked = tuple(RankedFile(p, round(s, 6), tuple(names[i] for i in sorted(src))) for p, s, src in fused)
    return replace(files, files=ranked, execution_files=tuple(executed))


def ties_broken_by_elements(files: FileLocations, elements: Sequence[Element]) -> FileLocations:
    """The files in their fused order, ties broken by their best element in `elements` (the element
    step's fused ranking), then by their own order. With measured runs, many files tie at the top
    suspiciousness (a failing run passes through several files only it reaches) and file-level
    retrieval alone breaks those ties; the element step breaks them with definition-level
    evidence, retrieval's and execution's together, which is finer. Evidence that only speaks of
    files (traceability) stays in the file score, so it is not outranked by the elements' order."""
    position: dict[str, int] = {}
    for rank, element in enumerate(elements):
        position.setdefault(element.path, rank)
    ranked = files.files
    order = sorted(range(len(ranked)), key=lambda i: (-ranked[i].score, position.get(ranked[i].path, len(elements)), i))
    return replace(files, files=tuple(ranked[i] for i in order))
