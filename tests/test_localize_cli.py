"""`patchsmith localize` end to end: a scripted model behind litellm, a dry run, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from patchsmith.cli import main
from tests.scripted_model import ScriptedModel
from tests.test_localize import ISSUE, make_repo


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHSMITH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    return make_repo(tmp_path / "repo")


def test_localize_prints_locations_and_cost(repo, tmp_path, capsys):
    issue_file = tmp_path / "issue.md"
    issue_file.write_text(ISSUE)
    with ScriptedModel(
        ["```\ninventory/pricing.py\n```", "```\ninventory/pricing.py::discount\n```", ["```\ninventory/pricing.py:8-9\n```"] * 2]
    ) as server:
        code = main(
            ["localize", "--repo", str(repo), "--issue", str(issue_file), "--model", "openai/scripted",
             "--api-base", server.url, "--line-samples", "2", "--out", str(tmp_path / "run")]
        )
    out = capsys.readouterr().out
    assert code == 0
    assert "inventory/pricing.py:8-9" in out and "discount" in out
    assert "cost: unknown (3 calls had no price; give --price IN,OUT)" in out
    saved = json.loads((tmp_path / "run" / "localize.json").read_text())
    assert saved["edits"]["union"][0]["start"] == 8
    ledger = [json.loads(line) for line in (tmp_path / "run" / "model_calls.jsonl").read_text().splitlines()]
    assert [line["stage"] for line in ledger] == ["localize.files", "localize.elements", "localize.lines"]


def test_dry_run_counts_tokens_and_calls_nothing(repo, capsys):
    code = main(["localize", "--repo", str(repo), "--issue", ISSUE, "--model", "openai/gpt-4o", "--dry-run", "--json"])
    assert code == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["context_window"] == 128_000
    assert set(counts["prompt_tokens"]) == {"files", "elements", "lines"}
    assert all(tokens > 50 for tokens in counts["prompt_tokens"].values())
    assert counts["total"] == sum(counts["prompt_tokens"].values())


def test_cost_cap_stops_the_run_with_one_sentence(repo, tmp_path, capsys):
    long_answer = "```\ninventory/pricing.py\n```" + " padding" * 500
    with ScriptedModel([long_answer, "never sent", "never sent"]) as server:
        # litellm has no price for "scripted": --price gives one ($10 per million tokens each way).
        # Each request may cost its prompt plus 4096 answer tokens (about $0.045): the first fits
        # under $0.05, the second would not once the first's $0.009 is spent, so it is never sent.
        code = main(
            ["localize", "--repo", str(repo), "--issue", ISSUE, "--model", "openai/scripted", "--api-base", server.url,
             "--price", "10,10", "--max-cost", "0.05", "--out", str(tmp_path / "run")]
        )
        assert len(server.requests) == 1
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("patchsmith: the next request could cost up to $0.04")
    assert "cost cap of $0.05" in err and err.count("\n") == 1
    ledger = [json.loads(line) for line in (tmp_path / "run" / "model_calls.jsonl").read_text().splitlines()]
    assert len(ledger) == 2 and ledger[0]["cost"] > 0  # what was spent is kept
    assert ledger[1]["error"].startswith("refused: the next request") and ledger[1]["cost"] == 0


def test_a_cap_on_an_unpriced_model_is_refused_before_any_call(repo, tmp_path):
    with ScriptedModel(["never sent"]) as server:
        done = subprocess.run(
            [sys.executable, "-m", "patchsmith.cli", "localize", "--repo", str(repo), "--issue", ISSUE,
             "--model", "openai/scripted", "--api-base", server.url, "--max-cost", "1.50", "--out", str(tmp_path / "run")],
            capture_output=True, text=True, timeout=120,
        )
        assert server.requests == []
    assert done.returncode == 2
    assert done.stderr.startswith("patchsmith: litellm has no price for openai/scripted, so a cost cap of $1.50 cannot be kept")
    assert "--price IN,OUT" in done.stderr and "Traceback" not in done.stderr


def test_unpriced_cost_is_unknown_not_zero_and_a_wrong_path_is_one_sentence(repo, tmp_path):
    with ScriptedModel(["```\ninventory/pricing.py\n```", "x", "x"]) as server:
        command = [sys.executable, "-m", "patchsmith.cli", "localize", "--repo", str(repo), "--issue", ISSUE,
                   "--model", "openai/scripted", "--line-samples", "1"]
        priced = subprocess.run(command + ["--api-base", server.url, "--out", str(tmp_path / "a")],
                                capture_output=True, text=True, timeout=120)
        # A fresh cache, or the first run's answers would be served without asking the server.
        fresh = {**os.environ, "PATCHSMITH_CACHE_DIR": str(tmp_path / "other-cache")}
        wrong = subprocess.run(command + ["--api-base", server.url.replace("/v1", "/api"), "--out", str(tmp_path / "b")],
                               capture_output=True, text=True, timeout=120, env=fresh)
    assert priced.returncode == 0, priced.stderr
    assert "cost: unknown (3 calls had no price" in priced.stdout and "$0.0000" not in priced.stdout
    # A wrong endpoint path: a 404 (a NotFoundError, which escaped as a traceback before).
    assert wrong.returncode == 2
    assert "Traceback" not in wrong.stderr and wrong.stderr.count("\n") == 1
    assert wrong.stderr.startswith(f"patchsmith: openai/scripted at {server.url.replace('/v1', '/api')} answered 404")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--repo", "/no/such/folder", "--issue", "text", "--model", "openai/gpt-4o", "--dry-run"], "patchsmith: "),
        (["--repo", "{repo}", "--issue", "   ", "--model", "openai/gpt-4o", "--dry-run"], "the issue is empty"),
        (["--repo", "{repo}", "--issue", "text", "--model", "nonsense-model", "--dry-run"], "litellm does not know"),
        (["--repo", "{repo}", "--issue", "text", "--model", "openai/x", "--price", "cheap"], "--price"),
    ],
)
def test_bad_input_is_one_sentence(repo, capsys, argv, message):
    code = main(["localize"] + [a.format(repo=repo) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
