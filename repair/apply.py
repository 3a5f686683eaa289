"""Applying SEARCH/REPLACE edits to the files they name.

Each edit is located in its file's current text (edits apply in order, so a
later one may build on an earlier one):

1. Exact: the SEARCH lines equal lines of the file (line ends aside).
2. Whitespace-insensitive: they equal after stripping each line's leading and
   trailing whitespace. The replacement is then re-indented. Its frame is the
   file's own indentation or the one the SEARCH side was written in (the shift
   most SEARCH lines agree on, so a few mistyped lines do not count); the lines
   the replacement keeps from the SEARCH side choose between the two. Kept
   lines are written byte for byte as the file has them (trailing spaces, CRLF).
   When nothing tells the frame, the edit is refused.
3. When neither finds the SEARCH text, blank lines padding its ends (and as
   many padding the replacement's ends) are dropped and the search repeated.

A match must be unique. When several places match, only evidence picks one:
the line hint, or, for a single exact match among whitespace-insensitive ones,
that no other place fits the replacement's indentation better. Without such
evidence the edit is refused, never guessed. Nothing here raises on bad input:
an edit that cannot be applied gets an outcome with the reason.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from patchsmith.repair.edits import Edit
from patchsmith.repo_index.paths import written_path


@dataclass(frozen=True)
class EditOutcome:
    path: str
    applied: bool
    match: str = ""  # "exact" | "whitespace" | "new file"; "" when not applied
    line: int = 0  # 1-based line where the SEARCH text was found, in the file as it was then
    reason: str = ""  # why it was not applied


def split_lines(text: str) -> list[str]:
    """Lines with their "\\n" kept, split on "\\n" only (str.splitlines also splits on \\f, \\x1c, ...)."""
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _body(line: str) -> str:
    return line.removesuffix("\n").removesuffix("\r")


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _reindent(indent: str, source: str, target: str) -> str | None:
    """Map an indentation from the frame where `source` is the reference to the one where `target` is."""
    if indent.startswith(source):
        return target + indent[len(source) :]
    missing = len(source) - len(indent)
    if source.startswith(indent) and missing <= len(target):
        return target[: len(target) - missing]
    return None


NOT_FOUND = "SEARCH text not found"


@dataclass
class _Match:
    start: int  # index of the first matched line
    exact: bool


def _windows(keys: list[str], needle: list[str]) -> list[int]:
    first, last, size = needle[0], needle[-1], len(needle)
    return [
        i
        for i in range(len(keys) - size + 1)
        if keys[i] == first and keys[i + size - 1] == last and keys[i : i + size] == needle
    ]


def common_ends(old: list[str], new: list[str]) -> tuple[int, int]:
    """How many leading and trailing lines the two lists share (never overlapping)."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return head, tail


def _anchors(replace: list[str], search: list[str]) -> list[tuple[int, int]]:
    """Pairs (replace index, search index) of lines the edit keeps, compared without whitespace."""
    old = [line.strip() for line in search]
    new = [line.strip() for line in replace]
    # The kept lines are mostly the context at both ends; pair those directly, and leave only the
    # middle to SequenceMatcher (whose autojunk keeps huge answers from taking quadratic time).
    head, tail = common_ends(old, new)
    pairs = [(k, k) for k in range(head)]
    matcher = difflib.SequenceMatcher(None, old[head : len(old) - tail], new[head : len(new) - tail])
    pairs += [
        (head + block.b + k, head + block.a + k)
        for block in matcher.get_matching_blocks()
        for k in range(block.size)
    ]
    pairs += [(len(new) - tail + k, len(old) - tail + k) for k in range(tail)]
    return pairs


def _fit(file_lines: list[str], start: int, replace: list[str], anchors: list[tuple[int, int]]) -> int:
    """How many kept lines of the replacement indent exactly as the file does at `start`."""
    return sum(
        1
        for j, i in anchors
        if replace[j].strip() and _indent(replace[j]) == _indent(_body(file_lines[start + i]))
    )


def _nearest(candidates: list[int], hint_index: int, size: int) -> int | None:
    """The one candidate strictly nearest the hinted line, or None on a tie."""

    def distance(start: int) -> int:
        if start <= hint_index < start + size:
            return 0
        return min(abs(hint_index - start), abs(hint_index - (start + size - 1)))

    ranked = sorted(candidates, key=distance)
    if len(ranked) > 1 and distance(ranked[0]) == distance(ranked[1]):
        return None
    return ranked[0]


