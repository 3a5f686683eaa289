"""build_index: list the files, take what the cache already holds, parse the rest in parallel."""

from __future__ import annotations

import gc
import os
import time
from functools import lru_cache

from patchsmith.repo_index import cache as disk
from patchsmith.repo_index.extract import entry, plain_record, record_for
from patchsmith.repo_index.languages import language_name, language_of
from patchsmith.repo_index.model import RepoIndex, RepoIndexError
from patchsmith.repo_index.settings import IndexSettings
from patchsmith.repo_index.walk import Candidate, Source, blob_id_of, open_source, read_blobs, start_listing

# A record is keyed by (blob id, the grammar it was parsed with, "" for none): the same bytes
# are parsed differently at "x.py" and "x.txt", or with other settings.languages.
_known_keys: frozenset[tuple[str, str]] = frozenset()  # the keys the cache holds; set before workers fork

# The last index this process built with a disk cache: (the cache file's signature then, what the
# file holds, the entries by (path, record key)). Re-indexing in the same process (a runner going
# from commit to commit of one repository, a re-index after a checkout) then neither reloads the
# file nor rebuilds the entries of unchanged files. One repository's worth is kept at most.
_latest: dict = {}


def _is_binary(data: bytes, settings: IndexSettings) -> bool:
    return b"\0" in data[: settings.binary_probe_bytes]


def _grammar_for(path: str, settings: IndexSettings) -> str:
    """The grammar a file is parsed with under these settings, "" when it is not parsed."""
    language = language_of(path)
    return language if language and language_name(language) in settings.languages else ""


def _record_for(data: bytes, grammar: str) -> tuple:
    if not grammar:
        return plain_record(data)
    try:
        return record_for(data, grammar)
    except Exception:  # noqa: BLE001 - one file the parser cannot take must not sink the index
        return (language_name(grammar), plain_record(data)[1], 0, True, b"")


def _parse_job(job: tuple[Source, list[Candidate], IndexSettings]) -> tuple[list[tuple[str, str, str]], bytes | None]:
    """Read and parse a batch of files (in a worker process, or in-process for small batches).

    Returns (kind, path, blob id) for every file, kind being "new" (its record is in the chunk),
    "known" (the cache has this blob), "binary" or "gone" (vanished since listing, or absent from
    the object store); and the new records as one pickled chunk, which the cache stores as is.
    """
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
    outcomes, records, seen = [], [], set()
    for candidate, data in zip(batch, contents):
        if data is None:
            outcomes.append(("gone", candidate.path, ""))
            continue
        blob_id = candidate.blob_id or blob_id_of(data)
        if _is_binary(data, settings):
            outcomes.append(("binary", candidate.path, blob_id))
        elif (key := (blob_id, _grammar_for(candidate.path, settings))) in _known_keys:
            outcomes.append(("known", candidate.path, blob_id))
        else:
            if key not in seen:  # the same bytes at two paths (empty __init__.py files) are parsed once
                seen.add(key)
                records.append((key, _record_for(data, key[1])))
            outcomes.append(("new", candidate.path, blob_id))
    return outcomes, (disk.dumps_records(records) if records else None)


def _batches(todo: list[Candidate], n_batches: int) -> list[list[Candidate]]:
    """Spread files over batches, biggest first, so the batches take about the same time."""
    batches: list[list[Candidate]] = [[] for _ in range(n_batches)]
    loads = [0] * n_batches
    for candidate in sorted(todo, key=lambda c: -c.size):
        lightest = loads.index(min(loads))
        batches[lightest].append(candidate)
        loads[lightest] += candidate.size + 2000  # a fixed cost per file, too
    return [b for b in batches if b]


def _start_parsing(source: Source, todo: list[Candidate], settings: IndexSettings):
    """(pool or None, iterator of each batch's result as it is ready): workers start at once, so the
    caller can build the cached entries and unpickle finished batches while they parse."""
    workers = settings.worker_count()
    if not todo:
        return None, iter(())
    if workers <= 1 or sum(c.size for c in todo) < settings.parallel_min_bytes:
        return None, iter([_parse_job((source, todo, settings))])
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork: workers inherit the loaded grammars and the set of cached blob ids without pickling them.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    jobs = [(source, batch, settings) for batch in _batches(todo, workers * 16)]
    return pool, pool.map(_parse_job, jobs)


def build_index(root, commit: str | None = None, cache_dir=None, settings: IndexSettings | None = None) -> RepoIndex:
    """Index a working tree, or `commit` of a git repository read without checkout.

    cache_dir None means no disk cache. Raises RepoIndexError for a problem the user can fix.
    """
    collecting = gc.isenabled()
    gc.disable()  # the index is many small objects that live on: collecting while building them is wasted work
    try:
        return _build(root, commit, cache_dir, settings or IndexSettings())
    finally:
        if collecting:
            gc.enable()


