"""The response cache and the transcript, through the real litellm path: seeds, no cache, replay
at zero cost, and every prompt and answer kept in the run folder."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from patchsmith.llm import ModelError
from patchsmith.report import render_report
from patchsmith.runs import RunFolder
from tests.scripted_model import Reply, ScriptedModel
from tests.test_llm import ASK, ledger_lines, scripted

PRICE = (1e-3, 2e-3)


def transcript(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "run" / "transcript.jsonl").read_text().splitlines()]


def test_another_seed_draws_new_samples_and_keeps_the_greedy_answer(server, tmp_path):
    server.add("greedy", ["hot 1", "hot 2"], ["hot 3", "hot 4"])
    first = scripted(server, tmp_path, seed=0)
    assert first.complete(ASK, stage="repair") == ["greedy"]
    assert first.complete(ASK, stage="repair", n=2, temperature=0.8) == ["hot 1", "hot 2"]
    same = scripted(server, tmp_path, seed=0)
    assert same.complete(ASK, stage="repair", n=2, temperature=0.8) == ["hot 1", "hot 2"]
    assert len(server.requests) == 2  # the same seed: served from the cache
    other = scripted(server, tmp_path, seed=7)
    assert other.complete(ASK, stage="repair", n=2, temperature=0.8) == ["hot 3", "hot 4"]
    assert other.complete(ASK, stage="repair") == ["greedy"]  # greedy does not depend on a seed
    assert len(server.requests) == 3


def test_no_cache_neither_reads_nor_writes(server, tmp_path):
    server.add("one", "two")
    assert scripted(server, tmp_path, cache=False).complete(ASK, stage="s") == ["one"]
    assert scripted(server, tmp_path, cache=False).complete(ASK, stage="s") == ["two"]
    assert not (tmp_path / "cache").exists()


def test_a_replay_from_the_cache_gives_the_same_answers_at_zero_cost(tmp_path):
    questions = [[{"role": "user", "content": f"question {i}"}] for i in range(3)]
    with ScriptedModel(["a", ["b", "c"], "d"]) as live:
        first = scripted(live, tmp_path, price_per_token=PRICE)
        answers = [first.complete(questions[0], stage="localize.files"),
                   first.complete(questions[1], stage="repair", n=2, temperature=0.8),
                   first.complete(questions[2], stage="regression")]
        assert first.spent > 0
    with ScriptedModel([]) as silent:  # answers nothing: only the cache can
        replay = scripted(silent, tmp_path, price_per_token=PRICE, cost_cap=0.0001)  # a cap far below one call
        assert [replay.complete(questions[0], stage="localize.files"),
                replay.complete(questions[1], stage="repair", n=2, temperature=0.8),
                replay.complete(questions[2], stage="regression")] == answers
        assert silent.requests == []
    assert replay.spent == 0.0 and replay.cost_usd == 0.0
    assert all(r.cache_hit for r in replay.ledger.records)


def test_the_transcript_keeps_every_prompt_and_answer_with_stage_sample_and_cost(server, tmp_path):
    server.add(["x y", "z"], Reply(status=400, error_message="nope"))
    model = scripted(server, tmp_path, price_per_token=PRICE)
    model.complete(ASK, stage="reproduce", n=2, temperature=0.8)
    with pytest.raises(ModelError):
        model.complete([{"role": "user", "content": "fails"}], stage="repair")
    scripted(server, tmp_path, price_per_token=PRICE).complete(ASK, stage="reproduce", n=2, temperature=0.8)  # cached
    ok, failed, cached = transcript(tmp_path)
    assert ok["stage"] == "reproduce" and ok["messages"] == ASK and ok["temperature"] == 0.8
    assert [(a["sample"], a["text"], a["cache_hit"]) for a in ok["answers"]] == [(0, "x y", False), (1, "z", False)]
    # One request for both: its cost ($0.001 x 5 prompt + $0.002 x 3 answer tokens) shared between them.
    assert sum(a["cost"] for a in ok["answers"]) == pytest.approx(ledger_lines(tmp_path)[0]["cost"]) == pytest.approx(0.011)
    assert failed["stage"] == "repair" and failed["answers"] == [] and "rejected the request" in failed["error"]
    assert [a["cache_hit"] for a in cached["answers"]] == [True, True] and cached["answers"][0]["cost"] == 0.0


def test_report_links_each_stage_to_its_transcript_lines_and_says_unknown(server, tmp_path):
    server.add("files", "elements", "a script", "the fix")
    model = scripted(server, tmp_path)  # unpriced
    for stage in ("localize.files", "localize.elements", "reproduce", "repair"):
        model.complete([{"role": "user", "content": stage}], stage=stage)
    run = RunFolder(tmp_path / "run")
    loc = SimpleNamespace(files=SimpleNamespace(paths=["a.py"]), elements=SimpleNamespace(elements=[]),
                          edits=SimpleNamespace(union=[]), reports=[])
    repro = SimpleNamespace(note="reproduced by 1 of 1", runs=[], chosen=None)
    candidate = SimpleNamespace(number=0, location_set=0, temperature=0.0, edit=SimpleNamespace(ok=False, reason="no edit"))
    state = SimpleNamespace(run=run, localization=loc, repro=repro, regression=None, candidates=[candidate],
                            validations=[], verdict=None)
    outcome = SimpleNamespace(patch=None, failure="no_candidates", failure_detail="", files_touched=(),
                              stage_seconds={}, seconds=1.0)
    report = render_report(outcome, SimpleNamespace(issue_title="t"), state)
    section = lambda title: report.split(f"## {title}")[1].split("\n## ")[0]  # noqa: E731
    assert ("- model transcript: [localize.files: line 1](transcript.jsonl#L1), "
            "[localize.elements: line 2](transcript.jsonl#L2)") in section("Localization")
    assert "[reproduce: line 3](transcript.jsonl#L3)" in section("Reproduction")
    assert "[repair: line 4](transcript.jsonl#L4)" in section("Candidates")
    assert "[transcript.jsonl](transcript.jsonl)" in section("Cost and time")
    assert "cost: unknown (4 calls had no price" in report and "$0.0000" not in report
