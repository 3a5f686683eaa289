"""Text for prompts: a repository tree, file skeletons, a definition's source, numbered snippets."""

from __future__ import annotations

from patchsmith.repo_index.build import read_text
from patchsmith.repo_index.model import Definition, RepoIndex, RepoIndexError

CHARS_PER_TOKEN = 4  # a common rule of thumb for English and code with GPT-style tokenizers


def estimate_tokens(text: str) -> int:
    """About how many tokens a model will count for this text (no tokenizer needed offline)."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def tree_view(index: RepoIndex, under: str = "", max_depth: int | None = None, parsed_only: bool = False, max_entries: int | None = None) -> str:
    """An indented tree of the indexed files, folders first-seen in path order, one name per line.

    under: only this folder's part; max_depth: folders deeper than this are shown as "name/ (N files)";
    parsed_only: only files in a parsed language; max_entries: stop after this many lines ("...").
    """
    prefix = under.strip("/") + "/" if under.strip("/") else ""
    paths = [p for p, e in index.files.items() if p.startswith(prefix) and (e.language or not parsed_only)]
    lines: list[str] = []
    open_dirs: list[str] = []  # the folder path currently printed, one part per level
    collapsed_counts: dict[tuple[str, ...], int] = {}
    for path in paths:
        parts = path[len(prefix) :].split("/")
        folders, name = parts[:-1], parts[-1]
        if max_depth is not None and len(folders) > max_depth:
            key = tuple(folders[: max_depth + 1])
            if key not in collapsed_counts:
                collapsed_counts[key] = 0
                _open(lines, open_dirs, list(key[:-1]))
                lines.append("  " * max_depth + key[-1] + "/ ({count})")
                open_dirs = list(key)  # nothing below it is printed
                collapsed_counts[key] = len(lines) - 1  # remember the line to fill in the count
            continue
        _open(lines, open_dirs, folders)
        open_dirs = folders
        lines.append("  " * len(folders) + name)
    # fill in how many files each collapsed folder holds
    for key, line_no in collapsed_counts.items():
        folder = prefix + "/".join(key) + "/"
        count = sum(1 for p in paths if p.startswith(folder))
        lines[line_no] = lines[line_no].replace("{count}", f"{count} file" + ("s" if count != 1 else ""))
    if max_entries is not None and len(lines) > max_entries:
        lines = lines[:max_entries] + ["..."]
    return "\n".join(lines)


def _open(lines: list[str], open_dirs: list[str], folders: list[str]) -> None:
    """Print the folder lines needed to go from the folders already open to `folders`."""
    common = 0
    while common < min(len(open_dirs), len(folders)) and open_dirs[common] == folders[common]:
        common += 1
    for depth in range(common, len(folders)):
        lines.append("  " * depth + folders[depth] + "/")


def _lines(index: RepoIndex, path: str) -> list[str]:
    return read_text(index, path).splitlines()


def _definitions_at(index: RepoIndex, path: str) -> tuple[Definition, ...]:
    entry = index.files.get(path)
    if entry is None:
        raise RepoIndexError(f"{path} is not in the index of {index.root}.")
    return entry.definitions


def file_skeleton(index: RepoIndex, path: str, max_line_chars: int = 120) -> str:
    """The file with bodies elided, for a prompt.

    Each function or method shows its decorators, signature and first docstring line, then an
    indented "..."; classes keep their own lines (attributes) and show their members the same
    way; module-level assignments that run long are cut to one line ending in " ...". Other
    top-level lines (imports, statements) are kept.
    """
    lines = _lines(index, path)
    entry = index.files[path]
    definitions = sorted(entry.definitions, key=lambda d: (d.start, -d.end))
    out: list[str] = []
    _emit(lines, definitions, 1, len(lines), out, entry.language == "python", max_line_chars)
    return "\n".join(_drop_blank_runs(out))


def _emit(lines: list[str], definitions: list[Definition], first: int, last: int, out: list[str], python: bool, max_chars: int) -> None:
    """Lines first..last, with the outermost definitions among them rendered as skeletons."""
    at = first
    for d in _outermost(definitions, first, last):
        out.extend(lines[at - 1 : d.start - 1])
        at = d.end + 1
        if d.kind == "variable":
            text = lines[d.start - 1] if d.start <= len(lines) else d.signature
            if d.end > d.start or len(text) > max_chars:
                text = text[:max_chars].rstrip() + " ..."
            out.append(text)
            continue
        if not python and lines[d.end - 1].rstrip().endswith(";") and d.kind != "class":
            out.extend(lines[d.start - 1 : d.end])  # a declaration without a body (abstract, in an interface)
            continue
        header_first = _header_line(lines, d)
        header_last = min(header_first + d.signature.count("\n"), d.end)
        out.extend(lines[d.start - 1 : header_last])  # decorators and the signature
        indent = _indent_of(lines[header_first - 1]) + "    "
        if d.doc:
            out.append(f'{indent}"""{d.doc}"""' if python else f"{indent}// {d.doc}")
        if header_last >= d.end:
            continue  # a one-line definition: nothing to elide
        if d.kind == "class":
            body_first = header_last + 1
            if python:
                body_first = _after_docstring(lines, body_first, d.end)
            members = [c for c in definitions if c is not d and d.start <= c.start and c.end <= d.end]
            _emit(lines, members, body_first, d.end, out, python, max_chars)
            continue
        out.append(_body_indent(lines, header_last, d.end, indent) + "...")
        closing = lines[d.end - 1].strip()
        if not python and closing.startswith("}"):
            out.append(lines[d.end - 1])
    out.extend(lines[at - 1 : last])


def _body_indent(lines: list[str], header_last: int, end: int, default: str) -> str:
    """The indentation of a body's first line, or `default` when the body has none of its own."""
    for number in range(header_last + 1, end + 1):
        line = lines[number - 1]
        if line.strip():
            indent = _indent_of(line)
            return indent if len(indent) > len(_indent_of(lines[header_last - 1])) else default
    return default


