"""`swebench infer --workers N` shares one model: one concurrency limit, one rate-limit pause, one
cache, with a ledger per instance. The environments and the pipeline are stood in for, so only
the model's sharing is under test (the real path is in test_swebench_infer.py)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from patchsmith.instance_solver import instance_solver
from patchsmith.llm import Model, ModelError, ModelSettings
from patchsmith.settings import Settings
from patchsmith.swebench_runner import inference
from tests.scripted_model import Reply, ScriptedModel
from tests.test_swebench_eval import TOY_SPEC, toy_instance

WORKERS = 3


@pytest.fixture
def no_environments(monkeypatch, tmp_path):
    ready = SimpleNamespace(build=SimpleNamespace(image="toy-image", built=True, error=""), commit="c0ffee")
    monkeypatch.setattr(inference, "environment_for", lambda *args: ready)
    monkeypatch.setattr(inference, "find_mirror", lambda repo, cache: tmp_path / "mirror")


def fake_solve(seen: list):
    """Asks the model once per instance, as the pipeline would, through the model it is given
    (or, like the pipeline, one it makes itself when given none)."""

    def solve(request, progress=None, model=None):  # noqa: ANN001, ANN202 - pipeline.solve's shape
        if model is None:
            model = Model(request.settings.model, ledger_path=request.out_dir / "model_calls.jsonl")
        seen.append(model)
        model.complete([{"role": "user", "content": request.issue_body}], stage="repair")
        return SimpleNamespace(patch="", cost_usd=model.spent, failure="no_candidates")

    return solve


def test_workers_share_one_concurrency_limit(no_environments, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "scripted")
    monkeypatch.setattr("patchsmith.llm.default_cache_dir", lambda: tmp_path / "model-cache")
    seen: list = []
    monkeypatch.setattr("patchsmith.pipeline.solve", fake_solve(seen))
    instances = [SimpleNamespace(**{**toy_instance("c0ffee", n).__dict__, "problem_statement": f"issue {n}"})
                 for n in range(WORKERS)]
    with ScriptedModel([Reply(text="no idea", delay=0.4)] * WORKERS) as server:
        settings = inference.InferSettings(
            run_dir=tmp_path / "infer", repo_cache=tmp_path, cache_dir=tmp_path, workers=WORKERS, extra_specs=(TOY_SPEC,))
        solver = instance_solver(Settings(model=ModelSettings(model="openai/scripted", api_base=server.url, concurrency=1)))
        summary = inference.infer(instances, settings, solver, progress=lambda _: None)
        assert len(server.requests) == WORKERS
        assert server.max_in_flight == 1  # not one limit per worker
    assert summary["predicted"] == WORKERS
    assert len({id(model.limits) for model in seen}) == 1
    for n in range(WORKERS):  # each instance still has its own ledger and transcript
        run = tmp_path / "infer" / "runs" / f"toy__toy-{n}"
        [line] = [json.loads(x) for x in (run / "model_calls.jsonl").read_text().splitlines()]
        assert line["stage"] == "repair"
        assert json.loads((run / "transcript.jsonl").read_text())["messages"][0]["content"] == f"issue {n}"


def test_a_cap_on_an_unpriced_model_stops_infer_before_any_instance(no_environments, tmp_path):
    unpriced = ModelSettings(model="hosted_vllm/q", api_base="http://127.0.0.1:9/v1", max_cost=2.0)
    with pytest.raises(ModelError, match="no price for hosted_vllm/q"):
        instance_solver(Settings(model=unpriced))  # the command makes the solver before infer starts
