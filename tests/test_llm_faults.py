"""A model server that fails on purpose, behind the real litellm path: every failure ends in one
sentence naming the model and the endpoint; only what may pass is retried, and the wait is shown."""

from __future__ import annotations

import threading
import time

import pytest

from patchsmith.llm import LOCAL_SERVER_KEY, ModelError
from tests.scripted_model import Reply
from tests.test_llm import ASK, ledger_lines, scripted


def fails_once_with_one_sentence(server, tmp_path, reply: Reply, **changes) -> str:
    server.add(reply, "never sent")
    model = scripted(server, tmp_path, **changes)
    with pytest.raises(ModelError) as caught:
        model.complete(ASK, stage="localize.files")
    message = str(caught.value)
    assert caught.value.user_error and "\n" not in message
    assert message.startswith(f"openai/scripted at {model.endpoint}")
    assert len(server.requests) == 1  # not retried
    return message


def test_not_found_is_one_sentence_and_not_retried(server, tmp_path):
    message = fails_once_with_one_sentence(server, tmp_path, Reply(status=404, error_message="model 'x' not found"))
    assert "answered 404 not found" in message and "/v1" in message


def test_a_wrong_path_names_the_endpoint(server, tmp_path):
    wrong = server.url.replace("/v1", "/api")
    model = scripted(server, tmp_path, api_base=wrong)
    with pytest.raises(ModelError, match=f"^openai/scripted at {wrong} answered 404"):
        model.complete(ASK, stage="s")
    assert ledger_lines(tmp_path)[0]["attempts"] == 1


def test_bad_request_is_one_sentence_and_not_retried(server, tmp_path):
    message = fails_once_with_one_sentence(server, tmp_path, Reply(status=400, error_message="temperature must be <= 2"))
    assert "rejected the request for localize.files: temperature must be <= 2" in message


@pytest.mark.parametrize("body", ["<html><body>Welcome to nginx</body></html>", '{"id": "x", "choices": [{"mess'])
def test_an_answer_that_is_not_a_completion_is_not_retried(server, tmp_path, body):
    message = fails_once_with_one_sentence(server, tmp_path, Reply(raw=body))
    assert "not a chat completion" in message


def test_a_connection_cut_mid_answer_is_retried(server, tmp_path):
    server.add(Reply(text="half", truncate=True), "whole")
    assert scripted(server, tmp_path).complete(ASK, stage="s") == ["whole"]
    assert len(server.requests) == 2


def test_each_wait_is_shown_through_progress(server, tmp_path):
    server.add(Reply(status=500), Reply(status=429, retry_after=0.3), "answer")
    said: list[tuple[str, str]] = []
    model = scripted(server, tmp_path)
    model.progress = lambda stage, message: said.append((stage, message))
    assert model.complete(ASK, stage="repair") == ["answer"]
    assert [stage for stage, _ in said] == ["repair", "repair"]
    assert said[0][1].startswith(f"InternalServerError from openai/scripted at {server.url}; retry 1 of 4 in ")
    assert said[1][1].startswith("RateLimitError") and said[1][1].endswith("in 0.3 s")


def test_a_hung_server_fails_within_the_model_timeout(server, tmp_path):
    server.add(Reply(text="late", delay=5.0), Reply(text="late", delay=5.0))
    model = scripted(server, tmp_path, timeout=0.5, retries=1)
    started = time.monotonic()
    with pytest.raises(ModelError, match="did not answer within the time limit .*--model-timeout"):
        model.complete(ASK, stage="s")
    assert time.monotonic() - started < 3.0
    assert len(server.requests) == 2


@pytest.mark.parametrize("broken", [Reply(text=[]), Reply(text=None)], ids=["empty choices", "null content"])
def test_an_empty_answer_is_returned_empty_and_never_cached(server, tmp_path, broken):
    server.add(broken, "a real answer")
    assert scripted(server, tmp_path).complete(ASK, stage="s") == [""]
    assert ledger_lines(tmp_path)[0]["error"] == "empty answer"
    # A rerun asks again instead of being served "" from the cache.
    assert scripted(server, tmp_path).complete(ASK, stage="s") == ["a real answer"]
    assert len(server.requests) == 2


def test_a_local_server_gets_a_placeholder_key(server, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server.add("answer")
    assert scripted(server, tmp_path, api_key=None).complete(ASK, stage="s") == ["answer"]
    assert server.headers[0]["authorization"] == f"Bearer {LOCAL_SERVER_KEY}"


def test_api_key_env_names_the_variable_to_read(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_VLLM_KEY", "secret-42")
    server.add("answer")
    scripted(server, tmp_path, api_key=None, api_key_env="MY_VLLM_KEY").complete(ASK, stage="s")
    assert server.headers[0]["authorization"] == "Bearer secret-42"
    monkeypatch.delenv("MY_VLLM_KEY")
    with pytest.raises(ModelError, match="the variable MY_VLLM_KEY .* is not set"):
        scripted(server, tmp_path, api_key=None, api_key_env="MY_VLLM_KEY")


def test_refused_credentials_name_the_variable(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_VLLM_KEY", "wrong")
    message = fails_once_with_one_sentence(server, tmp_path, Reply(status=401), api_key=None, api_key_env="MY_VLLM_KEY")
    assert "refused the credentials: set the variable MY_VLLM_KEY" in message


def test_models_for_each_issue_share_the_concurrency_limit(server, tmp_path):
    server.add(*[Reply(text="a", delay=0.3)] * 4)
    shared = scripted(server, tmp_path, concurrency=1)
    issues = [shared.for_issue(ledger_path=tmp_path / f"issue{i}.jsonl") for i in range(4)]
    workers = [threading.Thread(target=m.complete, args=(ASK,), kwargs={"stage": "s"}) for m in issues]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(server.requests) == 4 and server.max_in_flight == 1


def test_a_rate_limit_pauses_every_model_made_for_an_issue(server, tmp_path):
    server.add(Reply(status=429, retry_after=1.0), "a", "b")
    shared = scripted(server, tmp_path)
    other = shared.for_issue(ledger_path=tmp_path / "other.jsonl")
    first = threading.Thread(target=shared.complete, args=(ASK,), kwargs={"stage": "s"})
    first.start()
    while not server.arrivals:
        time.sleep(0.01)
    time.sleep(0.2)  # the 429 has arrived; the other issue's worker asks now
    other.complete([{"role": "user", "content": "another issue"}], stage="s")
    first.join()
    # It waited out the pause the rate limit asked of everyone, instead of adding to the overload.
    assert server.arrivals[1] - server.arrivals[0] >= 0.95
    assert server.arrivals[2] - server.arrivals[0] >= 0.95