def _outermost(definitions: list[Definition], first: int, last: int) -> list[Definition]:
    """Definitions within first..last that no other one there contains (input sorted by start, longest first)."""
    found: list[Definition] = []
    for d in definitions:
        if d.start < first or d.end > last:
            continue
        if found and d.start <= found[-1].end:
            continue
        found.append(d)
    return found


def _header_line(lines: list[str], d: Definition) -> int:
    """The line where a definition's signature starts (after its decorators)."""
    head = d.signature.split("\n", 1)[0].strip()
    for number in range(d.start, min(d.end, len(lines)) + 1):
        if lines[number - 1].strip().startswith(head):
            return number
    return d.start


def _after_docstring(lines: list[str], first: int, last: int) -> int:
    """The first line after a docstring that opens the block starting at `first` (or `first` itself)."""
    number = first
    while number <= last and not lines[number - 1].strip():
        number += 1
    if number > last:
        return first
    text = lines[number - 1].strip().lstrip("rRuUbB")
    quote = next((q for q in ('"""', "'''", '"', "'") if text.startswith(q)), None)
    if quote is None:
        return first
    rest = text[len(quote) :]
    while quote not in rest:
        number += 1
        if number > last:
            return first
        rest = lines[number - 1]
    return number + 1


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _drop_blank_runs(lines: list[str]) -> list[str]:
    """At most one blank line in a row: elided bodies leave many behind."""
    out: list[str] = []
    for line in lines:
        if not line.strip() and out and not out[-1].strip():
            continue
        out.append(line)
    return out


def definition_source(index: RepoIndex, qualname: str, path: str | None = None) -> str:
    """The source of a definition (decorators included), found by qualified name, optionally in one file.

    Raises RepoIndexError when no definition or several (in different files) carry that name.
    """
    found = find_definitions(index, qualname, path)
    if not found:
        where = f" in {path}" if path else ""
        raise RepoIndexError(f"no definition named {qualname}{where}.")
    files = sorted({d.path for d in found})
    if len(files) > 1:
        raise RepoIndexError(f"{qualname} is defined in {len(files)} files ({', '.join(files[:3])}{', ...' if len(files) > 3 else ''}); name one.")
    d = found[0]
    return "\n".join(_lines(index, d.path)[d.start - 1 : d.end])


def find_definitions(index: RepoIndex, qualname: str, path: str | None = None) -> list[Definition]:
    """Definitions whose qualified name is `qualname` (or, failing that, ends with "." + qualname)."""
    entries = [index.files[path]] if path is not None and path in index.files else ([] if path is not None else index.files.values())
    exact = [d for e in entries for d in e.definitions if d.qualname == qualname]
    if exact:
        return exact
    suffix = "." + qualname
    return [d for e in entries for d in e.definitions if d.qualname.endswith(suffix)]


def line_snippets(index: RepoIndex, path: str, ranges, context: int = 3) -> str:
    """Numbered lines of a file around each (start, end) range (or single line number), with
    `context` lines either side; windows that overlap or touch are merged, gaps shown as "...".
    """
    lines = _lines(index, path)
    windows = []
    for item in ranges:
        start, end = (item, item) if isinstance(item, int) else item
        windows.append((max(1, start - context), min(len(lines), end + context)))
    windows.sort()
    merged: list[list[int]] = []
    for start, end in windows:
        if start > end:
            continue
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    width = len(str(merged[-1][1])) if merged else 1
    out: list[str] = []
    for number, (start, end) in enumerate(merged):
        if number:
            out.append("...")
        out.extend(f"{n:>{width}} {lines[n - 1]}" for n in range(start, end + 1))
    return "\n".join(out)
