"""What a killed run leaves, and processes that escape their command: against the real engine.

A run killed with SIGKILL runs no clean-up; the next run with the same cache must remove its
containers (with whatever ran in them), and leave other caches' alone. A test process that
leaves its process group with `setsid` is still killed at its time limit and by reset().
Each child here uses a private PATCHSMITH_CACHE_DIR, so nothing of another run is touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from patchsmith.sandbox import Container
from patchsmith.sandbox.engine import client
from tests.test_sandbox import _exists

pytestmark = pytest.mark.docker

REPO_ROOT = Path(__file__).resolve().parent.parent
# Lists the sleeps of a given length running in the container (no ps in a minbase image).
SLEEPS = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -qx 'sleep {seconds} ' && echo ${{p#/proc/}}; done; true"


def test_a_setsid_escapee_is_killed_at_the_time_limit(bookworm_base_image: str) -> None:
    with Container(bookworm_base_image) as box:
        ran = box.exec("setsid sleep 307 & sleep 200", timeout=2)
        assert ran.timed_out
        time.sleep(0.5)
        assert box.exec(SLEEPS.format(seconds=307)).stdout.strip() == ""


def test_reset_kills_what_earlier_commands_left_running(bookworm_base_image: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.txt").write_text("a\n")
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    with Container(bookworm_base_image).start(repo) as box:
        box.exec("setsid sleep 308 >/dev/null 2>&1 < /dev/null &")  # returns at once, the sleep runs on
        box.exec("sleep 309 >/dev/null 2>&1 < /dev/null &")
        assert box.exec(SLEEPS.format(seconds=308)).stdout.strip() != ""
        box.reset()
        assert box.exec(SLEEPS.format(seconds=308) + "; " + SLEEPS.format(seconds=309)).stdout.strip() == ""


CHILD = textwrap.dedent("""
    import sys, time
    from patchsmith.sandbox import Container
    box = Container({image!r}).start()
    box.exec("sleep 600 >/dev/null 2>&1 &")  # a test run that goes on in the container
    print(box.id, flush=True)
    time.sleep(600)
""")


def _killed_child(image: str, cache: Path) -> str:
    env = {**os.environ, "PATCHSMITH_CACHE_DIR": str(cache)}
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(image=image)], stdout=subprocess.PIPE, text=True, env=env)
    container_id = child.stdout.readline().strip()
    child.kill()  # SIGKILL: no handler, no atexit
    child.wait(timeout=30)
    assert container_id and _exists(container_id)
    return container_id


NEXT_RUN = "from patchsmith.sandbox import Container\nwith Container({image!r}) as box:\n    print(box.id)\n"


def test_the_next_run_with_the_same_cache_removes_the_containers_a_killed_run_left(bookworm_base_image: str, tmp_path: Path) -> None:
    mine, other = tmp_path / "cache", tmp_path / "other-cache"
    left = _killed_child(bookworm_base_image, mine)
    elsewhere = _killed_child(bookworm_base_image, other)
    try:
        env = {**os.environ, "PATCHSMITH_CACHE_DIR": str(mine)}
        subprocess.run([sys.executable, "-c", NEXT_RUN.format(image=bookworm_base_image)], env=env, check=True, timeout=120)
        assert not _exists(left)
        assert _exists(elsewhere)  # another cache's run is not this run's to clean
    finally:
        client().api.remove_container(elsewhere, force=True)  # ours: made by this test's child


# debootstrap as far as a kill is concerned: it mounts proc in the new root (as the real one
# does), starts a child that leaves its session and keeps writing, and takes its time.
FAKE_DEBOOTSTRAP = """#!/bin/sh
[ -n "$FAKE_DEBOOTSTRAP_FAILS" ] && { echo "no mirror answers"; exit 1; }
target=$4
mkdir -p "$target/proc"
mount -t proc proc "$target/proc"
setsid sh -c 'while :; do date >> "$0/still-writing"; sleep 0.1; done' "$target" &
touch "$target/../bootstrapping"
sleep 600
"""
BUILD = ("from patchsmith.sandbox.base import BaseSpec, ensure_base_image\n"
         "ensure_base_image(BaseSpec(suite='bookworm', packages=('never-built-{nonce}',)), cache_dir={cache!r}, mirror='http://127.0.0.1:9/debian')\n")


def _processes_naming(folder: Path) -> list[int]:
    """Processes whose command line names something under folder (the fake's writer does)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if f"{folder}/".encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting proc, as debootstrap does, needs root")
def test_the_next_build_removes_what_a_base_image_build_killed_during_debootstrap_left(tmp_path: Path) -> None:
    from patchsmith.sandbox.scratch import mounts_under

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "debootstrap").write_text(FAKE_DEBOOTSTRAP)
    (fake_bin / "debootstrap").chmod(0o755)
    cache = tmp_path / "cache"
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}", "PATCHSMITH_CACHE_DIR": str(cache)}
    build = BUILD.format(nonce=time.time_ns(), cache=str(cache))
    child = subprocess.Popen([sys.executable, "-c", build], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmp = cache / "tmp"
    deadline = time.monotonic() + 60
    while not list(tmp.glob("base-*/bootstrapping")):
        assert child.poll() is None and time.monotonic() < deadline, "the build never reached debootstrap"
        time.sleep(0.1)
    child.kill()
    child.wait(timeout=30)
    try:
        (tree,) = tmp.glob("base-*")
        assert _processes_naming(tmp) and mounts_under(tree)  # what the kill left: a writer and a proc mount
        # The next run with the same cache: its build fails at once, but first it clears up.
        again = subprocess.run([sys.executable, "-c", build], env={**env, "FAKE_DEBOOTSTRAP_FAILS": "1"},
                               capture_output=True, text=True, timeout=120)
        assert "no mirror answers" in again.stderr + again.stdout
        assert _processes_naming(tmp) == [] and mounts_under(tmp) == [] and list(tmp.glob("*")) == []
    finally:  # this test's own leftovers, if it failed
        for pid in _processes_naming(tmp):
            os.kill(pid, 9)
        for mount in mounts_under(tmp):
            subprocess.run(["umount", "-l", mount])
