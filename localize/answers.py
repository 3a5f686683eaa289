"""Reading a model's answers: the lines it gave, and the real paths and names they stand for.

Models write paths and names loosely (a leading "./" or repository name, a module's dotted
name, a bare file name, a method without its class). Each is mapped to something the index
knows, or dropped: nothing invented reaches the next step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from patchsmith.repo_index import Definition, RepoIndex
from patchsmith.repo_index.paths import PathResolver  # noqa: F401 - re-exported for the steps

_FENCED = re.compile(r"```[^\n]*\n(.*?)(?:```|\Z)", re.S)
_LIST_MARK = re.compile(r"^\s*(?:[-*+>]|\d+[.)]|#+)\s*")
_PATHLIKE = re.compile(r"^[\w./\\-]+\.[A-Za-z]\w{0,4}$")


def answer_lines(text: str) -> list[str]:
    """The answer's meaningful lines: inside its fenced blocks when it has any, list marks removed."""
    blocks = _FENCED.findall(text)
    body = "\n".join(blocks) if blocks else text
    lines = []
    for raw in body.splitlines():
        line = _LIST_MARK.sub("", raw).strip().strip("`'\"*").strip()
        if line:
            lines.append(line)
    return lines


def find_definition(index: RepoIndex, path: str, name: str) -> Definition | None:
    """The definition `name` stands for in `path`: its qualname, a qualname ending with it, or its bare name."""
    entry = index.files.get(path)
    if entry is None or not name:
        return None
    definitions = entry.definitions
    for test in (
        lambda d: d.qualname == name,
        lambda d: d.qualname.endswith("." + name),
        lambda d: d.name == name.rsplit(".", 1)[-1],
    ):
        found = [d for d in definitions if test(d)]
        if found:
            return min(found, key=lambda d: (d.qualname.count("."), d.start))
    return None


def enclosing_definition(index: RepoIndex, path: str, start: int, end: int) -> Definition | None:
    """The innermost definition that holds lines start..end."""
    entry = index.files.get(path)
    if entry is None:
        return None
    holders = [d for d in entry.definitions if d.start <= start and end <= d.end]
    return min(holders, key=lambda d: d.end - d.start) if holders else None


_NAME_AFTER_PATH = re.compile(r"^(?P<path>[\w./\\-]+\.[A-Za-z]\w{0,4})\s*(?:::|:|\s)\s*(?P<name>[A-Za-z_][\w.]*)(?:\(\))?$")
_KIND_AND_NAME = re.compile(
    r"^(?:class|function|method|def|func|variable|var|attribute)\s*:?\s+(?P<name>[A-Za-z_][\w.]*)", re.I
)
_BARE_NAME = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(?:\(\))?$")


@dataclass(frozen=True)
class NamedElement:
    path: str  # as written, "" when the answer gave none
    name: str


def parse_elements(text: str) -> list[NamedElement]:
    """Names from an element answer: `path::Name`, `path:Name`, or a path line followed by names."""
    named: list[NamedElement] = []
    current = ""
    for line in answer_lines(text):
        match = _NAME_AFTER_PATH.match(line)
        if match and not match.group("name").isdigit():
            current = match.group("path")
            named.append(NamedElement(current, match.group("name")))
            continue
        if _PATHLIKE.match(line) and ("/" in line or line.endswith((".py", ".pyi"))):
            current = line
            continue
        match = _KIND_AND_NAME.match(line) or _BARE_NAME.match(line)
        if match:
            named.append(NamedElement(current, match.group("name")))
    return named


_LOCATION = re.compile(
    r"^(?P<path>[\w./\\-]+\.[A-Za-z]\w{0,4})\s*(?::|#L|,?\s+lines?:?)\s*L?(?P<start>\d+)"
    r"(?:\s*(?:-|–|to|:)\s*L?(?P<end>\d+))?(?:\s*[,(]?\s*(?P<element>[A-Za-z_][\w.]*))?"
)
_LINES_ONLY = re.compile(r"^(?:lines?\s*:?\s*)?L?(?P<start>\d+)(?:\s*(?:-|–|to)\s*L?(?P<end>\d+))?\s*$", re.I)


@dataclass(frozen=True)
class NamedLocation:
    path: str  # as written
    start: int
    end: int
    element: str = ""


def parse_locations(text: str) -> list[NamedLocation]:
    """Edit locations from a line answer: `path:START-END Name`, or a path line followed by `lines: A-B`."""
    found: list[NamedLocation] = []
    current = ""
    for line in answer_lines(text):
        match = _LOCATION.match(line)
        if match:
            start = int(match.group("start"))
            end = int(match.group("end") or start)
            current = match.group("path")
            found.append(NamedLocation(current, start, end, match.group("element") or ""))
            continue
        if _PATHLIKE.match(line):
            current = line
            continue
        match = _LINES_ONLY.match(line)
        if match and current:
            start = int(match.group("start"))
            found.append(NamedLocation(current, start, int(match.group("end") or start)))
    return found
