"""The repair prompt: the issue, the reproduction script when there is one, and the code around
each edit location, followed by the edit format the answer must use."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from patchsmith.repo_index import RepoIndex
from patchsmith.repo_index.prompt import estimate_tokens, line_snippets

from patchsmith.repair.edits import FORMAT_HELP

_SYSTEM = (
    "You are an experienced software engineer. You fix bugs with the smallest correct change, "
    "keeping the surrounding code's style."
)

def code_context(
    index: RepoIndex, locations: Iterable[object], *, context_lines: int, budget_tokens: int
) -> str:
    """Numbered code around each location (objects with path, start, end), merged per file; files
    are added in the order the locations name them until the token budget is spent."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    for location in locations:
        path = getattr(location, "path")
        if path in index.files:
            ranges.setdefault(path, []).append((int(getattr(location, "start")), int(getattr(location, "end"))))
    parts: list[str] = []
    used = 0
    for path, spans in ranges.items():
        part = f"### {path}\n{line_snippets(index, path, spans, context=context_lines)}\n"
        cost = estimate_tokens(part)
        if parts and used + cost > budget_tokens:
            break  # later locations rank lower; the first file is always shown
        parts.append(part)
        used += cost
    return "\n".join(parts)


def repair_messages(
    issue_text: str,
    index: RepoIndex,
    locations: Sequence[object],
    *,
    repro_script: str = "",
    context_lines: int = 15,
    budget_tokens: int = 12_000,
) -> list[dict[str, str]]:
    sections = [f"# Issue\n\n{issue_text.strip()}"]
    code = code_context(index, locations, context_lines=context_lines, budget_tokens=budget_tokens)
    sections.append(f"# Relevant code (line numbers on the left are not part of the files)\n\n{code}")
    if repro_script.strip():
        sections.append(
            "# A script that reproduces the issue\n\nIt prints `PATCHSMITH_VERDICT: reproduced` now; "
            f"after your fix it should print `PATCHSMITH_VERDICT: resolved`.\n\n```python\n{repro_script.rstrip()}\n```"
        )
    sections.append(
        "# Your answer\n\nFix the issue with the smallest correct change. The line numbers on the left of the "
        "code above are not part of the files; do not copy them into SEARCH lines.\n\n" + FORMAT_HELP
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": "\n\n".join(sections)}]
