"""An instance's files at a commit, as a tar archive, with missing blobs found and named.

The public snapshots we read omit blobs of 4 MiB and more; `git archive` fails outright on a
tree that references one. We list the tree, find the absent blobs, archive everything else,
and add back each absent file we can recover from a maintained source. A file that cannot be
recovered makes the source incomplete, which is reported, never skipped silently.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from patchsmith.swebench_runner.errors import SwebenchError


class SourceIncomplete(SwebenchError):
    """The snapshot lacks files of the commit and no maintained source carries them."""


@dataclass(frozen=True)
class Snapshot:
    archive: bytes  # a tar of the tree, recovered files included
    recovered: dict[str, str]  # path -> where its bytes came from


def _git(git_dir: Path, *args: str, data: bytes | None = None) -> bytes:
    done = subprocess.run(["git", f"--git-dir={git_dir}", *args], input=data, capture_output=True)
    if done.returncode != 0:
        raise SwebenchError(f"git {args[0]} failed in {git_dir}: {done.stderr.decode(errors='replace').strip()[-300:]}")
    return done.stdout


def missing_blobs(git_dir: Path, commit: str) -> list[str]:
    """Paths of the commit's tree whose blobs the repository does not hold."""
    entries = _blob_entries(git_dir, commit)
    absent = set(_missing(git_dir, [sha for _, sha, _ in entries]))
    return [path for _, sha, path in entries if sha in absent]


def _blob_entries(git_dir: Path, commit: str) -> list[tuple[str, str, str]]:
    """(mode, sha, path) of every file of the commit's tree."""
    entries = []
    for record in _git(git_dir, "ls-tree", "-r", "-z", "--full-tree", commit).split(b"\0"):
        if not record:
            continue
        meta, raw_path = record.split(b"\t", 1)
        mode, kind, sha = meta.decode().split()
        if kind == "blob":
            entries.append((mode, sha, raw_path.decode("utf-8", "surrogateescape")))
    return entries


# Recoverers: (repository, path) -> function returning the file's bytes or None.
Recoverer = Callable[[], "tuple[bytes, str] | None"]


def snapshot(git_dir: Path, commit: str, recoverers: dict[str, Recoverer] | None = None) -> Snapshot:
    """The commit's files as a tar; SourceIncomplete names the files that could not be recovered."""
    absent = missing_blobs(git_dir, commit)
    excludes = [f":(exclude,literal){path}" for path in absent]
    archive = _git(git_dir, "archive", "--format=tar", commit, "--", ".", *excludes)
    if not absent:
        return Snapshot(archive, {})
    recovered: dict[str, str] = {}
    unrecovered = []
    buffer = io.BytesIO(archive)
    with tarfile.open(fileobj=buffer, mode="a") as tar:
        for path in absent:
            found = (recoverers or {}).get(path, lambda: None)()
            if found is None:
                unrecovered.append(path)
                continue
            data, origin = found
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
            recovered[path] = origin
    if unrecovered:
        raise SourceIncomplete(
            f"source incomplete: commit {commit[:12]} of {git_dir} lacks {', '.join(unrecovered)} and no maintained source carries it."
        )
    return Snapshot(buffer.getvalue(), recovered)


@dataclass(frozen=True)
class TreeChange:
    """How to turn the files of one commit into another's: a tar of what was added or changed
    (modes and symlinks kept) and the paths that were deleted."""

    archive: bytes
    deleted: list[str]
    recovered: dict[str, str]
    changed: list[str] = field(default_factory=list)  # added or modified paths


