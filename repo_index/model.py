"""What an index holds. Every stage that reads the repository reads these.

Lines are 1-based and inclusive throughout, as a person reads them in an editor.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from functools import cached_property


class RepoIndexError(Exception):
    """A problem the user can fix (bad path, not a git repository, unknown commit)."""

    user_error = True


@dataclass(frozen=True)
class Definition:
    kind: str  # "class" | "function" | "method" | "variable"
    name: str  # the bare name: "save"
    qualname: str  # dotted within its file: "Model.save"
    path: str  # repository-relative, "/"-separated
    start: int  # first line (decorators included)
    end: int  # last line
    signature: str = ""  # the header line(s) as written: "def save(self, force_insert=False):"
    doc: str = ""  # first line of the docstring, if any


@dataclass(frozen=True)
class FileEntry:
    path: str
    language: str  # "python", "javascript", "typescript", "go", "java", "rust", or "" when not parsed
    blob_id: str  # git blob id (or the same hash computed from the bytes outside git)
    n_lines: int
    n_definitions: int = 0
    has_errors: bool = False  # tree-sitter found syntax errors
    # The definitions, references and imports as the cache stores them: pickled plain tuples,
    # decoded on first use. An index builds an entry for every file of the repository, and most
    # uses read a few of them (re-indexing, `show`, skeletons); a search decodes them all once.
    parsed: bytes = field(default=b"", repr=False)

    @cached_property
    def _decoded(self) -> tuple[tuple, tuple[str, ...], tuple[str, ...]]:
        return pickle.loads(self.parsed) if self.parsed else ((), (), ())

    @cached_property
    def definitions(self) -> tuple[Definition, ...]:
        path = self.path
        return tuple([Definition(kind, name, qualname, path, start, end, signature, doc)
                      for kind, name, qualname, start, end, signature, doc in self._decoded[0]])

    @property
    def references(self) -> tuple[str, ...]:
        """Identifiers the file uses, each once, in first-seen order."""
        return self._decoded[1]

    @property
    def imports(self) -> tuple[str, ...]:
        """Modules the file imports, as written ("django.db.models")."""
        return self._decoded[2]


@dataclass(frozen=True)
class SearchHit:
    kind: str  # "file" | "definition"
    path: str
    score: float
    qualname: str = ""  # empty for a file hit
    start: int = 0  # 0 for a file hit
    end: int = 0


@dataclass
class RepoIndex:
    root: str  # the folder (or git directory) indexed
    commit: str | None  # the commit indexed, or None for a working tree
    files: dict[str, FileEntry] = field(default_factory=dict)  # by path, sorted
    stats: dict[str, float] = field(default_factory=dict)  # files, parsed, cache_hits, seconds, ...
