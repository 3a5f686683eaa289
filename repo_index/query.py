"""What an issue text tells a ranker beyond its words.

An issue names code in a handful of recognisable ways: file paths, traceback frames, dotted
names (`django.db.models.query.QuerySet`, `QuerySet.filter`), identifiers written in code
style (`snake_case`, `CamelCase`, inside backticks or code blocks, followed by a call's
parenthesis) and test names. `analyze` pulls those out; `tokens` is the one tokenizer that
documents and queries share, so that both sides of BM25 agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")
# Splits an identifier into its words: "getHTTPResponse_code" -> get, HTTP, Response, code.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

# Python's traceback frame, and the "path:line: in func" / "path:line:" forms pytest and
# compilers print.
_PY_FRAME = re.compile(r'File "([^"\n]+)", line (\d+)(?:, in ([A-Za-z_<][\w<>.]*))?')
_COLON_FRAME = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z]{1,4}):(\d+)(?::\d+)?:(?: in ([A-Za-z_]\w*))?")
# A path: at least one folder or a source-file extension, made of path characters.
_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)+[\w.-]+\.[A-Za-z]{1,5}|[\w-]+\.(?:py|pyi|pyx|js|jsx|ts|tsx|go|java|rs))\b")
_DOTTED = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)|`[^`\n]+`", re.S)
_CODE_LINE = re.compile(r"^(?: {4}|\t|>>> |\.\.\. |\$ ).*$", re.M)
_CALL = re.compile(r"([A-Za-z_]\w*)\s*\(")
_TEST_NAME = re.compile(r"\btest_\w+|\bTest[A-Z]\w*")
_FILE_EXTENSIONS = {"py", "pyi", "pyx", "js", "jsx", "ts", "tsx", "go", "java", "rs", "c", "h", "cpp", "cfg", "toml", "txt"}
# Words of prose that look like a dotted name ("e.g.", "i.e.") or file ("setup.py" stays).
_NOT_DOTTED = {"e.g", "i.e", "etc", "vs"}


@dataclass(frozen=True)
class Frame:
    """One traceback frame: the path as printed, its line, the function when given."""

    path: str
    line: int
    function: str = ""


@dataclass(frozen=True)
class QueryParts:
    text: str
    paths: tuple[str, ...]  # file paths as written, without traceback frames
    frames: tuple[Frame, ...]  # traceback frames in the order printed (outermost first)
    dotted: tuple[str, ...]  # dotted names, each once
    code_identifiers: tuple[str, ...]  # identifiers written as code, each once, case kept
    test_names: tuple[str, ...]


def identifier_words(text: str) -> list[str]:
    """The lower-cased words of an identifier or a sentence: ReadOnlyHash_v2 -> read, only, hash, v, 2."""
    return [w.lower() for w in _WORD.findall(text)]


def split_identifier(identifier: str) -> list[str]:
    """The lower-cased words of an identifier; [] when it is a single word already."""
    words = identifier_words(identifier)
    return words if len(words) > 1 else []


def tokens(text: str) -> list[str]:
    """BM25 tokens: each identifier lower-cased, followed by its words when it has several."""
    out: list[str] = []
    for identifier in IDENTIFIER.findall(text):
        out.append(identifier.lower())
        out.extend(w for w in split_identifier(identifier) if len(w) > 1)
    return out


def _looks_like_code(identifier: str) -> bool:
    """snake_case, CamelCase with an inner capital, or a dunder: not an English word."""
    if "_" in identifier.strip("_") or identifier.startswith("__"):
        return True
    return any(c.isupper() for c in identifier[1:]) and any(c.islower() for c in identifier)


def _unique(items) -> tuple:
    return tuple(dict.fromkeys(items))


def analyze(text: str) -> QueryParts:
    frames = [Frame(m.group(1), int(m.group(2)), m.group(3) or "") for m in _PY_FRAME.finditer(text)]
    frames += [Frame(m.group(1), int(m.group(2)), m.group(3) or "") for m in _COLON_FRAME.finditer(text)
               if m.group(1).rsplit(".", 1)[-1] in _FILE_EXTENSIONS]
    frame_paths = {f.path for f in frames}
    paths = [p for p in _PATH.findall(text)
             if p not in frame_paths and p.rsplit(".", 1)[-1].lower() in _FILE_EXTENSIONS and "://" not in p]

    code_text = " ".join(m.group(0) for m in _CODE_BLOCK.finditer(text))
    code_text += " " + " ".join(m.group(0) for m in _CODE_LINE.finditer(text))
    identifiers = list(IDENTIFIER.findall(code_text))
    identifiers += [i for i in IDENTIFIER.findall(text) if _looks_like_code(i)]
    identifiers += _CALL.findall(text)
    identifiers += [f.function for f in frames if f.function and not f.function.startswith("<")]

    dotted = []
    for name in _DOTTED.findall(text):
        if name.lower() in _NOT_DOTTED or name.rsplit(".", 1)[-1].lower() in _FILE_EXTENSIONS:
            continue
        dotted.append(name)
        identifiers.extend(name.split("."))
    return QueryParts(
        text=text,
        paths=_unique(paths),
        frames=tuple(frames),
        dotted=_unique(dotted),
        code_identifiers=_unique(i for i in identifiers if len(i) > 1),
        test_names=_unique(_TEST_NAME.findall(text)),
    )
