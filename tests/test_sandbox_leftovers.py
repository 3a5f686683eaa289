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

import docker.errors
import pytest

from patchsmith.sandbox import Container
from patchsmith.sandbox.engine import client

pytestmark = pytest.mark.docker

REPO_ROOT = Path(__file__).resolve().parent.parent
# Lists the sleeps of a given length running in the container (no ps in a minbase image).
SLEEPS = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -qx 'sleep {seconds} ' && echo ${{p#/proc/}}; done; true"


def _exists(container_id: str) -> bool:
    try:
        client().api.inspect_container(container_id)
        return True
    except docker.errors.NotFound:
        return False


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
