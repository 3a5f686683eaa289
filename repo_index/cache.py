"""The on-disk cache: one pickle per indexed root, holding parsed files keyed by git blob id.

One consolidated file loads far faster than a file per blob. It also remembers each working-tree
file's (mtime, size, inode) and blob id, as git's own index does, so a warm run need not re-read
and re-hash files that did not change.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from repo_index.model import FileEntry

FORMAT = 1  # bump when what is stored changes meaning
KEEP_FACTOR = 3  # keep up to this many times the current file count (earlier checkouts' blobs)


@dataclass
class Cache:
    entries: dict[str, FileEntry] = field(default_factory=dict)  # blob id -> parsed file
    stats: dict[str, tuple[tuple[int, int, int], str]] = field(default_factory=dict)  # path -> (stat key, blob id)
    binary: set[str] = field(default_factory=set)  # blob ids found to be binary


def cache_file(cache_dir: str | os.PathLike, root: str) -> Path:
    key = hashlib.sha1(os.path.realpath(root).encode("utf-8", errors="surrogateescape")).hexdigest()[:20]
    return Path(cache_dir) / f"{key}.pickle"


def load(path: Path) -> Cache:
    """The stored cache, or an empty one when there is none or it cannot be read (it is only a cache)."""
    try:
        with open(path, "rb") as handle:
            stored = pickle.load(handle)
        if stored.get("format") != FORMAT:
            return Cache()
        return Cache({e.blob_id: e for e in stored["entries"]}, stored["stats"], set(stored["binary"]))
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, KeyError, TypeError, ValueError, ImportError):
        return Cache()


def save(path: Path, current: list[FileEntry], old: Cache, stats: dict, binary: set[str]) -> None:
    """Write atomically: the files of this index first, then earlier ones while there is room."""
    keep = {e.blob_id: e for e in current}
    room = max(KEEP_FACTOR * len(keep), 1000)
    for blob_id, entry in old.entries.items():
        if len(keep) >= room:
            break
        keep.setdefault(blob_id, entry)
    payload = {"format": FORMAT, "entries": list(keep.values()), "stats": stats, "binary": sorted(binary | old.binary)}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False)
    try:
        with handle:
            pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise
