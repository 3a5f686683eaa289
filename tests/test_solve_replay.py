"""A whole `solve` replayed from the model cache: the same diff, no request, zero cost; and the run
folder keeps every prompt and answer, linked from report.md."""

from __future__ import annotations

import json

import pytest

from tests.scripted_model import ScriptedModel
from tests.shopcart_model import fresh_model_cache, shopcart_model  # noqa: F401 - an autouse fixture
from tests.test_solve import copy_example, make_repo

pytestmark = pytest.mark.docker


def test_a_replay_gives_the_same_diff_at_zero_cost(tmp_path, bookworm_base_image, monkeypatch):
    from patchsmith.issue_source import read_issue
    from patchsmith.pipeline import SolveRequest, solve
    from tests.test_solve import scripted_settings

    monkeypatch.setenv("OPENAI_API_KEY", "scripted")
    repo = copy_example(tmp_path / "shopcart")
    title, body = read_issue(str(repo / "ISSUE.md"))
    ask = dict(repo=repo, issue_title=title, issue_body=body)
    with shopcart_model() as live:
        first = solve(SolveRequest(**ask, settings=scripted_settings(live.url), out_dir=tmp_path / "first"))
    assert first.patch and first.failure is None, first.failure_detail

    with ScriptedModel([]) as silent:  # answers nothing: only the cache can carry the run
        replay = solve(SolveRequest(**ask, settings=scripted_settings(silent.url), out_dir=tmp_path / "replay"))
        assert silent.requests == []
    assert replay.patch == first.patch
    assert replay.cost_usd == 0.0
    ledger = [json.loads(line) for line in (tmp_path / "replay" / "model_calls.jsonl").read_text().splitlines()]
    assert ledger and all(line["cache_hit"] and line["cost"] == 0.0 for line in ledger)

    # Every prompt and answer of the first run, with its stage and sample index.
    calls = [json.loads(line) for line in (tmp_path / "first" / "transcript.jsonl").read_text().splitlines()]
    stages = {call["stage"] for call in calls}
    assert {"localize.files", "localize.elements", "localize.lines", "reproduce", "repair"} <= stages
    repair = [a for call in calls if call["stage"] == "repair" for a in call["answers"]]
    assert len(repair) == 4 and any("if quantity >= threshold:" in a["text"] for a in repair)
    assert all(call["messages"] and "cost" in call["answers"][0] for call in calls if call["answers"])
    report = (tmp_path / "first" / "report.md").read_text()
    assert "- model transcript: [localize.files: line 1](transcript.jsonl#L1)" in report
    assert "[repair: " in report.split("## Candidates")[1]
    # litellm has no price for the scripted model: the report says so instead of "$0.0000".
    assert "cost: unknown (" in report and "$0.0000" not in report


def test_solve_says_the_cost_of_an_unpriced_model_is_unknown(tmp_path, bookworm_base_image, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("OPENAI_API_KEY", "scripted")
    monkeypatch.setenv("PATCHSMITH_CACHE_DIR", str(tmp_path / "cache"))
    repo = make_repo(tmp_path / "shopcart")  # solve asks for a git repository
    with shopcart_model() as live:
        done = subprocess.run(
            [sys.executable, "-m", "patchsmith.cli", "solve", "--repo", str(repo), "--issue", str(repo / "ISSUE.md"),
             "--model", "openai/scripted", "--api-base", live.url, "--out", str(tmp_path / "run")],
            capture_output=True, text=True, timeout=600,
        )
    assert done.returncode == 0, done.stderr
    assert "cost: unknown;" in done.stderr and "$0.0000" not in done.stderr
