"""The model gateway through the real litellm code path: a local scripted server, or mock_response."""

from __future__ import annotations

import json
import time

import pytest

from patchsmith.llm import CostCapReached, DryRunModel, Model, ModelError, ModelSettings
from tests.scripted_model import Reply, ScriptedModel

ASK = [{"role": "user", "content": "Which file holds the bug?"}]


def scripted(server: ScriptedModel, tmp_path, **changes) -> Model:
    options = dict(model="openai/scripted", api_base=server.url, api_key="test-key", backoff=0.01, timeout=10.0)
    options.update(changes)
    cost_cap = options.pop("cost_cap", None)
    return Model(
        ModelSettings(**options),
        ledger_path=tmp_path / "run" / "model_calls.jsonl",
        cost_cap=cost_cap,
        cache_dir=tmp_path / "cache",
    )


def ledger_lines(tmp_path) -> list[dict]:
    path = tmp_path / "run" / "model_calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_answer_and_ledger_line(server, tmp_path):
    server.add("src/pkg/core.py")
    model = scripted(server, tmp_path)
    assert model.complete(ASK, stage="localize.files") == ["src/pkg/core.py"]
    assert server.requests[0]["messages"] == ASK
    [line] = ledger_lines(tmp_path)
    assert line["stage"] == "localize.files"
    assert line["model"] == "openai/scripted"
    assert line["prompt_tokens"] == 5 and line["completion_tokens"] == 1  # the server's usage numbers
    assert line["cache_hit"] is False
    # litellm has no price for "scripted": recorded as unknown, never a crash.
    assert line["cost"] == "unknown"
    assert line["latency_s"] >= 0


def test_a_self_hosted_vllm_model_string(server, tmp_path):
    server.add("from vllm")
    model = scripted(server, tmp_path, model="hosted_vllm/Qwen/Qwen2.5-Coder-7B-Instruct")
    assert model.complete(ASK, stage="s") == ["from vllm"]
    assert server.requests[0]["model"] == "Qwen/Qwen2.5-Coder-7B-Instruct"
    assert model.context_window == 32_768  # litellm does not know it: the default


def test_n_samples_in_one_request_when_the_provider_takes_n(server, tmp_path):
    server.add(["a", "b", "c"])
    model = scripted(server, tmp_path)
    assert model.supports_n
    assert model.complete(ASK, stage="s", n=3, temperature=0.8) == ["a", "b", "c"]
    assert len(server.requests) == 1
    assert server.requests[0]["n"] == 3 and server.requests[0]["temperature"] == 0.8


def test_n_samples_as_parallel_requests_otherwise(server, tmp_path):
    server.add("a", "a")
    model = scripted(server, tmp_path)
    model.supports_n = False  # as for a provider without `n` (anthropic, ollama)
    assert model.complete(ASK, stage="s", n=2, temperature=0.8) == ["a", "a"]
    assert len(server.requests) == 2
    assert all("n" not in r or r["n"] == 1 for r in server.requests)


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_limit(server, tmp_path, concurrency):
    server.add(*[Reply(text="a", delay=0.3)] * 3)
    model = scripted(server, tmp_path, concurrency=concurrency)
    model.supports_n = False
    model.complete(ASK, stage="s", n=3, temperature=0.5)
    assert server.max_in_flight == concurrency


def test_retry_after_429_and_500(server, tmp_path):
    server.add(Reply(status=429), Reply(status=500), "answer")
    model = scripted(server, tmp_path)
    assert model.complete(ASK, stage="s") == ["answer"]
    assert len(server.requests) == 3
    lines = ledger_lines(tmp_path)
    assert [bool(line["error"]) for line in lines] == [True, True, False]
    assert "RateLimitError" in lines[0]["error"]
    assert lines[-1]["attempts"] == 3


def test_retry_waits_as_long_as_retry_after_asks(server, tmp_path):
    server.add(Reply(status=429, retry_after=0.6), "answer")
    model = scripted(server, tmp_path)  # our own backoff is 0.01 s
    started = time.monotonic()
    assert model.complete(ASK, stage="s") == ["answer"]
    assert time.monotonic() - started >= 0.6


def test_retries_run_out_with_one_sentence(server, tmp_path):
    server.add(*[Reply(status=503)] * 3)
    model = scripted(server, tmp_path, retries=2)
    with pytest.raises(ModelError, match="kept failing after 3 attempts") as caught:
        model.complete(ASK, stage="s")
    assert caught.value.user_error and "\n" not in str(caught.value)
    assert len(server.requests) == 3


def test_authentication_error_is_not_retried(server, tmp_path):
    server.add(Reply(status=401, error_message="bad key"), "never sent")
    model = scripted(server, tmp_path)
    with pytest.raises(ModelError, match="refused the credentials"):
        model.complete(ASK, stage="s")
    assert len(server.requests) == 1


def test_context_window_error_is_not_retried(server, tmp_path):
    message = "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."
    server.add(Reply(status=400, error_message=message), "never sent")
    model = scripted(server, tmp_path)
    with pytest.raises(ModelError, match="context window"):
        model.complete(ASK, stage="s")
    assert len(server.requests) == 1


def test_prompt_larger_than_the_context_window_is_never_sent(server, tmp_path):
    model = scripted(server, tmp_path, context_window=50)
    with pytest.raises(ModelError, match="context window of 50"):
        model.complete([{"role": "user", "content": "word " * 200}], stage="s")
    assert server.requests == []


