"""The localized code, as text for a prompt, within a character budget."""

from __future__ import annotations

from collections.abc import Iterable

FALLBACK_FILES = 3  # files of the ranking used when localization named no lines


def location_paths(locations: object) -> list[str]:
    """The repository paths named by localize's result (or by a plain list of paths), in order, once each."""
    paths: list[str] = []
    for item in _items(locations):
        path = item if isinstance(item, str) else getattr(item, "path", None)
        if isinstance(path, str) and path and path not in paths:
            paths.append(path)
    return paths


def _items(locations: object) -> Iterable[object]:
    """Location items from localize's results (Localization, EditLocations, FileLocations) or a
    plain sequence of paths or objects with a `path`. Edit locations are preferred: they are where
    the fix goes; without any, the top files of the file ranking stand in."""
    if locations is None:
        return ()
    if isinstance(locations, str):
        return (locations,)
    edits = getattr(locations, "edits", locations)
    if getattr(edits, "union", None):
        return list(edits.union)
    files = getattr(locations, "files", locations)
    if hasattr(files, "paths"):
        return list(files.paths[:FALLBACK_FILES])
    if hasattr(locations, "union") or hasattr(locations, "files"):
        return ()
    return list(locations)  # type: ignore[call-overload]


def _ranges(item: object) -> list[tuple[int, int]]:
    ranges = getattr(item, "ranges", None) or getattr(item, "line_ranges", None)
    if ranges:
        return [(int(start), int(end)) for start, end in ranges]
    start, end = getattr(item, "start", 0), getattr(item, "end", 0)
    return [(int(start), int(end))] if start and end else []


def _file_view(index: object, path: str, ranges: list[tuple[int, int]], room: int) -> str:
    """The located lines with context; a whole file when no lines are known and it fits; else its skeleton."""
    from patchsmith import repo_index

    if ranges:
        return repo_index.line_snippets(index, path, ranges)
    text = repo_index.read_text(index, path)
    return repo_index.file_skeleton(index, path) if len(text) > room else text


def code_context(index: object | None, locations: object, max_chars: int) -> str:
    """Line-numbered snippets of the located lines (or each file's skeleton when no lines are
    known), best location first, stopping before `max_chars`. Without an index, just the paths."""
    paths = location_paths(locations)
    if index is None or not paths:
        return "\n".join(f"- {path}" for path in paths)
    ranges: dict[str, list[tuple[int, int]]] = {path: [] for path in paths}
    for item in _items(locations):
        path = item if isinstance(item, str) else getattr(item, "path", None)
        if path in ranges and not isinstance(item, str):
            ranges[path].extend(_ranges(item))
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
