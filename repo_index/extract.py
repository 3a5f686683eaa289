"""One file's bytes to a FileEntry: definitions, references and imports, via one tree-sitter query."""

from __future__ import annotations

import pickle
import re
from functools import cache

from patchsmith.repo_index.languages import KEYWORDS, QUERIES, grammar, language_name
from patchsmith.repo_index.model import FileEntry

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]+", re.ASCII)
_SIGNATURE_MAX = 300  # characters kept of a header that runs on (a huge assignment, say)

_parsers: dict[str, object] = {}


def count_lines(data: bytes) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def references_of(text: str, language: str) -> tuple[str, ...]:
    """Identifier-like words of the file, each once, in first-seen order, the language's keywords left out.

    A regular expression over the text rather than the syntax tree's identifier nodes: it is
    several times faster, and the words it adds (from comments and strings) help retrieval.
    One-letter names are left out too: they say nothing about what a file is about.
    """
    words = dict.fromkeys(_WORD.findall(text))
    for word in KEYWORDS.get(language, frozenset()) & words.keys():
        del words[word]
    return tuple(words)


def _first_doc_line(raw: bytes) -> str:
    """The first non-empty line of a string literal's contents."""
    body = raw.lstrip(b"rRbBuUfF")
    for quote in (b'"""', b"'''", b'"', b"'"):
        if body.startswith(quote):
            body = body[len(quote) :]
            break
    for line in body.split(b"\n", 3):
        line = line.strip()
        if line.endswith((b'"""', b"'''")):
            line = line[:-3].rstrip()
        if line:
            return line.decode("utf-8", errors="replace")
    return ""


def _without_trailing_comments(header: str) -> str:
    """A header cut before the comment lines that sit between it and the body's first statement."""
    lines = header.split("\n")
    while len(lines) > 1 and lines[-1].lstrip().startswith(("#", "//", "/*", "*")):
        lines.pop()
    return "\n".join(lines).rstrip()


# What the cache stores for one blob, independent of the path it was found at:
# (language, n_lines, number of definitions, has_errors, parsed), parsed being the pickled
# (definitions, references, imports), each definition as (kind, name, qualname, start, end,
# signature, doc). Plain tuples pickle and load several times faster than dataclass instances, and
# keeping them pickled per file until a FileEntry is asked for them makes loading the cache of a
# whole repository cost little more than reading the file; entry() makes the FileEntry of a path.
Record = tuple


def pack(definitions: tuple, references: tuple[str, ...], imports: tuple[str, ...]) -> bytes:
    return pickle.dumps((definitions, references, imports), protocol=pickle.HIGHEST_PROTOCOL) if definitions or references or imports else b""


# What each pattern of a query finds, by the captures it names (see languages.py).
_DEFINITION, _SCOPE, _DECORATED, _DOC, _IMPORT = range(5)
_KINDS = {"def.class": "class", "def.function": "function", "def.variable": "variable"}


@cache
def _roles(language: str) -> tuple[tuple[int, str], ...]:
    """For each pattern of the language's query: (role, the capture naming the definition's node)."""
    _, query = grammar(language)
    source = QUERIES[language].encode()
    roles = []
    for index in range(query.pattern_count):
        text = source[query.start_byte_for_pattern(index) : query.end_byte_for_pattern(index)].decode()
        kind = next((c for c in _KINDS if "@" + c in text), "")
        if kind:
            roles.append((_DEFINITION, kind))
        elif "@scope" in text:
            roles.append((_SCOPE, "scope"))
        elif "@decorated" in text:
            roles.append((_DECORATED, ""))
        elif "@docblock" in text:
            roles.append((_DOC, ""))
        else:
            roles.append((_IMPORT, ""))
    return tuple(roles)


def record_for(data: bytes, language: str) -> Record:
    """Parse one file. Syntax errors are tolerated: tree-sitter recovers and we keep what it found."""
    import tree_sitter

    lang, query = grammar(language)
    roles = _roles(language)
    parser = _parsers.get(language)
    if parser is None:
        parser = _parsers[language] = tree_sitter.Parser(lang)
    tree = parser.parse(data)
    root = tree.root_node

    raw_defs = []  # (start byte, -end byte, order, kind, match captures, definition node)
    decorated_start: dict[int, int] = {}  # inner definition's start byte -> first line of its decorators
    docs: dict[int, object] = {}  # block start byte -> its docstring node
    imports: dict[str, None] = {}
    for pattern, caps in tree_sitter.QueryCursor(query).matches(root):
        role, capture = roles[pattern]
        if role == _DEFINITION or role == _SCOPE:
            node = caps[capture][0]
            raw_defs.append((node.start_byte, -node.end_byte, len(raw_defs), _KINDS.get(capture, ""), caps, node))
        elif role == _DECORATED:
            decorated_start[caps["inner"][0].start_byte] = caps["decorated"][0].start_point[0] + 1
        elif role == _DOC:
            docs[caps["docblock"][0].start_byte] = caps["doc"][0]
        else:
            for node in caps["import"]:
                imports[node.text.decode("utf-8", errors="replace").strip("\"'`")] = None

    raw_defs.sort()
    definitions = []
    stack: list[tuple[int, str, str]] = []  # enclosing (end byte, qualname, kind) of the definition at hand
    for start_byte, negative_end, _, kind, caps, node in raw_defs:
        while stack and stack[-1][0] <= start_byte:
            stack.pop()
        name = caps["name"][0].text.decode("utf-8", errors="replace")
        if "receiver" in caps:
            qualname, kind = caps["receiver"][0].text.decode("utf-8", errors="replace") + "." + name, "method"
        elif stack:
            qualname = stack[-1][1] + "." + name
            if kind == "function" and stack[-1][2] in ("class", ""):
                kind = "method"
        else:
            qualname = name
        stack.append((-negative_end, qualname, kind))
        if not kind:  # a scope: qualifies what it holds, is not listed
            continue
        body = caps.get("body")
        doc = ""
        if body is not None:
            header_end = body[0].start_byte
            doc_node = docs.get(header_end)
            if doc_node is not None:
                doc = _first_doc_line(doc_node.text)
        else:
            header_end = min(-negative_end, start_byte + _SIGNATURE_MAX)
        signature = data[start_byte:header_end].decode("utf-8", errors="replace").rstrip()
        if "\n" in signature:
            signature = _without_trailing_comments(signature)
        if body is None or kind == "variable" or len(signature) > _SIGNATURE_MAX:
            signature = signature.split("\n", 1)[0][:_SIGNATURE_MAX]  # no body to end the header: its first line
        start = decorated_start.get(start_byte) or node.start_point[0] + 1
        definitions.append((kind, name, qualname, start, node.end_point[0] + 1, signature, doc))
    references = references_of(data.decode("utf-8", errors="replace"), language)
    return (language_name(language), count_lines(data), len(definitions), root.has_error,
            pack(tuple(definitions), references, tuple(imports)))


def plain_record(data: bytes) -> Record:
    """The record of a text file that is not parsed."""
    return ("", count_lines(data), 0, False, b"")


def entry(path: str, blob_id: str, record: Record) -> FileEntry:
    return FileEntry(path, record[0], blob_id, record[1], record[2], record[3], record[4])