def test_time_limit_per_call(server, tmp_path):
    server.add(Reply(text="late", delay=3.0))
    model = scripted(server, tmp_path, timeout=0.5, retries=0)
    started = time.monotonic()
    with pytest.raises(ModelError, match="kept failing"):
        model.complete(ASK, stage="s")
    assert time.monotonic() - started < 2.5


def test_second_run_is_served_from_the_cache_at_no_cost(server, tmp_path):
    server.add(["one", "two"])
    first = scripted(server, tmp_path, price_per_token=(1e-3, 2e-3))
    assert first.complete(ASK, stage="s", n=2, temperature=0.7) == ["one", "two"]
    assert first.spent > 0
    again = scripted(server, tmp_path, price_per_token=(1e-3, 2e-3))  # a rerun: new process, same cache
    assert again.complete(ASK, stage="s", n=2, temperature=0.7) == ["one", "two"]
    assert len(server.requests) == 1
    assert again.spent == 0
    hit = ledger_lines(tmp_path)[-1]
    assert hit["cache_hit"] is True and hit["cost"] == 0.0 and hit["n"] == 2
    # A different temperature is a different question.
    server.add("three")
    assert again.complete(ASK, stage="s", temperature=0.0) == ["three"]


def test_more_samples_reuse_the_cached_ones(server, tmp_path):
    server.add(["one", "two"], ["three"])
    model = scripted(server, tmp_path)
    model.complete(ASK, stage="s", n=2, temperature=0.7)
    assert model.complete(ASK, stage="s", n=3, temperature=0.7) == ["one", "two", "three"]
    assert server.requests[1].get("n", 1) == 1


def test_cost_cap_stops_the_run(server, tmp_path):
    server.add("x " * 100, "y " * 100, "never sent")
    # 5 prompt words + 100 completion words at $0.001 each: $0.105 a call; each could cost ~$0.11.
    model = scripted(server, tmp_path, price_per_token=(1e-3, 1e-3), cost_cap=0.3, max_tokens=100)
    model.complete(ASK, stage="s")
    model.complete([{"role": "user", "content": "again"}], stage="s")  # $0.105 + $0.11 fits under $0.30
    assert model.spent == pytest.approx(0.206)
    # $0.206 spent + $0.11 more could overrun $0.30: refused before it is sent, not after.
    with pytest.raises(CostCapReached, match=r"cost cap of \$0.30") as caught:
        model.complete([{"role": "user", "content": "third"}], stage="s")
    assert caught.value.user_error
    assert len(server.requests) == 2


def test_for_issue_starts_a_fresh_ledger_and_cap(server, tmp_path):
    server.add("x " * 100, "z")
    model = scripted(server, tmp_path, price_per_token=(1e-3, 1e-3), cost_cap=0.06, max_tokens=40)
    model.complete(ASK, stage="s")  # could cost ~$0.05; the server answers 100 words: $0.105
    with pytest.raises(CostCapReached, match="is reached"):
        model.complete([{"role": "user", "content": "more"}], stage="s")
    next_issue = model.for_issue(ledger_path=tmp_path / "next.jsonl", cost_cap=0.06)
    assert next_issue.complete([{"role": "user", "content": "more"}], stage="s") == ["z"]
    assert len((tmp_path / "next.jsonl").read_text().splitlines()) == 1


def test_known_price_through_mock_response(tmp_path):
    model = Model(ModelSettings(model="openai/gpt-4o-mini"), ledger_path=tmp_path / "l.jsonl", cache_dir=tmp_path / "c")
    assert model.context_window == 128_000  # from litellm's model information
    answers, cost = model._request(ASK, stage="s", count=1, params={"temperature": 0.0, "mock_response": "hello"})
    assert answers == ["hello"] and cost > 0
    [line] = [json.loads(x) for x in (tmp_path / "l.jsonl").read_text().splitlines()]
    assert isinstance(line["cost"], float) and line["cost"] > 0


def test_unknown_model_string_is_one_sentence():
    with pytest.raises(ModelError, match="litellm does not know the model"):
        Model(ModelSettings(model="no-such-provider-model"), cache_dir=None)


def test_dry_run_counts_and_answers_nothing():
    dry = DryRunModel("anthropic/claude-sonnet-4-5")
    assert dry.context_window == 200_000 or dry.context_window > 100_000
    assert dry.complete([{"role": "user", "content": "hello world " * 50}], stage="localize.files") == []
    [(stage, tokens)] = dry.prompts
    assert stage == "localize.files" and 90 <= tokens <= 130


def test_model_settings_name_their_flags():
    # The settings machinery turns this metadata into the same flags on every command.
    from dataclasses import fields

    flags = {f.name: f.metadata.get("flag") for f in fields(ModelSettings)}
    assert flags["api_key_env"] == "--api-key-env" and flags["timeout"] == "--model-timeout"
    assert flags["seed"] == "--seed" and flags["price_per_token"] == "--price" and flags["max_cost"] == "--max-cost"
    defaults = ModelSettings(model="m")
    assert (defaults.timeout, defaults.seed, defaults.cache, defaults.api_key_env) == (300.0, 0, True, None)


def test_a_cost_cap_defaults_to_the_settings_max_cost(server, tmp_path):
    model = scripted(server, tmp_path, price_per_token=(1e-3, 1e-3), max_cost=0.5)
    assert model.cost_cap == 0.5
    assert model.for_issue(ledger_path=None).cost_cap == 0.5
