"""Temporary trees on the host that a build works in (debootstrap's root file system), and what
a killed build leaves in them.

A tree holds an owner lock (flock, released by the kernel when its process dies, however it
dies) and every process the build starts carries MARKER=<tree> in its environment, which their
children inherit. A build killed with SIGKILL leaves its tree, debootstrap's children still
writing into it, and the `proc` (and `sys`) mounts debootstrap made inside. reap() finds trees
whose owner lock is free, kills the processes marked with them, undoes their mounts (deepest
first) and removes them. A tree with a mount that will not go is left, never removed through it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

MARKER = "PATCHSMITH_BUILD_TREE"
_OWNER = ".owner.lock"


@contextlib.contextmanager
def tree(parent: Path, prefix: str) -> Iterator[Path]:
    """A new temporary tree under parent, owned by this process while in use, removed after."""
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    with open(path / _OWNER, "w") as owner:
        fcntl.flock(owner, fcntl.LOCK_EX)
        try:
            yield path
        finally:
            _clear(path)


def marked_env(path: Path) -> dict[str, str]:
    """The environment for a process working in the tree, so that a later run can find it."""
    return {**os.environ, MARKER: str(path)}


def reap(parent: Path) -> list[Path]:
    """Remove the trees under parent whose owner died; returns those removed."""
    removed = []
    for path in sorted(parent.glob("*")) if parent.is_dir() else []:
        if not (path / _OWNER).is_file() or _owned(path):
            continue  # not made by tree(), or its owner still runs
        if _clear(path):
            removed.append(path)
    return removed


def _owned(path: Path) -> bool:
    try:
        with open(path / _OWNER) as owner:
            fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(owner, fcntl.LOCK_UN)
            return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def _clear(path: Path) -> bool:
    """Kill what still works in the tree, undo its mounts, remove it; False when a mount stays."""
    _kill_marked(str(path))
    for mount in sorted(mounts_under(path), key=lambda m: m.count("/"), reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)
    if mounts_under(path):
        return False
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below path, as this process's mount table lists them."""
    root = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as table:
        for line in table:
            point = line.split()[4].encode().decode("unicode_escape")  # octal escapes such as \040
            if point == root or point.startswith(root + "/"):
                found.append(point)
    return found


def _kill_marked(value: str) -> None:
    wanted = f"{MARKER}={value}".encode()
    for _ in range(50):  # a dying parent may still start a child: look again until none is left
        pids = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                if wanted in (entry / "environ").read_bytes().split(b"\0") and int(entry.name) != os.getpid():
                    pids.append(int(entry.name))
            except (OSError, ValueError):
                continue
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
        time.sleep(0.1)
