"""`swebench infer` end to end on the toy instance: the scripted model (real litellm path) fixes
it in the instance's environment, the prediction is written in the official format, and our
evaluation resolves it. A second run skips what is already predicted."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.scripted_model import ScriptedModel
from tests.shopcart_model import fresh_model_cache  # noqa: F401 - an autouse fixture
from tests.test_swebench_eval import TOY_SPEC, toy_cache, toy_instance  # noqa: F401 - toy_cache is a fixture

pytestmark = pytest.mark.docker

ISSUE = "toy.halve(4) returns 1.333 instead of 2: halve divides by three."
FIX = "@@@ FILE toy/__init__.py\n@@@ SEARCH\n    return x / 3\n@@@ REPLACE\n    return x / 2\n@@@ END\n"
REPRO = ('```python\nimport toy\nprint("PATCHSMITH_VERDICT: " + ("resolved" if toy.halve(4) == 2 else "reproduced"))\n```')


def toy_answer(request: dict) -> list[str]:
    prompt = request["messages"][-1]["content"]
    n = int(request.get("n") or 1)
    if "Which files would a developer edit" in prompt:
        text = "```\ntoy/__init__.py\n```"
    elif "Name the classes, functions" in prompt:
        text = "```\ntoy/__init__.py::halve\n```"
    elif "Where exactly must the code change" in prompt:
        text = "```\ntoy/__init__.py:5-6 halve\n```"
    elif "standalone Python script" in prompt:
        text = REPRO
    elif "Existing tests that pass before the fix" in prompt:
        text = "NONE"
    elif "Answer with one or more edit blocks" in prompt:
        text = FIX
    else:
        raise AssertionError(prompt[:200])
    return [text] * n


def test_infer_writes_predictions_that_evaluation_resolves(toy_cache, tmp_path, monkeypatch):  # noqa: F811
    from patchsmith.instance_solver import instance_solver
    from patchsmith.paths import cache_root
    from patchsmith.swebench_runner.evaluation import EvalSettings, evaluate
    from patchsmith.swebench_runner.inference import InferSettings, infer
    from patchsmith.settings import Settings, with_values
    from patchsmith.swebench_runner.predictions import load_predictions

    monkeypatch.setenv("OPENAI_API_KEY", "scripted")
    cache, commit = toy_cache
    instance = replace(toy_instance(commit, 7), problem_statement=ISSUE)
    run_dir = tmp_path / "infer"
    with ScriptedModel([toy_answer] * 100) as server:
        solve_with = with_values(Settings(), {"model.model": "openai/scripted", "model.api_base": server.url, "repair.samples": 2})
        settings = InferSettings(run_dir=run_dir, repo_cache=cache, cache_dir=cache_root(), model_name="openai/scripted",
                                 extra_specs=(TOY_SPEC,))
        summary = infer([instance], settings, instance_solver(solve_with), progress=lambda _: None)
        assert summary["with_patch"] == ["toy__toy-7"]
        asked = len(server.requests)
        again = infer([instance], settings, instance_solver(solve_with), progress=lambda _: None)  # resumable: nothing left to do
        assert len(server.requests) == asked and again["predicted"] == 1

    (row,) = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert row["instance_id"] == "toy__toy-7" and row["model_name_or_path"] == "openai/scripted"
    assert "+    return x / 2" in row["model_patch"]
    assert (run_dir / "runs" / "toy__toy-7" / "report.md").is_file()

    eval_settings = EvalSettings(run_dir=tmp_path / "eval", repo_cache=cache, cache_dir=cache_root(), timeout=120,
                                 extra_specs=(TOY_SPEC,))
    graded = evaluate([instance], load_predictions(str(run_dir / "predictions.jsonl"), [instance]), eval_settings,
                      progress=lambda _: None)
    assert graded["resolved_ids"] == ["toy__toy-7"]
