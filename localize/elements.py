"""Element level: the model reads the top files' skeletons and names classes, functions and variables."""

from __future__ import annotations

from patchsmith import repo_index
from patchsmith.repo_index import Definition, RepoIndex

from patchsmith.localize.answers import PathResolver, find_definition, parse_elements
from patchsmith.localize.budget import take_ranked
from patchsmith.localize.files import fuse_with_execution, issue_for_prompt, prompt_budget
from patchsmith.localize.prompts import elements_prompt
from patchsmith.localize.results import Element, ElementLocations, ExecutionSignal, FileLocations, StepReport
from patchsmith.localize.settings import LocalizeModel, LocalizeSettings

STAGE = "localize.elements"


def _element(d: Definition) -> Element:
    return Element(d.path, d.qualname, d.kind, d.start, d.end)


def retrieval_elements(index: RepoIndex, issue: str, paths: list[str], limit: int) -> list[Element]:
    """The definitions repo_index's ranker finds for the issue inside `paths`, best first."""
    wanted = set(paths)
    hits = repo_index.search_definitions(index, issue, k=max(50, limit * 5))
    found: list[Element] = []
    for hit in hits:
        if hit.path not in wanted:
            continue
        definition = find_definition(index, hit.path, hit.qualname)
        if definition is not None and _element(definition) not in found:
            found.append(_element(definition))
    return found[:limit]


def named_elements(
    index: RepoIndex, answer: str, shown: list[str], resolver: PathResolver
) -> tuple[list[Element], list[str]]:
    """The definitions an answer names, checked against the index, and the names it does not know."""
    found: list[Element] = []
    dropped: list[str] = []
    for named in parse_elements(answer):
        path = resolver.resolve(named.path, shown) if named.path else None
        # A name under a wrong or missing path is looked for in the files the model was shown.
        candidates = ([path] if path else []) + [p for p in shown if p != path]
        definition = next((d for p in candidates if (d := find_definition(index, p, named.name))), None)
        if definition is None:
            dropped.append(f"{named.path}::{named.name}" if named.path else named.name)
        elif _element(definition) not in found:
            found.append(_element(definition))
    return found, dropped


def element_key(element: Element) -> str:
    return f"{element.path}::{element.qualname}"


def executed_lines(execution: ExecutionSignal | None, limit: int) -> list[str]:
    """The prompt's note of what the failing runs executed: the most suspicious elements, scored."""
    if execution is None:
        return []
    return [f"{element_key(e.element)} {e.score:.2f}" for e in execution.elements[:limit]]


def class_scores(answered: list[Element], execution: ExecutionSignal) -> dict[str, tuple[float, str]]:
    """A class the step ranks scores what its best executed method does: {class key: (score, that
    method's key)}. Only body lines are measured, so a class has no score of its own, yet a fix
    often belongs to it as a whole (a class-level attribute or declaration that its methods read);
    what the failing runs did in its methods is evidence for it. Classes the step did not rank get
    nothing, so the execution signal alone never adds a class next to each of its methods."""
    best: dict[str, tuple[float, str]] = {}
    for answer in answered:
        if answer.kind != "class":
            continue
        inside = [(s.score, element_key(s.element)) for s in execution.elements
                  if s.element.path == answer.path and s.element.qualname.startswith(answer.qualname + ".")]
        if inside:
            best[element_key(answer)] = max(inside, key=lambda pair: pair[0])
    return best


def fuse_elements(answered: list[Element], execution: ExecutionSignal | None, settings: LocalizeSettings) -> list[Element]:
    """The step's own ranking (the model's or retrieval's) fused with the execution signal's scores
    (files.fuse_with_execution); the step's own ranking wins ties. A class that takes a method's
    score (class_scores) is placed after that method when it would rank above it: its evidence is
    the method's, which says more."""
    if execution is None:
        return answered
    executed = execution.elements[: settings.retrieval_files]
    by_key = {element_key(e): e for e in [*(s.element for s in [*executed, *execution.named_after]), *answered]}
    scores = {element_key(s.element): s.score for s in executed}
    classes = class_scores(answered, execution)
    scores.update({key: score for key, (score, _) in classes.items()})
    named_after = ({element_key(s.element): s.score for s in execution.named_after}, settings.test_name_weight)
    fused = [key for key, _, _ in fuse_with_execution([[element_key(e) for e in answered]], scores, settings.rrf_k,
                                                      settings.execution_weight, [named_after])]
    for key, (_, method) in classes.items():
        if method in fused and fused.index(key) < fused.index(method):
            fused.remove(key)
            fused.insert(fused.index(method) + 1, key)
    return [by_key[key] for key in fused]


def localize_elements(
    index: RepoIndex, issue: str, files: FileLocations, model: LocalizeModel, settings: LocalizeSettings,
    execution: ExecutionSignal | None = None,
) -> ElementLocations:
    top = [p for p in files.paths if p in index.files][: settings.top_files]
    budget = prompt_budget(model, settings.elements_tokens, settings)
    issue_text = issue_for_prompt(issue, model, settings, budget)
    executed = executed_lines(execution, settings.max_elements)
    fixed = model.count_tokens(elements_prompt(issue_text, [], executed))
    blocks = [f"### {path}\n{repo_index.file_skeleton(index, path).rstrip()}" for path in top]
    kept = take_ranked(blocks, budget - fixed, model.count_tokens)
    shown = top[: len(kept)]
    messages = elements_prompt(issue_text, kept, executed)
    tokens = model.count_tokens(messages)
    answers = model.complete(messages, stage=STAGE, n=1, temperature=0.0) if kept else []

    found, dropped = named_elements(index, answers[0], shown, PathResolver(index.files)) if answers else ([], [])
    fallback = ""
    if not kept:
        fallback, tokens = "no file to outline", 0
    elif not answers:
        fallback = "no answer from the model"
    elif not found:
        fallback = "the answer named nothing the index knows"
    if fallback:
        found = retrieval_elements(index, issue, shown or top, settings.max_elements)
    rankings = {"retrieval" if fallback else "model": tuple(element_key(e) for e in found)}
    if execution is not None:
        rankings["execution"] = tuple(element_key(e.element) for e in execution.elements[: settings.retrieval_files])
    return ElementLocations(
        elements=tuple(fuse_elements(found, execution, settings)[: settings.max_elements]),
        dropped=tuple(dropped),
        report=StepReport("elements", tokens, 1 if kept else 0, fallback),
        rankings=rankings,
    )
