"""The on-disk cache: one file per indexed root, holding parse records keyed by git blob id.

One consolidated file loads far faster than a file per blob. Inside it, records are kept as the
pickled chunks the parsing workers produced, so a cold run writes them without pickling them
again. Records are plain tuples and carry no path, so a blob found at a new path is still a hit.

The cache also remembers each working-tree file's (mtime, size, inode) and blob id, as git's own
index does, so a warm run need not re-read and re-hash files that did not change.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = 4  # bump when what is stored changes meaning
KEEP_FACTOR = 3  # keep up to this many times the current file count (earlier checkouts' blobs)


def dumps_records(records: list[tuple[str, tuple]]) -> bytes:
    """A chunk: [(blob id, record), ...] pickled."""
    return pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)


def loads_records(data: bytes) -> list[tuple[str, tuple]]:
    return pickle.loads(data)


@dataclass(frozen=True)
class Chunk:
    data: bytes  # pickled [(blob id, record), ...]
    blob_ids: frozenset[str]


@dataclass
class Cache:
    records: dict[str, tuple] = field(default_factory=dict)  # blob id -> record (see extract.Record)
    chunks: list[Chunk] = field(default_factory=list)  # how the records are stored
    stats: dict[str, tuple[tuple[int, int, int], str]] = field(default_factory=dict)  # path -> (stat key, blob id)
    binary: set[str] = field(default_factory=set)  # blob ids found to be binary


def cache_file(cache_dir: str | os.PathLike, root: str) -> Path:
    key = hashlib.sha1(os.path.realpath(root).encode("utf-8", errors="surrogateescape")).hexdigest()[:20]
    return Path(cache_dir) / f"{key}.pickle"


def chunk_of(data: bytes, records: list[tuple[str, tuple]]) -> Chunk:
    return Chunk(data, frozenset(blob_id for blob_id, _ in records))


def load(path: Path) -> Cache:
    """The stored cache, or an empty one when there is none or it cannot be read (it is only a cache)."""
    try:
        with open(path, "rb") as handle:
            stored = pickle.load(handle)
        if stored.get("format") != FORMAT:
            return Cache()
        cache = Cache(stats=stored["stats"], binary=set(stored["binary"]))
        for data in stored["chunks"]:
            records = loads_records(data)
            cache.chunks.append(chunk_of(data, records))
            cache.records.update(records)
        return cache
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, KeyError, TypeError, ValueError, ImportError):
        return Cache()


def save(path: Path, current: dict[str, tuple], new_chunks: list[Chunk], old: Cache, stats: dict, binary: set[str]) -> None:
    """Write atomically: the new chunks, the old chunks this index still uses, then older ones while there is room.

    `current` maps the blob ids of this index to their records. When keeping whole chunks would
    keep more than KEEP_FACTOR times the current file count, the current records are written
    afresh instead, so stale records cannot pile up.
    """
    room = max(KEEP_FACTOR * len(current), 1000)
    chunks = list(new_chunks)
    kept = sum(len(c.blob_ids) for c in chunks)
    for chunk in sorted(old.chunks, key=lambda c: c.blob_ids.isdisjoint(current)):  # still-used chunks first
        if not chunk.blob_ids.isdisjoint(current) or kept + len(chunk.blob_ids) <= room:
            chunks.append(chunk)
            kept += len(chunk.blob_ids)
    if kept > room:
        records = list(current.items())
        chunks = [chunk_of(dumps_records(records), records)]
    payload = {"format": FORMAT, "chunks": [c.data for c in chunks], "stats": stats, "binary": sorted(binary | old.binary)}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False)
    try:
        with handle:
            pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise
