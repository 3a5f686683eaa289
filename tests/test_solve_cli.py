"""`patchsmith solve` as a user runs it, in a subprocess: what stdout holds when piped, what
--branch commits, what --resume does with a stopped and with a finished run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.shopcart_model import shopcart_model
from tests.test_solve import make_repo

pytestmark = pytest.mark.docker

FIX_LINE = "+        if quantity >= threshold:"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture()
def user_env(tmp_path, monkeypatch):
    """The environment of a user's shell: a key for the scripted server, a cache of their own."""
    env = {**os.environ, "OPENAI_API_KEY": "scripted", "PATCHSMITH_CACHE_DIR": str(tmp_path / "cache"),
           "PATCHSMITH_CONFIG": str(tmp_path / "no-config.toml")}
    env.pop("PATCHSMITH_MODEL", None)
    return env


def file_step_calls(out: Path) -> int:
    ledger = (out / "model_calls.jsonl").read_text().splitlines()
    # The file step: the element and line steps run again by design once a failing run is measured.
    return sum(json.loads(line)["stage"] == "localize.files" for line in ledger if line.strip())


def solve_command(repo: Path, url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "patchsmith.cli", "solve", "--repo", str(repo), "--issue", str(repo / "ISSUE.md"),
            "--model", "openai/scripted", "--api-base", url, "--set", "repair.location_sets=1",
            "--repro-samples", "2", *extra]


def test_piped_diff_is_byte_for_byte_and_branch_holds_only_the_fix(tmp_path, bookworm_base_image, user_env):
    repo = make_repo(tmp_path / "shopcart")
    # The user's own work in progress: an edit, an untracked file, and the run folder inside the repository.
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nwork in progress\n")
    (repo / "notes.txt").write_text("mine\n")
    out = repo / "patchsmith-runs" / "one"
    with shopcart_model() as server:
        done = subprocess.run(solve_command(repo, server.url, "--branch", "fix-bulk", "--out", str(out)),
                              capture_output=True, env=user_env, cwd=repo)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    patch = (out / "patch.diff").read_bytes()
    assert done.stdout == patch and FIX_LINE.encode() in patch  # no wrapping, no colour, nothing else
    applied = subprocess.run(["git", "apply", "--check", "-"], input=done.stdout, cwd=make_repo(tmp_path / "clean"))
    assert applied.returncode == 0

    # The branch: exactly the fix, on top of HEAD, with the title as its message.
    assert git(repo, "branch", "--show-current").strip() == "main"
    assert git(repo, "diff", "--name-only", "main", "fix-bulk").split() == ["shopcart/pricing.py"]
    assert FIX_LINE in git(repo, "show", "fix-bulk")
    assert git(repo, "log", "-1", "--format=%s", "fix-bulk").strip() == "Fix: Bulk discount is not applied at exactly 10 items"
    # The user's own changes are still theirs, uncommitted; the work tree's pricing.py is untouched.
    status = git(repo, "status", "--porcelain")
    assert " M README.md" in status and "?? notes.txt" in status
    assert "quantity >= threshold" not in (repo / "shopcart" / "pricing.py").read_text()


def test_resume_of_a_killed_run_and_of_a_finished_run(tmp_path, bookworm_base_image, user_env):
    repo = make_repo(tmp_path / "shopcart")
    out = tmp_path / "run"
    with shopcart_model() as server:
        started = subprocess.Popen(solve_command(repo, server.url, "--out", str(out), "--max-cost", "5", "--price", "1,1"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=user_env, start_new_session=True)
        deadline = time.monotonic() + 300
        while not (out / "localize.json").exists() and started.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (out / "localize.json").exists(), started.communicate()[1].decode()[-2000:]
        os.killpg(started.pid, signal.SIGKILL)  # as a user's kill -9 or a lost machine would
        started.wait()
        assert not (out / "outcome.json").exists()
        localize_lines = file_step_calls(out)
        assert localize_lines > 0

        # Set later in the shell: the run's own settings outrank it.
        later = {**user_env, "PATCHSMITH_API_BASE": "http://127.0.0.1:9/never"}
        resumed = subprocess.run([sys.executable, "-m", "patchsmith.cli", "solve", "--resume", str(out)],
                                 capture_output=True, env=later)
        assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
        assert FIX_LINE.encode() in resumed.stdout
        assert file_step_calls(out) == localize_lines  # the saved localization was used, not asked for again
    saved = json.loads((out / "settings.json").read_text())
    assert saved["settings"]["model"]["max_cost"] == 5 and saved["settings"]["model"]["price_per_token"] == [1e-06, 1e-06]
    assert saved["workspace"]["kind"] == "recipe"

    again = subprocess.run([sys.executable, "-m", "patchsmith.cli", "solve", "--resume", str(out)],
                           capture_output=True, env=user_env)
    assert again.returncode == 0
    assert b"is a finished run" in again.stderr and again.stdout == (out / "patch.diff").read_bytes()
