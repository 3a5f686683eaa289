"""Flags as a user meets them, in a subprocess: one spelling of the repository, `--samples` with
one meaning, `localize --dry-run` through the pipeline, `--no-cache`, and solve's first line of
output before litellm has loaded."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_git_repo
from tests.scripted_model import ScriptedModel
from tests.test_localize import FILES, ISSUE


def patchsmith(*argv: str, cwd: Path, env: dict | None = None, python: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    base = {**os.environ, "PATCHSMITH_CACHE_DIR": str(cwd / "cache"), "PATCHSMITH_CONFIG": str(cwd / "no-config.toml"),
            "OPENAI_API_KEY": "scripted"}
    base.pop("PATCHSMITH_MODEL", None)
    return subprocess.run([sys.executable, *python, "-m", "patchsmith.cli", *argv], cwd=cwd, capture_output=True,
                          text=True, env={**base, **(env or {})}, timeout=300)


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    make_git_repo(root, {path: __import__("textwrap").dedent(text) for path, text in FILES.items()})
    return root


def test_index_search_and_show_take_repo_like_every_command(repo, tmp_path):
    indexed = patchsmith("index", "--repo", str(repo), cwd=tmp_path)
    assert indexed.returncode == 0, indexed.stderr
    assert f"indexed:     {repo}" in indexed.stdout and indexed.stderr == ""
    found = patchsmith("search", "--repo", str(repo), "discount percent", "--json", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert "inventory/pricing.py" in [hit["path"] for hit in json.loads(found.stdout)["files"]]
    shown = patchsmith("show", "--repo", str(repo), "inventory/pricing.py:discount", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.startswith("# inventory/pricing.py:"), shown.stderr
    here = patchsmith("index", cwd=repo)  # the current folder by default
    assert here.returncode == 0 and f"indexed:     {repo}" in here.stdout
    # The older positional spelling still works, and says which to write instead.
    old = patchsmith("show", str(repo), "inventory/pricing.py:discount", cwd=tmp_path)
    assert old.returncode == 0 and old.stdout == shown.stdout
    assert "`patchsmith show PATH` is deprecated; write `patchsmith show --repo PATH`" in old.stderr
    both = patchsmith("index", "--repo", str(repo), str(repo), cwd=tmp_path)
    assert both.returncode == 2 and "give the repository once" in both.stderr and "Traceback" not in both.stderr


def test_samples_means_the_same_in_solve_and_bot(tmp_path):
    def helped(command: str) -> str:
        text = patchsmith(command, "--help", cwd=tmp_path, env={"COLUMNS": "500"}).stdout
        return re.search(r"--samples SAMPLES\s+(.*)", text)[1].split(" (default")[0].strip()

    assert helped("solve") == helped("bot") == "repair candidates per location set (one greedy, the rest sampled)"


def test_localize_dry_run_needs_no_model_honours_patchsmith_model_and_runs_the_pipeline(repo, tmp_path):
    done = patchsmith("localize", "--repo", str(repo), "--issue", ISSUE, "--dry-run", "--json", "--out", str(tmp_path / "a"),
                      cwd=tmp_path, env={"PATCHSMITH_MODEL": "anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY": ""})
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert counts["model"] == "anthropic/claude-sonnet-4-5" and counts["context_window"] == 200_000
    assert counts["run_folder"] == str(tmp_path / "a")
    # Through the pipeline: a run folder with its settings and the localization, and no model call.
    settings = json.loads((tmp_path / "a" / "settings.json").read_text())
    assert settings["settings"]["model"]["model"] == "anthropic/claude-sonnet-4-5"
    assert json.loads((tmp_path / "a" / "localize.json").read_text())["files"]["files"]
    assert not (tmp_path / "a" / "model_calls.jsonl").exists() or not (tmp_path / "a" / "model_calls.jsonl").read_text()
    plain = patchsmith("localize", "--repo", str(repo), "--issue", ISSUE, "--dry-run", "--out", str(tmp_path / "b"),
                       cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "dry run for openai/gpt-4o (context window 128000): no model called" in plain.stdout
    assert f"run folder: {tmp_path / 'b'}" in plain.stdout and (tmp_path / "b" / "localize.json").is_file()


LOCALIZE_ANSWERS = ["```\ninventory/pricing.py\n```", "```\ninventory/pricing.py::discount\n```",
                    "```\ninventory/pricing.py:8-9\n```"]


def test_no_cache_neither_reads_nor_writes_the_response_cache(repo, tmp_path):
    with ScriptedModel(LOCALIZE_ANSWERS * 2) as server:
        def localize(out: str, *extra: str) -> subprocess.CompletedProcess:
            done = patchsmith("localize", "--repo", str(repo), "--issue", ISSUE, "--model", "openai/scripted",
                              "--api-base", server.url, "--line-samples", "1", "--out", str(tmp_path / out), *extra,
                              cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            return done

        localize("first")
        assert len(server.requests) == 3
        replay = localize("replay")  # from the cache: no request, no cost
        assert len(server.requests) == 3 and "inventory/pricing.py:8-9" in replay.stdout
        ledger = [json.loads(line) for line in (tmp_path / "replay" / "model_calls.jsonl").read_text().splitlines()]
        assert ledger and all(line["cache_hit"] for line in ledger)
        localize("uncached", "--no-cache")  # asks the model again
        assert len(server.requests) == 6
        ledger = [json.loads(line) for line in (tmp_path / "uncached" / "model_calls.jsonl").read_text().splitlines()]
        assert ledger and not any(line["cache_hit"] for line in ledger)
    saved = json.loads((tmp_path / "uncached" / "settings.json").read_text())
    assert saved["settings"]["model"]["cache"] is False


def first_line(lines: list[str], pattern: str) -> int:
    return next(number for number, line in enumerate(lines) if re.search(pattern, line))


@pytest.mark.docker
def test_solve_shows_progress_and_indexes_before_litellm_has_loaded(repo, tmp_path):
    """Ordering, not timing: `python -X importtime` writes a line to stderr when an import
    finishes, in the same stream as solve's progress; litellm's line must come after solve's
    first progress line and after the index. No key is set, so the run stops at the model check
    (one sentence, before any model call)."""
    done = patchsmith("solve", "--repo", str(repo), "--issue", ISSUE, "--model", "openai/gpt-4o",
                      "--out", str(tmp_path / "run"), cwd=tmp_path, env={"OPENAI_API_KEY": ""}, python=("-X", "importtime"))
    lines = done.stderr.splitlines()
    [said] = [line for line in lines if line.startswith("patchsmith: ")]
    assert done.returncode == 2 and "no API key for openai/gpt-4o: set OPENAI_API_KEY (OPENAI_API_KEY is set but empty)" in said
    litellm_loaded = first_line(lines, r"^import time:.*\|\s+litellm$")
    assert first_line(lines, r"^\s+preflight checking the repository") < litellm_loaded
    assert first_line(lines, r"^\s+index \d+ files") < litellm_loaded
    assert not (tmp_path / "run" / "model_calls.jsonl").exists()