def tree_change(git_dir: Path, old: str, new: str, recoverers: dict[str, Recoverer] | None = None) -> TreeChange:
    """What changed between two commits, for updating a tree that holds `old` to `new`."""
    if old == new:
        return TreeChange(_empty_tar(), [], {})
    listing = _git(git_dir, "diff", "--name-status", "-z", "--no-renames", old, new)
    fields = [field.decode("utf-8", "surrogateescape") for field in listing.split(b"\0") if field]
    deleted, changed = [], []
    for status, path in zip(fields[::2], fields[1::2]):
        (deleted if status == "D" else changed).append(path)
    entries = _tree_entries(git_dir, new, changed)
    absent = set(_missing(git_dir, [sha for _, sha, _ in entries]))
    buffer = io.BytesIO()
    recovered: dict[str, str] = {}
    unrecovered = []
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        present = [(mode, sha, path) for mode, sha, path in entries if sha not in absent]
        for (mode, _sha, path), data in zip(present, _blobs(git_dir, [sha for _, sha, _ in present])):
            _add(tar, path, mode, data)
        for mode, sha, path in entries:
            if sha in absent:
                found = (recoverers or {}).get(path, lambda: None)()
                if found is None:
                    unrecovered.append(path)
                    continue
                _add(tar, path, mode, found[0])
                recovered[path] = found[1]
    if unrecovered:
        raise SourceIncomplete(f"source incomplete: commit {new[:12]} of {git_dir} lacks {', '.join(unrecovered)} and no maintained source carries it.")
    return TreeChange(buffer.getvalue(), deleted, recovered, changed)


def _tree_entries(git_dir: Path, commit: str, paths: list[str]) -> list[tuple[str, str, str]]:
    """(mode, sha, path) of each path's blob at commit."""
    if not paths:
        return []
    wanted = set(paths)
    return [entry for entry in _blob_entries(git_dir, commit) if entry[2] in wanted]


def _missing(git_dir: Path, shas: list[str]) -> list[str]:
    if not shas:
        return []
    answers = _git(git_dir, "cat-file", "--batch-check", data=("\n".join(shas) + "\n").encode())
    return [sha for sha, line in zip(shas, answers.splitlines()) if line.endswith(b" missing")]


def _blobs(git_dir: Path, shas: list[str]) -> list[bytes]:
    """The contents of blobs, read in one `git cat-file --batch`."""
    if not shas:
        return []
    out = _git(git_dir, "cat-file", "--batch", data=("\n".join(shas) + "\n").encode())
    blobs, position = [], 0
    for _ in shas:
        header_end = out.index(b"\n", position)
        size = int(out[position:header_end].split()[2])
        blobs.append(out[header_end + 1 : header_end + 1 + size])
        position = header_end + 1 + size + 1  # the content is followed by a newline
    return blobs


def _add(tar: tarfile.TarFile, path: str, mode: str, data: bytes) -> None:
    info = tarfile.TarInfo(path)
    info.mtime = int(time.time())
    if mode == "120000":
        info.type, info.linkname = tarfile.SYMTYPE, data.decode("utf-8", "surrogateescape")
        tar.addfile(info)
        return
    info.size, info.mode = len(data), 0o755 if mode == "100755" else 0o644
    tar.addfile(info, io.BytesIO(data))


def _empty_tar() -> bytes:
    buffer = io.BytesIO()
    tarfile.open(fileobj=buffer, mode="w").close()
    return buffer.getvalue()


def files_at(git_dir: Path, commit: str, paths: list[str]) -> tuple[bytes, list[str]]:
    """A tar of the given paths as they are at commit, and the paths the commit does not have."""
    entries = _tree_entries(git_dir, commit, paths)
    present = {path for _, _, path in entries}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for (mode, _sha, path), data in zip(entries, _blobs(git_dir, [sha for _, sha, _ in entries])):
            _add(tar, path, mode, data)
    return buffer.getvalue(), [path for path in paths if path not in present]


def texts_at(git_dir: Path, commit: str, paths: list[str]) -> dict[str, str]:
    """The text of each path that exists at commit."""
    entries = _tree_entries(git_dir, commit, paths)
    blobs = _blobs(git_dir, [sha for _, sha, _ in entries])
    return {path: data.decode("utf-8", "replace") for (_, _, path), data in zip(entries, blobs)}
