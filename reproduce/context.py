"""The localized code, as text for a prompt, within a character budget."""

from __future__ import annotations

from collections.abc import Sequence

from patchsmith.localize import EditLocation, EditLocations, Localization

FALLBACK_FILES = 3  # files of the ranking used when localization named no lines


# What reproduce accepts as "where the issue is": localize's results, or plain repository paths.
Locations = Localization | EditLocations | Sequence[str]


def location_paths(locations: Locations | None) -> list[str]:
    """The repository paths the locations name, in order, once each."""
    paths: list[str] = []
    for item in _items(locations):
        path = item if isinstance(item, str) else item.path
        if path and path not in paths:
            paths.append(path)
    return paths


def _items(locations: Locations | None) -> list[EditLocation | str]:
    """Edit locations are preferred: they are where the fix goes; without any, the top files of
    the file ranking stand in."""
    if locations is None:
        return []
    if isinstance(locations, str):
        return [locations]
    if isinstance(locations, Localization):
        return list(locations.edits.union) or list(locations.files.paths[:FALLBACK_FILES])
    if isinstance(locations, EditLocations):
        return list(locations.union)
    return list(locations)


def _file_view(index: object, path: str, ranges: list[tuple[int, int]], room: int) -> str:
    """The located lines with context; a whole file when no lines are known and it fits; else its skeleton."""
    from patchsmith import repo_index

    if ranges:
        return repo_index.line_snippets(index, path, ranges)
    text = repo_index.read_text(index, path)
    return repo_index.file_skeleton(index, path) if len(text) > room else text


def code_context(index: object | None, locations: Locations | None, max_chars: int) -> str:
    """Line-numbered snippets of the located lines (or each file's skeleton when no lines are
    known), best location first, stopping before `max_chars`. Without an index, just the paths."""
    paths = location_paths(locations)
    if index is None or not paths:
        return "\n".join(f"- {path}" for path in paths)
    ranges: dict[str, list[tuple[int, int]]] = {path: [] for path in paths}
    for item in _items(locations):
        if not isinstance(item, str) and item.path in ranges and item.start and item.end:
            ranges[item.path].append((item.start, item.end))
    sections: list[str] = []
    used = 0
    for path in paths:
        if path not in getattr(index, "files", {}):
            continue
        body = _file_view(index, path, ranges[path], max_chars - used)
        section = f"## {path}\n```python\n{body.rstrip()}\n```"
        if used + len(section) > max_chars:
            break
        sections.append(section)
        used += len(section)
    return "\n\n".join(sections) or "\n".join(f"- {path}" for path in paths)