def _locate(
    file_lines: list[str], search: list[str], replace: list[str], hint_index: int | None
) -> _Match | str:
    exact = _windows([_body(line) for line in file_lines], search)
    loose = _windows([line.strip() for line in file_lines], [line.strip() for line in search])
    if not loose:
        return f"{NOT_FOUND} (first line: {search[0].strip()[:60]!r})."
    pool = exact or loose
    chosen: int | None
    if len(pool) == 1:
        chosen = pool[0]
    elif hint_index is not None:
        chosen = _nearest(pool, hint_index, len(search))
        if chosen is None:
            return f"SEARCH text matches {len(pool)} places equally near the line hint."
    else:
        where = ", ".join(str(i + 1) for i in pool[:5])
        return f"SEARCH text is not unique: it matches {len(pool)} places (lines {where}); add context lines."
    if len(loose) > 1 and hint_index is not None:
        nearest = _nearest(loose, hint_index, len(search))
        if nearest is not None and nearest != chosen:
            return f"SEARCH text matches line {chosen + 1} exactly, but the line hint points at line {nearest + 1}."
    if len(loose) > 1 and hint_index is None and len(exact) == 1:
        # An exact match may still be the wrong place when the SEARCH side's whitespace was
        # mistyped; the lines the replacement keeps then indent like the right place.
        anchors = _anchors(replace, search)
        best = max(loose, key=lambda start: _fit(file_lines, start, replace, anchors))
        if _fit(file_lines, best, replace, anchors) > _fit(file_lines, chosen, replace, anchors):
            return (
                f"SEARCH text matches line {chosen + 1} exactly, but the replacement's indentation "
                f"fits line {best + 1}; add context lines."
            )
    return _Match(start=chosen, exact=chosen in exact)


