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
from dataclasses import dataclass
from pathlib import Path

from swebench_runner.errors import SwebenchError


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
    listing = _git(git_dir, "ls-tree", "-r", "-z", "--full-tree", commit)
    entries = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, path = record.split(b"\t", 1)
        _mode, kind, sha = meta.split()
        if kind == b"blob":
            entries.append((sha, path.decode("utf-8", "surrogateescape")))
    answers = _git(git_dir, "cat-file", "--batch-check", data=b"\n".join(sha for sha, _ in entries) + b"\n")
    return [path for (_, path), line in zip(entries, answers.splitlines()) if line.endswith(b" missing")]


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
