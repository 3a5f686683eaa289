"""build_index: list the files, take what the cache already holds, parse the rest in parallel."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from functools import lru_cache

from repo_index import cache as disk
from repo_index.extract import count_lines, parse_file
from repo_index.languages import language_of
from repo_index.model import FileEntry, RepoIndex, RepoIndexError
from repo_index.settings import IndexSettings
from repo_index.walk import Candidate, Source, blob_id_of, list_files, open_source, read_blobs

# What a parsing job hands back for one file: ("entry", FileEntry) | ("known", path, blob_id) | ("binary", path, blob_id)
# | ("gone", path, "") when the file vanished or its blob is absent.
_known_blobs: frozenset[str] = frozenset()  # blob ids the cache holds; set before workers fork


def _is_binary(data: bytes, settings: IndexSettings) -> bool:
    return b"\0" in data[: settings.binary_probe_bytes]


def _entry_for(path: str, data: bytes, blob_id: str, settings: IndexSettings) -> FileEntry:
    language = language_of(path)
    parsed_as = "typescript" if language == "tsx" else language
    if language and parsed_as in settings.languages:
        return parse_file(path, data, language, blob_id)
    return FileEntry(path=path, language="", blob_id=blob_id, n_lines=count_lines(data))


def _parse_job(job: tuple[Source, list[Candidate], IndexSettings]) -> list[tuple]:
    """Read and parse a batch of files (runs in a worker process, or in-process for small batches)."""
    source, batch, settings = job
    if source.commit is not None:
        contents = read_blobs(source.git_dir, [c.blob_id for c in batch])
    else:
        contents = []
        for candidate in batch:
            try:
                with open(os.path.join(source.root, candidate.path), "rb") as handle:
                    contents.append(handle.read())
            except OSError:
                contents.append(None)
    results = []
    for candidate, data in zip(batch, contents):
        if data is None:
            results.append(("gone", candidate.path, ""))
            continue
        blob_id = candidate.blob_id or blob_id_of(data)
        if _is_binary(data, settings):
            results.append(("binary", candidate.path, blob_id))
        elif blob_id in _known_blobs:
            results.append(("known", candidate.path, blob_id))
        else:
            results.append(("entry", _entry_for(candidate.path, data, blob_id, settings)))
    return results


def _batches(todo: list[Candidate], n_batches: int) -> list[list[Candidate]]:
    """Spread files over batches, biggest first, so the batches take about the same time."""
    batches: list[list[Candidate]] = [[] for _ in range(n_batches)]
    loads = [0] * n_batches
    for candidate in sorted(todo, key=lambda c: -c.size):
        lightest = loads.index(min(loads))
        batches[lightest].append(candidate)
        loads[lightest] += candidate.size + 2000  # a fixed cost per file, too
    return [b for b in batches if b]


def _parse_all(source: Source, todo: list[Candidate], settings: IndexSettings) -> list[tuple]:
    workers = settings.worker_count()
    if workers <= 1 or sum(c.size for c in todo) < settings.parallel_min_bytes:
        return _parse_job((source, todo, settings))
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork: workers inherit the loaded grammars and the set of cached blob ids without pickling them.
    jobs = [(source, batch, settings) for batch in _batches(todo, workers * 6)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return [result for results in pool.map(_parse_job, jobs) for result in results]


def _with_path(entry: FileEntry, path: str) -> FileEntry:
    """A cached entry found under another path (the same bytes at two places)."""
    if entry.path == path:
        return entry
    return replace(entry, path=path, definitions=tuple(replace(d, path=path) for d in entry.definitions))


def build_index(root, commit: str | None = None, cache_dir=None, settings: IndexSettings | None = None) -> RepoIndex:
    """Index a working tree, or `commit` of a git repository read without checkout.

    cache_dir None means no disk cache. Raises RepoIndexError for a problem the user can fix.
    """
    global _known_blobs
    started = time.perf_counter()
    settings = settings or IndexSettings()
    source = open_source(root, commit)
    candidates = list_files(source, settings)
    cache_path = disk.cache_file(cache_dir, source.root) if cache_dir is not None else None
    stored = disk.load(cache_path) if cache_path is not None else disk.Cache()

    files: dict[str, FileEntry] = {}
    binary = set()
    todo: list[Candidate] = []
    hits = 0
    for candidate in candidates:
        blob_id = candidate.blob_id
        if blob_id is None:
            seen = stored.stats.get(candidate.path)
            if seen is not None and seen[0] == candidate.stat_key:
                blob_id = seen[1]
        if blob_id is None:
            todo.append(candidate)
        elif blob_id in stored.binary:
            binary.add(blob_id)
        elif blob_id in stored.entries:
            files[candidate.path] = _with_path(stored.entries[blob_id], candidate.path)
            hits += 1
        else:
            todo.append(candidate)

    _known_blobs = frozenset(stored.entries)
    try:
        results = _parse_all(source, todo, settings)
    finally:
        _known_blobs = frozenset()
    parsed = 0
    for result in results:
        if result[0] == "entry":
            files[result[1].path] = result[1]
            parsed += 1
        elif result[0] == "known":
            files[result[1]] = _with_path(stored.entries[result[2]], result[1])
            hits += 1
        elif result[0] == "binary":
            binary.add(result[2])

    files = dict(sorted(files.items()))
    if cache_path is not None and (parsed or len(results) or binary - stored.binary):
        if source.commit is None:
            keys = {c.path: c.stat_key for c in candidates}
            path_stats = {path: (keys[path], entry.blob_id) for path, entry in files.items()}
        else:
            path_stats = stored.stats  # a commit says nothing about the working tree's files
        disk.save(cache_path, list(files.values()), stored, path_stats, binary)
    stats = {
        "files": len(files),
        "definitions": sum(len(e.definitions) for e in files.values()),
        "parsed": parsed,
        "cache_hits": hits,
        "skipped": len(candidates) - len(files),  # binary, or vanished while we read
        "seconds": time.perf_counter() - started,
    }
    return RepoIndex(root=source.root, commit=source.commit, files=files, stats=stats)


@lru_cache(maxsize=64)
def _blob_text(git_dir: str, blob_id: str) -> str:
    data = read_blobs(git_dir, [blob_id])[0]
    if data is None:
        raise RepoIndexError(f"blob {blob_id} is absent from {git_dir}.")
    return data.decode("utf-8", errors="replace")


def read_text(index: RepoIndex, path: str) -> str:
    """A file's text as indexed: from the commit's blob, or from the working tree (undecodable bytes replaced)."""
    entry = index.files.get(path)
    if entry is None:
        raise RepoIndexError(f"{path} is not in the index of {index.root}.")
    if index.commit is not None:
        return _blob_text(_git_dir_of(index.root), entry.blob_id)
    with open(os.path.join(index.root, path), "rb") as handle:
        return handle.read().decode("utf-8", errors="replace")


@lru_cache(maxsize=16)
def _git_dir_of(root: str) -> str:
    return open_source(root, None).git_dir or root