def _usual_shifts(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (source, target) re-indentations that map the most pairs' first indentation onto their
    second: one when a plurality agrees, several on a tie; one per distinct effect on the pairs."""
    votes: dict[tuple, int] = {}
    shifts: dict[tuple, tuple[str, str]] = {}
    for candidate in dict.fromkeys(pairs):
        effect = tuple(_reindent(s, *candidate) == f for s, f in pairs)
        if effect not in votes:
            votes[effect], shifts[effect] = sum(effect), candidate
    top = max(votes.values(), default=0)
    return [shifts[effect] for effect, count in votes.items() if count == top]


def _frame(window: list[str], search: list[str], replace: list[str], anchors) -> tuple[str, str] | None | str:
    """How to indent the replacement: None to keep it as written (it is in the file's indentation),
    (source, target) to re-indent it, or a sentence when that cannot be told."""
    file_lines = [_body(line) for line in window]
    # The SEARCH side's lines correspond one to one with the file's, and carry no intended change:
    # the shift most of them agree on is the indentation the model wrote in (mistyped lines
    # scatter and rarely outvote it).
    usual = _usual_shifts([(_indent(s), _indent(f)) for s, f in zip(search, file_lines) if s.strip()])
    shifts = [shift for shift in usual if shift[0] != shift[1]]
    if len(usual) == 1 and not shifts:
        return None
    # The replacement may still be in the file's indentation (the SEARCH side mistyped as a
    # whole), and a tie among SEARCH shifts needs settling: the lines the replacement keeps tell.
    # They may be re-indented on purpose, so they only choose among those frames, never suggest
    # another, and only a strict winner counts.
    kept = [(_indent(replace[j]), _indent(file_lines[i])) for j, i in anchors if replace[j].strip()]
    frames: list[tuple[str, str] | None] = [None, *shifts]
    support = [sum(1 for r, f in kept if (r if frame is None else _reindent(r, *frame)) == f) for frame in frames]
    best = max(support)
    if best and support.count(best) == 1:
        return frames[support.index(best)]
    if not kept:
        if len(usual) == 1:
            return usual[0]  # nothing to compare: both sides were written in one indentation
        first_new = next((line for line in replace if line.strip()), "")
        first_old = next((line for line in file_lines if line.strip()), "")
        if _indent(first_new) == _indent(first_old):
            return None
    return "cannot tell how to indent the replacement: its indentation fits neither the file nor the SEARCH side."


def _new_lines(window: list[str], search: list[str], replace: list[str], eol: str) -> list[str] | str:
    """The replacement for a whitespace-insensitive match, in the file's indentation."""
    anchors = _anchors(replace, search)
    frame = _frame(window, search, replace, anchors)
    if isinstance(frame, str):
        return frame
    kept_at = dict(anchors)
    out: list[str] = []
    for j, line in enumerate(replace):
        if frame is not None and line.strip():
            indent = _reindent(_indent(line), *frame)
            if indent is None:
                return f"cannot re-indent replacement line {line.strip()[:60]!r}."
            line = indent + line.lstrip()
        i = kept_at.get(j)
        if i is not None and line.rstrip() == _body(window[i]).rstrip():
            out.append(window[i])  # unchanged: keep the file's own bytes
        else:
            out.append(line + eol)
    return out


def _eol(lines: list[str]) -> str:
    crlf = sum(1 for line in lines if line.endswith("\r\n"))
    return "\r\n" if crlf * 2 > len(lines) else "\n"


def _apply_one(text: str, edit: Edit, hint_index: int | None) -> tuple[str, EditOutcome]:
    file_lines = split_lines(text)
    search = [_body(line) for line in split_lines(edit.search)]
    replace = [_body(line) for line in split_lines(edit.replace)]
    found = _locate(file_lines, search, replace, hint_index)
    trimmed = False
    if isinstance(found, str) and found.startswith(NOT_FOUND):
        # Models often pad the SEARCH side with a blank line the file does not have there.
        lead = next((k for k, line in enumerate(search) if line.strip()), 0)
        trail = next((k for k, line in enumerate(reversed(search)) if line.strip()), 0)
        if lead or trail:
            new_lead = min(lead, next((k for k, line in enumerate(replace) if line.strip()), len(replace)))
            new_trail = min(trail, next((k for k, line in enumerate(reversed(replace)) if line.strip()), 0))
            search = search[lead : len(search) - trail]
            replace = replace[new_lead : len(replace) - new_trail]
            hint = None if hint_index is None else hint_index + lead
            found = _locate(file_lines, search, replace, hint)  # its reason names a line with text
            trimmed = not isinstance(found, str)
    if isinstance(found, str):
        return text, EditOutcome(edit.path, False, reason=found)
    eol = _eol(file_lines)
    start, stop = found.start, found.start + len(search)
    window = file_lines[start:stop]
    if found.exact:
        new = [line + eol for line in replace]
    else:
        new = _new_lines(window, search, replace, eol)
        if isinstance(new, str):
            return text, EditOutcome(edit.path, False, reason=new)
    if stop == len(file_lines) and not file_lines[-1].endswith("\n") and new:
        new[-1] = new[-1].removesuffix("\n").removesuffix("\r")  # keep "no newline at end of file"
    result = "".join(file_lines[:start] + new + file_lines[stop:])
    match = "exact" if found.exact and not trimmed else "whitespace"
    return result, EditOutcome(edit.path, True, match=match, line=start + 1)


def safe_path(path: str) -> bool:
    """A relative path that stays inside the repository, outside any .git folder (hooks and config
    there run code), and that git and a file system can hold."""
    parts = path.split("/")
    return (
        bool(path)
        and not path.startswith("/")
        and ".." not in parts
        and not any(part.casefold() == ".git" for part in parts)
        and ":" not in parts[0]
        and not any(ord(char) < 32 for char in path)
    )


def apply_edits(
    files: Mapping[str, str], edits: Sequence[Edit]
) -> tuple[dict[str, str], tuple[EditOutcome, ...]]:
    """Apply `edits` in order to `files` ({path: text}); the files changed or created, and one outcome per edit.

    `files` may be a lazy mapping (read from git on demand); it is never modified.
    """
    changed: dict[str, str] = {}
    outcomes: list[EditOutcome] = []
    # Per file, (first line, lines removed, lines added) of each edit applied, to move later hints.
    shifts: dict[str, list[tuple[int, int, int]]] = {}
    for edit in edits:
        path = edit.path
        if not safe_path(path):
            outcomes.append(EditOutcome(path, False, reason=f"unsafe path {path[:80]!r}."))
            continue
        if path not in changed and path not in files:  # a path copied from a diff header, say
            path = written_path(path, files)
        # Each file is read from `files` once (it may be read from git on demand).
        text = changed[path] if path in changed else files.get(path)
        if not edit.search:
            if text:
                outcomes.append(EditOutcome(path, False, reason="empty SEARCH, but the file already exists."))
            elif not edit.replace:
                outcomes.append(EditOutcome(path, False, reason="empty SEARCH and empty REPLACE."))
            else:
                changed[path] = edit.replace
                outcomes.append(EditOutcome(path, True, match="new file", line=1))
            continue
        if text is None:
            outcomes.append(EditOutcome(path, False, reason=f"file not found: {path[:120]}."))
            continue
        hint_index = None
        if edit.line_hint > 0:
            hint_index = edit.line_hint - 1
            for first, removed, added in shifts.get(path, []):
                if first <= hint_index:
                    hint_index += added - removed
        new_text, outcome = _apply_one(text, edit, hint_index)
        if outcome.applied:
            changed[path] = new_text
            shifts.setdefault(path, []).append(
                (outcome.line - 1, len(split_lines(edit.search)), len(split_lines(edit.replace)))
            )
        outcomes.append(outcome)
    return changed, tuple(outcomes)
