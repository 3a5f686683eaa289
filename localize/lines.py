"""Line level: the model reads the elements' code, line-numbered, and names the lines to edit.

Several answers at a temperature give separate location sets (later stages can try each);
their union is kept as well.
"""

from __future__ import annotations

from patchsmith import repo_index
from patchsmith.repo_index import RepoIndex

from patchsmith.localize.answers import PathResolver, enclosing_definition, find_definition, parse_locations
from patchsmith.localize.budget import take_ranked
from patchsmith.localize.files import issue_for_prompt, prompt_budget
from patchsmith.localize.prompts import lines_prompt
from patchsmith.localize.results import EditLocation, EditLocations, Element, ElementLocations, FileLocations, StepReport
from patchsmith.localize.settings import LocalizeModel, LocalizeSettings

STAGE = "localize.lines"


def _shown_range(element: Element, settings: LocalizeSettings) -> tuple[int, int]:
    return element.start, min(element.end, element.start + settings.max_element_lines - 1)


def _element_name(index: RepoIndex, path: str, start: int, end: int) -> str:
    definition = enclosing_definition(index, path, start, end)
    return definition.qualname if definition else ""


def merge(locations: list[EditLocation], index: RepoIndex) -> list[EditLocation]:
    """Overlapping or touching ranges of one file joined; files in first-named order."""
    by_path: dict[str, list[EditLocation]] = {}
    for location in locations:
        by_path.setdefault(location.path, []).append(location)
    merged: list[EditLocation] = []
    for path, group in by_path.items():
        group.sort(key=lambda loc: (loc.start, loc.end))
        current = group[0]
        for location in group[1:]:
            if location.start <= current.end + 1:
                end = max(current.end, location.end)
                element = current.element if current.element == location.element else _element_name(index, path, current.start, end)
                current = EditLocation(path, current.start, end, element)
            else:
                merged.append(current)
                current = location
        merged.append(current)
    return merged


def answer_locations(index: RepoIndex, answer: str, resolver: PathResolver, shown: list[str]) -> list[EditLocation]:
    """The edit locations an answer gives, in files that exist and lines those files have."""
    found: list[EditLocation] = []
    for named in parse_locations(answer):
        path = resolver.resolve(named.path, shown)
        if path is None:
            continue
        n_lines = index.files[path].n_lines
        start, end = sorted((named.start, named.end))
        if start < 1 or start > n_lines:
            continue
        end = min(end, n_lines)
        definition = find_definition(index, path, named.element) if named.element else None
        element = definition.qualname if definition else _element_name(index, path, start, end)
        found.append(EditLocation(path, start, end, element))
    return merge(found, index)


def fallback_elements(index: RepoIndex, files: FileLocations, settings: LocalizeSettings) -> list[Element]:
    """With no element found, the top file from its first line stands in for one."""
    for path in files.paths:
        if path in index.files and index.files[path].n_lines:
            return [Element(path, "", "file", 1, index.files[path].n_lines)]
    return []


def narrowest(elements: list[Element]) -> list[Element]:
    """The elements without those that hold another one of them (a class whose method is there)."""
    return [
        outer
        for outer in elements
        if not any(
            inner is not outer and inner.path == outer.path and outer.start <= inner.start and inner.end <= outer.end
            and (inner.start, inner.end) != (outer.start, outer.end)
            for inner in elements
        )
    ]


def render_snippets(index: RepoIndex, elements: list[Element], settings: LocalizeSettings) -> list[str]:
    """One block per file, files in the order of their best-ranked element, each element's lines
    with context (windows that overlap are shown once)."""
    by_path: dict[str, list[Element]] = {}
    for element in elements:
        by_path.setdefault(element.path, []).append(element)
    blocks = []
    for path, group in by_path.items():
        names = ", ".join(f"{e.qualname or 'the file'} {e.start}-{e.end}" for e in group)
        ranges = [_shown_range(e, settings) for e in group]
        snippet = repo_index.line_snippets(index, path, ranges, context=settings.context_lines)
        blocks.append(f"### {path} ({names})\n{snippet.rstrip()}")
    return blocks


def fit_snippets(
    index: RepoIndex, elements: list[Element], budget: int, count, settings: LocalizeSettings  # noqa: ANN001
) -> tuple[list[str], list[Element]]:
    """The snippets of the best-ranked elements that fit `budget`, dropping from the lowest rank up;
    the first element's block is cut to fit when it alone does not."""
    for keep in range(len(elements), 0, -1):
        blocks = render_snippets(index, elements[:keep], settings)
        if sum(count(b) + 2 for b in blocks) <= budget:
            return blocks, elements[:keep]
    if not elements:
        return [], []
    return take_ranked(render_snippets(index, elements[:1], settings), budget, count), elements[:1]


def localize_lines(
    index: RepoIndex,
    issue: str,
    elements: ElementLocations,
    files: FileLocations,
    model: LocalizeModel,
    settings: LocalizeSettings,
) -> EditLocations:
    candidates = list(elements.elements) or fallback_elements(index, files, settings)
    budget = prompt_budget(model, settings.lines_tokens, settings)
    issue_text = issue_for_prompt(issue, model, settings, budget)
    fixed = model.count_tokens(lines_prompt(issue_text, []))
    kept, shown_elements = fit_snippets(index, candidates, budget - fixed, model.count_tokens, settings)
    shown_paths = list(dict.fromkeys(e.path for e in shown_elements))
    messages = lines_prompt(issue_text, kept)
    tokens = model.count_tokens(messages) if kept else 0
    n = max(1, settings.line_samples)
    temperature = settings.temperature if n > 1 else 0.0
    answers = model.complete(messages, stage=STAGE, n=n, temperature=temperature) if kept else []

    resolver = PathResolver(index.files)
    samples = [locs for answer in answers if (locs := answer_locations(index, answer, resolver, shown_paths))]
    fallback = ""
    if not samples:
        fallback = "no answer from the model" if not answers else "no answer named lines of the repository"
        if not kept:
            fallback = "nothing to show the model"
        spans = [EditLocation(e.path, *_shown_range(e, settings), e.qualname) for e in narrowest(shown_elements or candidates)]
        samples = [merge(spans, index)] if spans else []
    union = merge([loc for sample in samples for loc in sample], index)
    return EditLocations(
        samples=tuple(tuple(s) for s in samples),
        union=tuple(union),
        report=StepReport("lines", tokens, n if kept else 0, fallback),
    )