def _build(root, commit: str | None, cache_dir, settings: IndexSettings) -> RepoIndex:
    global _known_keys
    started = time.perf_counter()
    source = open_source(root, commit)
    listing = start_listing(source, settings)
    cache_path = disk.cache_file(cache_dir, source.root) if cache_dir is not None else None
    latest = _latest.pop(cache_path, None) if cache_path is not None else None
    if latest is not None and latest[0] == disk.signature(cache_path):
        stored, previous = latest[1], latest[2]
    else:
        stored, previous = (disk.load(cache_path) if cache_path is not None else disk.Cache()), {}
    records = stored.records

    key_of: dict[str, tuple[str, str]] = {}  # path -> record key, for every file of the index
    binary: dict[str, str] = {}  # path -> blob id of the binary files met
    candidates: list[Candidate] = []
    parsing = []  # (pool or None, results) for each part of the listing
    _known_keys = frozenset(records)
    try:
        # The listing comes in parts (tracked files, then untracked ones): what changed among the
        # tracked files is parsed while git is still looking for untracked files.
        for part in listing():
            candidates += part
            todo: list[Candidate] = []
            for candidate in part:
                blob_id = candidate.blob_id
                if blob_id is None:
                    seen = stored.stats.get(candidate.path)
                    if seen is not None and seen[0] == candidate.stat_key:
                        blob_id = seen[1]
                if blob_id is None:
                    todo.append(candidate)
                elif blob_id in stored.binary:
                    binary[candidate.path] = blob_id
                elif (key := (blob_id, _grammar_for(candidate.path, settings))) in records:
                    key_of[candidate.path] = key
                else:
                    todo.append(candidate)
            parsing.append(_start_parsing(source, todo, settings))
        hits = len(key_of)
        todo_count = len(candidates) - hits - len(binary)

        parsed = 0
        new_chunks: list[tuple[bytes, list[str]]] = []  # pickled records parsed now, with their blob ids
        entries = {path: previous.get((path, key)) or entry(path, key[0], records[key]) for path, key in key_of.items()}
        for outcomes, chunk in (result for _, results in parsing for result in results):
            if chunk is not None:
                new_records = disk.loads_records(chunk)
                new_chunks.append((chunk, [key for key, _ in new_records]))
                records.update(new_records)
            for kind, path, blob_id in outcomes:
                if kind == "known" or kind == "new":
                    key_of[path] = key = (blob_id, _grammar_for(path, settings))
                    entries[path] = entry(path, blob_id, records[key])
                    hits += kind == "known"
                    parsed += kind == "new"
                elif kind == "binary":
                    binary[path] = blob_id
    finally:
        _known_keys = frozenset()
        for pool, _ in parsing:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    files = {path: entries[path] for path in sorted(entries)}
    if cache_path is not None and todo_count:
        if source.commit is None:
            known = {path: key[0] for path, key in key_of.items()} | binary
            path_stats = {c.path: (c.stat_key, known[c.path]) for c in candidates if c.path in known}
        else:
            path_stats = stored.stats  # a commit says nothing about the working tree's files
        current = {key: records[key] for key in key_of.values()}
        try:
            stored = disk.save(cache_path, current, new_chunks, stored, path_stats, set(binary.values()))
        except OSError:
            stored = None  # an unwritable cache costs the next run time, never this run its index
    if cache_path is not None and stored is not None:
        _latest.clear()  # one repository's worth at most
        _latest[cache_path] = (disk.signature(cache_path), stored, {(path, key_of[path]): e for path, e in files.items()})
    stats = {
        "files": len(files),
        "definitions": sum(e.n_definitions for e in files.values()),
        "parsed": parsed,  # files read and parsed in this run
        "cache_hits": hits,  # files whose parse came from the disk cache
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


@lru_cache(maxsize=16)
def _git_dir_of(root: str) -> str:
    return open_source(root, None).git_dir or root


def read_text(index: RepoIndex, path: str) -> str:
    """A file's text as indexed: from the commit's blob, or from the working tree (undecodable bytes replaced)."""
    entry_ = index.files.get(path)
    if entry_ is None:
        raise RepoIndexError(f"{path} is not in the index of {index.root}.")
    if index.commit is not None:
        return _blob_text(_git_dir_of(index.root), entry_.blob_id)
    try:
        with open(os.path.join(index.root, path), "rb") as handle:
            return handle.read().decode("utf-8", errors="replace")
    except OSError as error:
        raise RepoIndexError(f"{path} cannot be read from {index.root} ({error.strerror}).") from None
