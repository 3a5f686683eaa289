"""`patchsmith localize` end to end: a scripted model behind litellm, a dry run, and bad input."""

from __future__ import annotations

import json

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
    assert "cost: $0.0000 (+ 3 calls of unknown price)" in out
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
        code = main(
            ["localize", "--repo", str(repo), "--issue", ISSUE, "--model", "openai/scripted", "--api-base", server.url,
             "--price", "10,10", "--max-cost", "0.001", "--out", str(tmp_path / "run")]
        )
        assert len(server.requests) == 1
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("patchsmith: the cost cap of $0.00 for this issue is reached")
    assert err.count("\n") == 1
    assert (tmp_path / "run" / "model_calls.jsonl").read_text().count("\n") == 1  # what was spent is kept


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
