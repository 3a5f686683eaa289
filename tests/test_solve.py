"""`patchsmith solve` end to end on examples/shopcart: a scripted model behind the real litellm
path, real Docker. The right candidate is neither the first sample nor the majority's; only the
evidence gathered in the sandbox picks it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shopcart_model import EXAMPLE, fresh_model_cache, shopcart_model  # noqa: F401 - an autouse fixture

pytestmark = pytest.mark.docker


def copy_example(dest: Path) -> Path:
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.egg-info"))
    return dest


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
    outcome = solve(SolveRequest(
        repo=repo, issue_title=title, issue_body=body, model="openai/scripted", api_base=scripted.url,
        samples=4, location_sets=1, repro_samples=2, out_dir=out,
    ))

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
    copy_example(path)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"]):
        subprocess.run(["git", *args], cwd=path, check=True)
    return path


def test_resume_continues_from_the_saved_stages_without_asking_the_model(tmp_path, bookworm_base_image, scripted, monkeypatch):
    from patchsmith.issue_source import read_issue
    from patchsmith.pipeline import SolveRequest, solve
    from tests.scripted_model import ScriptedModel

    repo = copy_example(tmp_path / "shopcart")
    title, body = read_issue(str(repo / "ISSUE.md"))
    out = tmp_path / "run"
    request = SolveRequest(repo=repo, issue_title=title, issue_body=body, model="openai/scripted", api_base=scripted.url,
                           samples=4, location_sets=1, repro_samples=2, out_dir=out)
    first = solve(request)
    (out / "select.json").unlink()
    (out / "patch.diff").unlink()

    # A fresh model cache and a server that answers nothing: only the saved stages can carry the run.
    monkeypatch.setattr("patchsmith.llm.default_cache_dir", lambda: tmp_path / "another-cache")
    with ScriptedModel([]) as silent:
        resumed = solve(SolveRequest(**{**request.__dict__, "api_base": silent.url, "resume": True}))
        assert silent.requests == []
    assert resumed.patch == first.patch and (out / "patch.diff").read_text() == first.patch


def test_solve_command_applies_the_fix_on_a_new_branch(tmp_path, bookworm_base_image, scripted):
    from patchsmith.cli import main

    repo = make_repo(tmp_path / "shopcart")
    code = main(["solve", "--repo", str(repo), "--issue", str(repo / "ISSUE.md"), "--model", "openai/scripted",
                 "--api-base", scripted.url, "--branch", "fix-bulk", "--out", str(tmp_path / "run")])
    assert code == 0
    branch = subprocess.run(["git", "branch", "--show-current"], cwd=repo, capture_output=True, text=True).stdout.strip()
    assert branch == "fix-bulk"
    shown = subprocess.run(["git", "show", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
    assert "+        if quantity >= threshold:" in shown
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    assert status == ""
