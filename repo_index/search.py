"""The project's one ranker: files and definitions of an index, for a query such as an issue.

A file's score adds four signals, each in [0, 1]:
- lexical: BM25 (bm25s) over the file's path and text, with identifiers also split into words,
  and the query's identifiers written as code counted once more;
- definitions: BM25 over each definition's qualified name and source, the best one per file;
- mentions: what the issue names explicitly and the index can resolve: file paths, traceback
  frames, dotted names (`pkg.module.Class.method`), identifiers written as code that are the
  names of definitions (rarer names count more, as a name defined in many files says little);
  summed per file and saturated, so one clear mention counts most;
- structure: how many other files import the file (an import-graph in-degree prior);
then files outside the shipped source (tests, docs, examples, benchmarks) are scaled down,
because an issue is fixed in source. A definition's score blends its own lexical and mention
evidence with its file's score.

The BM25 indexes are built on the first search of a RepoIndex and kept while that object
lives; the tokens of each file are kept by blob id, so a new index of a nearby commit
re-tokenizes only what changed.
"""

from __future__ import annotations

import math
import weakref
from collections import defaultdict

import numpy as np

from patchsmith.repo_index.model import Definition, RepoIndex, SearchHit
from patchsmith.repo_index.paths import is_non_source, module_names
from patchsmith.repo_index.tokens import query_ids, token_cache, token_ids, tokens_of_file, vocabulary
from patchsmith.repo_index.query import QueryParts, analyze

# Weights of the file signals, and the factor for files outside the shipped source. Chosen
# on the development half of the benchmark's repositories (see bench/localize_retrieval.py).
LEXICAL_WEIGHT = 1.0
DEFINITION_WEIGHT = 0.75
MENTION_WEIGHT = 1.0
PRIOR_WEIGHT = 0.1
NON_SOURCE_FACTOR = 0.5
# Identifiers written as code are added to the BM25 query this many more times.
CODE_TOKEN_REPEAT = 1
# A definition's score: its file's share, its own evidence's share.
DEFINITION_FILE_SHARE = 0.5
# A name defined in more files than this is too common to point anywhere.
MAX_FILES_PER_NAME = 20


# ---------------------------------------------------------------- the per-index engine


def _bm25(documents: list[np.ndarray]):
    """A bm25s index (default parameters) over documents given as arrays of token ids.

    bm25s counts terms document by document in Python; for tens of thousands of definitions
    that dominates, so the term counts are taken here with numpy in one pass, and bm25s's own
    idf and term-frequency functions turn them into its score matrix.
    """
    import bm25s
    import scipy.sparse as sp
    from bm25s.scoring import _select_idf_scorer, _select_tfc_scorer

    retriever = bm25s.BM25()
    nvocabulary = len(vocabulary)
    lengths = np.asarray([len(d) for d in documents], dtype=np.int64)
    ids = np.concatenate(documents).astype(np.int64) if len(documents) else np.zeros(0, np.int64)
    owners = np.repeat(np.arange(len(documents), dtype=np.int64), lengths)
    pairs, term_frequency = np.unique(owners * nvocabulary + ids, return_counts=True)
    doc, term = pairs // nvocabulary, pairs % nvocabulary
    document_frequency = np.bincount(term, minlength=nvocabulary)
    idf = np.zeros(nvocabulary, dtype=retriever.dtype)
    idf_of = _select_idf_scorer(retriever.idf_method)
    for t in np.flatnonzero(document_frequency):
        idf[t] = idf_of(int(document_frequency[t]), N=len(documents))
    average_length = max(float(lengths.mean()) if len(lengths) else 1.0, 1.0)
    tfc = _select_tfc_scorer(retriever.method)(
        tf_array=term_frequency.astype(retriever.dtype), l_d=lengths[doc], l_avg=average_length,
        k1=retriever.k1, b=retriever.b, delta=retriever.delta,
    )
    matrix = sp.csc_matrix(((idf[term] * tfc).astype(retriever.dtype), (doc, term)),
                           shape=(len(documents), nvocabulary), dtype=retriever.dtype)
    retriever.scores = {"data": matrix.data, "indices": matrix.indices, "indptr": matrix.indptr,
                        "num_docs": len(documents)}
    retriever.vocab_dict = vocabulary
    retriever.nonoccurrence_array = None
    return retriever


