"""`patchsmith solve` end to end on examples/shopcart: a scripted model behind the real litellm
path, real Docker. The right candidate is neither the first sample nor the majority's; only the
evidence gathered in the sandbox picks it."""

from __future__ import annotations

import json
from dataclasses import replace
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_git_repo
from tests.shopcart_model import EXAMPLE, fresh_model_cache, shopcart_model  # noqa: F401 - an autouse fixture

pytestmark = pytest.mark.docker


def copy_example(dest: Path) -> Path:
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.egg-info"))
    return dest


def scripted_settings(url: str):
    """The settings the shopcart script is written for: 4 candidates from one location set, 2 scripts."""
    from patchsmith.settings import Settings, with_values

    return with_values(Settings(), {"model.model": "openai/scripted", "model.api_base": url, "repair.samples": 4,
                                    "repair.location_sets": 1, "reproduce.scripts.samples": 2})


@pytest.fixture()
def scripted(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "scripted")
    with shopcart_model() as server:
        yield server


def test_solve_picks_the_candidate_the_evidence_supports(tmp_path, bookworm_base_image, scripted):
    from patchsmith.issue_source import read_issue
    from patchsmith.pipeline import SolveRequest, solve

    repo = copy_example(tmp_path / "shopcart")
    title, body = read_issue(str(repo / "ISSUE.md"))
    out = tmp_path / "run"
    outcome = solve(SolveRequest(repo=repo, issue_title=title, issue_body=body, settings=scripted_settings(scripted.url), out_dir=out))

    assert outcome.failure is None, outcome.failure_detail
    assert "+        if quantity >= threshold:" in outcome.patch
    assert outcome.files_touched == ("shopcart/pricing.py",)
    assert outcome.repro_verdict == "reproduced"
    assert outcome.tests_run >= 6 and outcome.tests_passed == outcome.tests_run

    # The evidence, candidate by candidate.
    records = {int(p.stem): json.loads(p.read_text()) for p in (out / "candidates").glob("*.json")}
    assert sorted(records) == [0, 1, 2, 3]
    assert records[0]["validation"]["repro_verdict"] == "reproduced"  # docstring only: still broken
    assert records[0]["validation"]["broken_tests"] == []
    assert records[1]["validation"]["repro_verdict"] == "reproduced"  # everyone discounted
    assert any("few_items" in t for t in records[1]["validation"]["broken_tests"])
    assert records[2]["validation"]["repro_verdict"] == "resolved"  # the fix
    assert records[2]["validation"]["broken_tests"] == []
    assert not records[3]["candidate"]["edit"]["ok"] and "validation" not in records[3]
    assert json.loads((out / "select.json").read_text())["chosen"] == 2

    # The run folder as DESIGN.md lays it out.
    for name in ("settings.json", "issue.md", "localize.json", "reproduce.json", "select.json",
                 "model_calls.jsonl", "patch.diff", "report.md"):
        assert (out / name).is_file(), name
    assert (out / "logs" / "env-build.log").exists() or any((out / "logs").iterdir())
    assert (out / "patch.diff").read_text() == outcome.patch
    report = (out / "report.md").read_text()
    assert "## Selection" in report and "resolved" in report

    # The patch really fixes the example: apply it to a fresh copy and check the values.
    fresh = copy_example(tmp_path / "fresh")
    subprocess.run(["git", "apply", str(out / "patch.diff")], cwd=fresh, check=True)
    check = "from shopcart import bulk_unit_price as p; print(p('2.00', 10), p('2.00', 50))"
    result = subprocess.run([sys.executable, "-c", check], cwd=fresh, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["1.90", "1.76"]


def test_solve_command_without_a_model_says_how_to_name_one(tmp_path, monkeypatch):
    monkeypatch.delenv("PATCHSMITH_MODEL", raising=False)
    result = subprocess.run(
        [sys.executable, "-m", "patchsmith.cli", "solve", "--repo", str(EXAMPLE), "--issue", str(EXAMPLE / "ISSUE.md")],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "--model" in result.stderr and "PATCHSMITH_MODEL" in result.stderr
    assert "Traceback" not in result.stderr


def make_repo(path: Path) -> Path:
    make_git_repo(copy_example(path), branch="main", message="base")
    return path


def test_resume_continues_from_the_saved_stages_without_asking_the_model(tmp_path, bookworm_base_image, scripted, monkeypatch):
    from patchsmith.issue_source import read_issue
    from patchsmith.pipeline import SolveRequest, solve
    from patchsmith.settings import with_values
    from tests.scripted_model import ScriptedModel

    repo = copy_example(tmp_path / "shopcart")
    title, body = read_issue(str(repo / "ISSUE.md"))
    out = tmp_path / "run"
    request = SolveRequest(repo=repo, issue_title=title, issue_body=body, settings=scripted_settings(scripted.url), out_dir=out)
    first = solve(request)
    (out / "select.json").unlink()
    (out / "patch.diff").unlink()

    # A fresh model cache and a server that answers nothing: only the saved stages can carry the run.
    monkeypatch.setattr("patchsmith.llm.default_cache_dir", lambda: tmp_path / "another-cache")
    with ScriptedModel([]) as silent:
        settings = with_values(request.settings, {"model.api_base": silent.url})
        resumed = solve(replace(request, settings=settings, resume=True))
        assert silent.requests == []
    assert resumed.patch == first.patch and (out / "patch.diff").read_text() == first.patch
