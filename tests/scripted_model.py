"""A local OpenAI-compatible HTTP server that answers from a script, for tests.

Tests point litellm at it (model "openai/scripted", api_base=server.url) so the real litellm
code path runs: request building, HTTP, response parsing, error mapping, usage accounting.

Each request to /v1/chat/completions (or /chat/completions) takes the next entry of the script:
- a string: every one of the request's n choices answers it;
- a list of strings: one choice each, in order (the list must hold n of them);
- a Reply: an HTTP error status, a delay before answering, or both; or a broken answer: null
  content (text=None), no choices at all (text=[]), a raw body that is not the JSON asked for
  (raw="<html>..."), or a body cut short of its Content-Length (truncate=True);
- a callable taking the request body (a dict) and returning any of the above.
When the script runs out the server answers 400 "script exhausted", an error litellm does not
retry, so a test that asks more than it scripted fails loudly. Every request body is recorded in
`requests`, in arrival order, with its headers in `headers` and its arrival (time.monotonic()) in
`arrivals`.

    with ScriptedModel(["first answer", Reply(status=429), "second answer"]) as server:
        litellm.completion(model="openai/scripted", api_base=server.url, api_key="x", messages=...)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Union

MODEL_ROUTES = ("/v1/chat/completions", "/chat/completions")


@dataclass(frozen=True)
class Reply:
    """One scripted answer: text (or one text per choice), an error status, a delay in seconds."""

    text: str | list[str] | None = ""  # None: null content; []: an empty `choices` list
    status: int = 200
    delay: float = 0.0
    error_message: str = "scripted error"
    retry_after: float | None = None  # seconds, sent as a Retry-After header with an error
    raw: str | None = None  # sent as the body instead of a completion (garbage, half a JSON object)
    truncate: bool = False  # announce the whole body, send half of it, close the connection
    finish_reason: str = "stop"  # "length": an answer cut at max_tokens


Entry = Union[str, list, Reply, Callable[[dict], "Entry"]]


def _word_count(request: dict) -> int:
    # A stand-in for tokens, so usage numbers move with prompt size.
    return sum(len(str(message.get("content", "")).split()) for message in request.get("messages", []))


class ScriptedModel:
    def __init__(self, script: Iterable[Entry] = ()) -> None:
        self._script: list[Entry] = list(script)
        self._lock = threading.Lock()
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.arrivals: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests the server was answering at once
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="scripted-model", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def add(self, *entries: Entry) -> None:
        with self._lock:
            self._script.extend(entries)

    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    def start(self) -> "ScriptedModel":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "ScriptedModel":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_reply(self, request: dict, headers: dict[str, str] | None = None) -> Reply:
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers or {})
            self.arrivals.append(time.monotonic())
            entry: Entry | None = self._script.pop(0) if self._script else None
        while callable(entry):
            entry = entry(request)
        if entry is None:
            return Reply(status=400, error_message="script exhausted")
        if isinstance(entry, Reply):
            return entry
        return Reply(text=entry)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.rstrip("/") not in MODEL_ROUTES:
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}}, None, False)
                    return
                request = json.loads(body or b"{}")
                reply = owner._next_reply(request, {k.lower(): v for k, v in self.headers.items()})
                with owner._lock:
                    owner.in_flight += 1
                    owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
                try:
                    if reply.delay:
                        time.sleep(reply.delay)
                finally:
                    with owner._lock:
                        owner.in_flight -= 1
                if reply.raw is not None:
                    self._send(reply.status, reply.raw.encode(), reply.retry_after, reply.truncate)
                elif reply.status != 200:
                    error = {"message": reply.error_message, "type": "scripted", "code": str(reply.status)}
                    self._send(reply.status, {"error": error}, reply.retry_after, reply.truncate)
                else:
                    self._send(200, _completion(request, reply.text, reply.finish_reason), None, reply.truncate)

            def _send(self, status: int, payload: dict | bytes, retry_after: float | None, truncate: bool) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if retry_after is not None:
                        self.send_header("Retry-After", f"{retry_after:g}")
                    if truncate:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2] if truncate else data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a time limit)
                    pass

        return Handler


def _completion(request: dict, text: str | list[str] | None, finish_reason: str = "stop") -> dict:
    n = int(request.get("n") or 1)
    texts = list(text) if isinstance(text, list) else [text] * n
    choices = [
        {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": finish_reason}
        for i, t in enumerate(texts)
    ]
    prompt_tokens = _word_count(request)
    completion_tokens = sum(len((t or "").split()) for t in texts)
    return {
        "id": f"scripted-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "scripted"),
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