def _read_texts(index: RepoIndex, paths: list[str]) -> list[str]:
    """Texts of many files; from a commit with one `git cat-file --batch` rather than one per file."""
    from patchsmith.repo_index.build import _git_dir_of, read_text
    from patchsmith.repo_index.walk import read_blobs

    if index.commit is None:
        return [read_text(index, p) for p in paths]
    blobs = read_blobs(_git_dir_of(index.root), [index.files[p].blob_id for p in paths])
    return [(data or b"").decode("utf-8", errors="replace") for data in blobs]


def _scaled(values: np.ndarray) -> np.ndarray:
    top = float(values.max()) if len(values) else 0.0
    return values / top if top > 0 else values


def _saturated(evidence: np.ndarray) -> np.ndarray:
    """Mention counts to [0, 1): one clear mention counts most, each further one less."""
    return 1.0 - np.exp(-evidence)


def _dotted_suffixes(path: str) -> list[str]:
    """Every dotted suffix of the names a file is imported by ("pkg.mod", "mod"): how an issue may mention it."""
    names = module_names(path)
    parts = names[0].split(".") if names else []
    return [".".join(parts[i:]) for i in range(len(parts))]


class _Engine:
    """Everything about one index that does not depend on the query."""

    def __init__(self, index: RepoIndex):
        self.paths = [p for p, entry in index.files.items() if entry.language]
        self.file_of: dict[str, int] = {p: i for i, p in enumerate(self.paths)}
        self.definitions: list[Definition] = []
        definition_file: list[int] = []
        file_docs: list[np.ndarray] = []
        definition_docs: list[np.ndarray] = []
        tokens_of = {p: token_cache[index.files[p].blob_id] for p in self.paths if index.files[p].blob_id in token_cache}
        unread = [p for p in self.paths if p not in tokens_of]
        for path, text in zip(unread, _read_texts(index, unread)):
            tokens_of[path] = tokens_of_file(index.files[path].blob_id, text)
        for i, path in enumerate(self.paths):
            entry = index.files[path]
            file_tokens = tokens_of[path]
            path_ids = np.asarray(token_ids(path.replace("/", " ").replace(".", " ")), dtype=np.int32)
            file_docs.append(np.concatenate([path_ids, file_tokens.ids]))
            n_lines = len(file_tokens.line_starts) - 1
            for definition, (first, last) in _definition_spans(entry.definitions):
                lo = file_tokens.line_starts[max(0, min(first - 1, n_lines))]
                hi = file_tokens.line_starts[max(0, min(last, n_lines))]
                # The qualified name's words come first; the source's tokens follow.
                name_ids = np.asarray(token_ids(definition.qualname.replace(".", " ")), dtype=np.int32)
                definition_docs.append(np.concatenate([name_ids, file_tokens.ids[lo:hi]]))
                self.definitions.append(definition)
                definition_file.append(i)
        self.definition_file = np.asarray(definition_file, dtype=np.int64)
        self.vocabulary_size = len(vocabulary)
        self.file_bm25 = _bm25(file_docs)
        self.definition_bm25 = _bm25(definition_docs) if definition_docs else None

        # Where each name is defined, and each path suffix ("query.py", "models/query.py").
        self.by_name: dict[str, list[int]] = defaultdict(list)
        self.by_qualname: dict[tuple[int, str], int] = {}
        for d, definition in enumerate(self.definitions):
            self.by_name[definition.name].append(d)
            self.by_qualname.setdefault((int(self.definition_file[d]), definition.qualname), d)
        self.by_suffix: dict[str, list[int]] = defaultdict(list)
        self.by_module: dict[str, list[int]] = defaultdict(list)
        for i, path in enumerate(self.paths):
            parts = path.split("/")
            for j in range(len(parts)):
                self.by_suffix["/".join(parts[j:])].append(i)
            for module in _dotted_suffixes(path):
                self.by_module[module].append(i)

        self.non_source = np.asarray([is_non_source(p) for p in self.paths], dtype=bool)
        self.prior = _scaled(np.log1p(self._import_in_degree(index)))

    def _import_in_degree(self, index: RepoIndex) -> np.ndarray:
        """How many distinct files import each file (relative imports resolved from the importer)."""
        importers: list[set[int]] = [set() for _ in self.paths]
        for i, path in enumerate(self.paths):
            package = path.split("/")[:-1]
            for module in index.files[path].imports:
                if module.startswith("."):
                    level = len(module) - len(module.lstrip("."))
                    base = package[: len(package) - (level - 1)] if level - 1 <= len(package) else []
                    module = ".".join(base + [m for m in module.lstrip(".").split(".") if m])
                targets = self.by_module.get(module, [])
                if len(targets) == 1 and targets[0] != i:
                    importers[targets[0]].add(i)
        return np.asarray([len(s) for s in importers], dtype=np.float64)

    # ------------------------------------------------------------ query-dependent signals

    def _resolve_path(self, written: str) -> list[int]:
        """Files a path as written in an issue refers to: the longest suffix that is a known path."""
        parts = [p for p in written.replace("\\", "/").split("/") if p not in ("", ".")]
        for j in range(len(parts)):
            found = self.by_suffix.get("/".join(parts[j:]))
            if found:
                return found
        return []

    def mentions(self, parts: QueryParts) -> tuple[np.ndarray, np.ndarray]:
        """Explicit evidence per file and per definition."""
        files = np.zeros(len(self.paths))
        definitions = np.zeros(len(self.definitions))

        def credit_definitions(found: list[int], weight: float) -> None:
            for d in found:
                definitions[d] += weight / len(found)
                files[self.definition_file[d]] += weight / len(found)

        for frame in parts.frames:
            found = self._resolve_path(frame.path)
            for i in found:
                files[i] += 1.0 / len(found)
                if frame.function:
                    d = self._definition_at(i, frame.line, frame.function)
                    if d is not None:
                        definitions[d] += 1.0 / len(found)
        for written in parts.paths:
            found = self._resolve_path(written)
            for i in found:
                files[i] += 1.0 / len(found)
        for dotted in parts.dotted:
            self._credit_dotted(dotted, files, definitions, credit_definitions)
        for name in parts.code_identifiers:
            found = self.by_name.get(name, [])
            n_files = len({int(self.definition_file[d]) for d in found})
            if 0 < n_files <= MAX_FILES_PER_NAME:
                credit_definitions(found, 1.0 / math.sqrt(n_files))
        return files, definitions

    def _definition_at(self, file: int, line: int, function: str) -> int | None:
        candidates = [d for d in np.flatnonzero(self.definition_file == file)
                      if self.definitions[d].name == function]
        if not candidates:
            return None
        inside = [d for d in candidates if self.definitions[d].start <= line <= self.definitions[d].end]
        return int((inside or candidates)[0])

    def _credit_dotted(self, dotted: str, files: np.ndarray, definitions: np.ndarray, credit_definitions) -> None:
        names = dotted.split(".")
        # The longest leading part that names a module of this repository, then the rest as a
        # qualified name inside it: "django.db.models.query.QuerySet.filter".
        for cut in range(len(names), 1, -1):
            modules = self.by_module.get(".".join(names[:cut]))
            if not modules:
                continue
            for i in modules:
                files[i] += 1.0 / len(modules)
                rest = ".".join(names[cut:])
                if rest and (i, rest) in self.by_qualname:
                    definitions[self.by_qualname[(i, rest)]] += 1.0 / len(modules)
            return
        # No module named: "QuerySet.filter" names a method wherever that class is defined.
        tail = ".".join(names[-2:])
        found = [d for d in self.by_name.get(names[-1], []) if self.definitions[d].qualname.endswith(tail)]
        if 0 < len(found) <= MAX_FILES_PER_NAME:
            credit_definitions(found, 1.0)

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(file scores, definition scores) for a query."""
        # Tokens first seen after this index was built are in no document of it.
        parts = analyze(query)
        code_text = " ".join(parts.code_identifiers)
        query_text = query + (" " + code_text) * CODE_TOKEN_REPEAT
        query_tokens = [t for t in query_ids(query_text) if t < self.vocabulary_size]
        lexical = self.file_bm25.get_scores(query_tokens) if query_tokens else np.zeros(len(self.paths))
        definition_lexical = np.zeros(len(self.definitions))
        if self.definition_bm25 is not None and query_tokens:
            definition_lexical = self.definition_bm25.get_scores(query_tokens)
        best_definition = np.zeros(len(self.paths))
        np.maximum.at(best_definition, self.definition_file, definition_lexical)
        file_mentions, definition_mentions = self.mentions(parts)

        file_scores = (LEXICAL_WEIGHT * _scaled(lexical) + DEFINITION_WEIGHT * _scaled(best_definition)
                       + MENTION_WEIGHT * _saturated(file_mentions) + PRIOR_WEIGHT * self.prior)
        file_scores = np.where(self.non_source, file_scores * NON_SOURCE_FACTOR, file_scores)
        # The structural prior orders files the query points at; alone it points at nothing.
        file_scores[(lexical <= 0) & (best_definition <= 0) & (file_mentions <= 0)] = 0.0
        own = _scaled(definition_lexical) + _saturated(definition_mentions)
        definition_scores = (DEFINITION_FILE_SHARE * file_scores[self.definition_file]
                             + (1 - DEFINITION_FILE_SHARE) * own)
        return file_scores, definition_scores


def _definition_spans(definitions: tuple[Definition, ...]):
    """Each definition with the lines its document covers: a class stops where its first
    nested definition starts, so a class is its header, docstring and attributes."""
    for definition in definitions:
        last = definition.end
        if definition.kind == "class":
            nested = [d.start for d in definitions
                      if d is not definition and definition.start < d.start <= definition.end and d.kind != "variable"]
            if nested:
                last = max(definition.start, min(nested) - 1)
        yield definition, (definition.start, last)


# Engines by id of their index, dropped when the index is garbage-collected.
_engines: dict[int, _Engine] = {}


def _engine(index: RepoIndex) -> _Engine:
    key = id(index)
    if key not in _engines:
        _engines[key] = _Engine(index)
        weakref.finalize(index, _engines.pop, key, None)
    return _engines[key]


# ---------------------------------------------------------------- public API


def search_files(index: RepoIndex, query: str, k: int = 10) -> list[SearchHit]:
    """The k files most likely to need a change for `query`, best first."""
    engine = _engine(index)
    file_scores, _ = engine.scores(query)
    return _top_files(engine, file_scores, k)


def search_definitions(index: RepoIndex, query: str, k: int = 10) -> list[SearchHit]:
    """The k definitions most likely to need a change for `query`, best first."""
    engine = _engine(index)
    _, definition_scores = engine.scores(query)
    return _top_definitions(engine, definition_scores, k)


def search(index: RepoIndex, query: str, k: int = 10) -> list[SearchHit]:
    """The k best files, then the k best definitions, for `query` (each list best first)."""
    engine = _engine(index)
    file_scores, definition_scores = engine.scores(query)
    return _top_files(engine, file_scores, k) + _top_definitions(engine, definition_scores, k)


def _top(scores: np.ndarray, k: int) -> list[int]:
    if k <= 0 or not len(scores):
        return []
    k = min(k, len(scores))
    candidates = np.argpartition(-scores, k - 1)[:k]
    return [int(i) for i in sorted(candidates, key=lambda i: (-scores[i], i)) if scores[i] > 0]


def _top_files(engine: _Engine, scores: np.ndarray, k: int) -> list[SearchHit]:
    return [SearchHit("file", engine.paths[i], round(float(scores[i]), 6)) for i in _top(scores, k)]


def _top_definitions(engine: _Engine, scores: np.ndarray, k: int) -> list[SearchHit]:
    hits = []
    for d in _top(scores, k):
        definition = engine.definitions[d]
        hits.append(SearchHit("definition", definition.path, round(float(scores[d]), 6),
                              definition.qualname, definition.start, definition.end))
    return hits
