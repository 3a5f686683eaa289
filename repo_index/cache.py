"""The on-disk cache: one file per indexed root, holding parse records keyed by git blob id.

One consolidated file loads far faster than a file per blob. Records are keyed by (blob id,
grammar): the same bytes parsed as Python at one path are plain text at another. The file is a
log of pickled frames:
a header, then chunks of records (pickled once, by the worker that parsed them, and stored as
is), stat updates and binary blob ids. A re-index appends what changed instead of rewriting the
file; when stale records outnumber the room allowed, the file is written afresh. A chunk follows
its ("records", count) frame as the pickle it is, not wrapped in another, so that loading does
not copy every record's bytes twice. Records are
plain tuples without a path, so a blob met at a new path is still a hit.

Stat entries remember each working-tree file's (mtime, size, inode) and blob id, as git's own
index does, so a warm run need not re-read and re-hash files that did not change.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = 10  # bump when what is stored changes meaning
KEEP_FACTOR = 3  # keep up to this many times the current file count (earlier checkouts' blobs)
MIN_ROOM = 1000  # ... and at least this many records, so small repositories keep their history too

StatKey = tuple[int, int, int]  # (mtime_ns, size, inode)


def dumps_records(records: list[tuple[tuple[str, str], tuple]]) -> bytes:
    """A chunk: [((blob id, grammar), record), ...] pickled."""
    return pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)


def loads_records(data: bytes) -> list[tuple[tuple[str, str], tuple]]:
    return pickle.loads(data)


@dataclass
class Cache:
    records: dict[tuple[str, str], tuple] = field(default_factory=dict)  # (blob id, grammar) -> record (extract.Record)
    stats: dict[str, tuple[StatKey, str]] = field(default_factory=dict)  # path -> (stat key, blob id)
    binary: set[str] = field(default_factory=set)  # blob ids found to be binary
    stored_records: int = 0  # records in the file, counting stale and repeated ones
    exists: bool = False  # a sound file of this format is there to append to


def cache_file(cache_dir: str | os.PathLike, root: str) -> Path:
    key = hashlib.sha1(os.path.realpath(root).encode("utf-8", errors="surrogateescape")).hexdigest()[:20]
    return Path(cache_dir) / f"{key}.pickle"


def load(path: Path) -> Cache:
    """What the file holds; an empty cache when it is absent or unreadable (it is only a cache).

    A frame cut short (a run killed while appending) ends the reading: what came before stands.
    """
    cache = Cache()
    try:
        handle = open(path, "rb")
    except OSError:
        return cache
    with handle:
        try:
            if pickle.load(handle) != ("format", FORMAT):
                return cache
            cache.exists = True
            while True:
                kind, value = pickle.load(handle)
                if kind == "records":
                    records = pickle.load(handle)
                    cache.records.update(records)
                    cache.stored_records += len(records)
                elif kind == "stats":
                    cache.stats = value
                elif kind == "stats-update":
                    changed, removed = value
                    cache.stats.update(changed)
                    for path_ in removed:
                        cache.stats.pop(path_, None)
                elif kind == "binary":
                    cache.binary.update(value)
        except EOFError:
            pass
        except (pickle.UnpicklingError, AttributeError, ImportError, IndexError, KeyError, TypeError, ValueError):
            cache.exists = False  # a damaged tail: keep what was read, and write the file afresh next time
    return cache


def save(path: Path, current: dict, new_chunks: list[tuple[bytes, list]], old: Cache, stats: dict, binary: set[str]) -> Cache:
    """Record this index: append to the file when it can, else write it afresh (atomically).

    `current` maps the record keys of this index to their records; `new_chunks` are the records
    parsed in this run, pickled, with their keys; `stats` the working tree's stat entries;
    `old.records` already holds the new records. Returns what the file now holds.
    """
    new_count = sum(len(keys) for _, keys in new_chunks)
    room = max(KEEP_FACTOR * len(current), MIN_ROOM)
    if old.exists and old.stored_records + new_count <= room:
        frames = [_records_frame(chunk, len(keys)) for chunk, keys in new_chunks]
        changed = {p: v for p, v in stats.items() if old.stats.get(p) != v}
        removed = [p for p in old.stats if p not in stats]
        if changed or removed:
            frames.append(pickle.dumps(("stats-update", (changed, removed)), protocol=pickle.HIGHEST_PROTOCOL))
        if binary - old.binary:
            frames.append(pickle.dumps(("binary", sorted(binary - old.binary)), protocol=pickle.HIGHEST_PROTOCOL))
        # One write with O_APPEND: concurrent runs add whole frames, never interleaved bytes.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, b"".join(frames))
        finally:
            os.close(fd)
        return Cache(old.records, stats, old.binary | binary, old.stored_records + new_count, exists=True)
    # Afresh: the new chunks as they are, plus the current records that came from the old file.
    fresh = {key for _, keys in new_chunks for key in keys}
    carried = [(key, record) for key, record in current.items() if key not in fresh]
    chunks = [(chunk, len(keys)) for chunk, keys in new_chunks] + ([(dumps_records(carried), len(carried))] if carried else [])
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False)
    try:
        with handle:
            pickle.dump(("format", FORMAT), handle, protocol=pickle.HIGHEST_PROTOCOL)
            for chunk, count in chunks:
                handle.write(_records_frame(chunk, count))
            for frame in [("stats", stats), ("binary", sorted(binary | old.binary))]:
                pickle.dump(frame, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise
    return Cache(dict(current), stats, binary | old.binary, len(fresh) + len(carried), exists=True)


def _records_frame(chunk: bytes, count: int) -> bytes:
    return pickle.dumps(("records", count), protocol=pickle.HIGHEST_PROTOCOL) + chunk


def signature(path: Path) -> tuple[int, int, int] | None:
    """What tells whether the file changed since we last read or wrote it (None: there is none)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)
