"""The edit format a model answers in, and its parser.

A model proposes a fix as one or more blocks, each naming its file::

    @@@ FILE path/to/module.py
    @@@ SEARCH line 120
    <lines copied from the file, unchanged>
    @@@ REPLACE
    <the lines to put in their place>
    @@@ END

- ``@@@ FILE <path>`` names the file, relative to the repository root. Several
  SEARCH/REPLACE pairs may follow one FILE line; each applies to that file.
- ``@@@ SEARCH`` opens the lines to find. They must be whole lines, copied from
  the file; a few unchanged lines around the change make the match unique.
  ``line N`` after SEARCH is optional: the line number where the SEARCH text
  starts in the original file. It is used only to choose between places that
  match equally well, never to force a match.
- ``@@@ REPLACE`` separates the old lines from the new ones.
- ``@@@ END`` closes the block.
- An empty SEARCH creates a new file (the path must not exist yet); an empty
  REPLACE deletes the lines found.

Markers are whole lines; surrounding spaces and the keyword's case do not
matter. The parser tolerates what models add around blocks: prose before,
between and after them, markdown fences around a block or around its sections
(for files that are not markup or plain text), CRLF line ends, and a missing
newline at the very end. A block whose END is missing is still closed by the
next FILE or SEARCH marker; one cut off by the end of the answer is reported
as truncated. Nothing here raises on bad input: every malformed block becomes
a sentence in ``ParsedAnswer.problems``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER = re.compile(r"^\s*@@@\s*(FILE|SEARCH|REPLACE|END)\b(.*)$", re.IGNORECASE)
LINE_HINT = re.compile(r"\d+")
FENCE = re.compile(r"^\s*(```|~~~)")
# Markup and plain text may hold fence lines for real, so their sections are kept as written.
KEEP_FENCES = (".md", ".markdown", ".rst", ".txt", ".ipynb")


# What a repair prompt tells the model about the format (kept beside the parser it describes).
FORMAT_HELP = """\
Answer with one or more edit blocks. Each block names its file, copies the lines to change
exactly as they are in the file (with a few unchanged lines around them, so they occur only
once in the file), and gives the lines to put in their place:

@@@ FILE path/to/file.py
@@@ SEARCH line 120
    def total(self):
        return sum(self.items)
@@@ REPLACE
    def total(self):
        return sum(item.price for item in self.items)
@@@ END

"line N" is the line number where the SEARCH lines start. Keep the file's indentation. Use
one block per place; several blocks may follow one FILE line. An empty SEARCH creates a new
file. Write nothing inside a block that is not part of the file.
"""


@dataclass(frozen=True)
class Edit:
    path: str
    search: str  # whole lines, each ending in "\n"; "" creates a new file
    replace: str
    line_hint: int = 0  # 1-based line where SEARCH starts in the original file; 0 = not given


@dataclass(frozen=True)
class ParsedAnswer:
    edits: tuple[Edit, ...]
    problems: tuple[str, ...]  # one sentence per malformed block


def clean_path(raw: str) -> str:
    """The path as the model wrote it, without quotes, backticks, ``./`` or a trailing colon."""
    path = raw.strip("`'\"*: \t")
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def _strip_fences(lines: list[str]) -> list[str]:
    start, stop = 0, len(lines)
    if stop and FENCE.match(lines[0]):
        start = 1
    if stop > start and lines[stop - 1].strip() in ("```", "~~~"):
        stop -= 1
    return lines[start:stop]


def _text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def parse_edits(answer: str | bytes) -> ParsedAnswer:
    """Every block in a model's answer, and a reason for each malformed one."""
    if isinstance(answer, bytes):
        answer = answer.decode("utf-8", errors="replace")
    edits: list[Edit] = []
    problems: list[str] = []
    path = ""  # the file named by the last FILE marker
    state = "outside"  # "outside" | "search" | "replace"
    search: list[str] = []
    replace: list[str] = []
    hint = 0
    block_line = 0
    file_line = 0  # where the last FILE marker was, while no block has followed it

    def file_without_block() -> None:
        if file_line:
            problems.append(f"line {file_line}: FILE marker for {path} has no SEARCH block after it.")

    def close_block() -> None:
        if path.lower().endswith(KEEP_FENCES):
            old, new = search, replace
        else:
            old, new = _strip_fences(search), _strip_fences(replace)
        edits.append(Edit(path=path, search=_text(old), replace=_text(new), line_hint=hint))

    for number, line in enumerate(answer.split("\n"), start=1):
        line = line.removesuffix("\r")
        marker = MARKER.match(line)
        if marker is None:
            if state == "search":
                search.append(line)
            elif state == "replace":
                replace.append(line)
            continue
        keyword, rest = marker.group(1).upper(), marker.group(2)
        if keyword in ("FILE", "SEARCH"):
            if state == "search":
                problems.append(f"line {block_line}: SEARCH in {path} has no REPLACE marker.")
            elif state == "replace":
                close_block()  # a missing END is forgiven when the next block starts
            state = "outside"
        if keyword == "FILE":
            file_without_block()
            path = clean_path(rest)
            file_line = number if path else 0
            if not path:
                problems.append(f"line {number}: FILE marker without a path.")
        elif keyword == "SEARCH":
            if not path:
                problems.append(f"line {number}: SEARCH block without a FILE line before it.")
                continue
            found = LINE_HINT.search(rest)
            hint = int(found.group()) if found and len(found.group()) < 10 else 0
            state, search, replace, block_line, file_line = "search", [], [], number, 0
        elif keyword == "REPLACE":
            if state == "search":
                state = "replace"
            elif state == "replace":
                problems.append(f"line {number}: second REPLACE marker in one block for {path}.")
                state = "outside"
            else:
                problems.append(f"line {number}: REPLACE marker outside a block.")
        elif keyword == "END":
            if state == "replace":
                close_block()
            elif state == "search":
                problems.append(f"line {block_line}: block for {path} ends before its REPLACE marker.")
            state = "outside"  # a stray END outside a block is chatter
    file_without_block()
    if state == "search":
        problems.append(f"line {block_line}: answer ends inside the SEARCH of a block for {path} (truncated).")
    elif state == "replace":
        problems.append(f"line {block_line}: answer ends inside the REPLACE of a block for {path} (truncated).")
    if not edits and not problems:
        problems.append("no edit blocks in the answer.")
    return ParsedAnswer(edits=tuple(edits), problems=tuple(problems))


def format_edits(edits: list[Edit] | tuple[Edit, ...]) -> str:
    """Edits written in the format above, as a model would answer (used by tests and the benchmark)."""
    out: list[str] = []
    for edit in edits:
        out.append(f"@@@ FILE {edit.path}\n")
        out.append(f"@@@ SEARCH line {edit.line_hint}\n" if edit.line_hint else "@@@ SEARCH\n")
        out.append(edit.search)
        out.append("@@@ REPLACE\n")
        out.append(edit.replace)
        out.append("@@@ END\n")
    return "".join(out)
