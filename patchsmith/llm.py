"""The model gateway: every call patchsmith makes to a language model goes through `Model`.

A stage never imports this module. It receives a `Model` (or a `DryRunModel`) as an argument and
uses three things of it: `complete(messages, *, stage, n, temperature) -> list[str]`,
`count_tokens(messages) -> int` and `context_window`.

What the gateway adds to litellm:
- n samples: one request with `n` where the provider takes it, parallel requests otherwise;
- retries with exponential backoff on rate limits, server errors, lost connections and time-outs;
  authentication and context-window errors are not retried and end in one sentence (`ModelError`);
- a ledger (`model_calls.jsonl`): one JSON line per request or cache hit, with stage, model,
  tokens, cost ("unknown" when litellm has no price for the model), latency and cache hit;
- a cost cap per issue (`CostCapReached`);
- an on-disk response cache keyed by model, messages, parameters and sample index, so a rerun
  costs nothing;
- a concurrency limit shared by everything that uses the same `Model` (see `for_issue`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

# litellm downloads its price map at import unless told to use the copy it ships.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402 - must follow the environment setting above

from patchsmith.model_settings import ModelSettings  # noqa: E402 - re-exported: the gateway's settings

litellm.suppress_debug_info = True  # its "Provider List" banner on errors is noise for our users

Message = dict[str, str]

# Used when litellm has no context window for the model (self-hosted, scripted, new models).
DEFAULT_CONTEXT_WINDOW = 32_768

RETRYABLE = (
    litellm.RateLimitError,
    litellm.InternalServerError,
    litellm.ServiceUnavailableError,
    litellm.BadGatewayError,
    litellm.APIConnectionError,
    litellm.Timeout,  # the time limit of one request
)


class ModelError(Exception):
    """A model call that cannot succeed as configured (credentials, context window, unknown model)."""

    user_error = True


class CostCapReached(ModelError):
    """The issue's cost cap is spent: the run stops here."""


@dataclass(frozen=True)
class CallRecord:
    """One line of the ledger."""

    stage: str
    model: str
    n: int  # answers this line accounts for
    prompt_tokens: int
    completion_tokens: int
    cost: float | str  # dollars, or "unknown" when litellm has no price for the model
    latency_s: float
    cache_hit: bool
    attempts: int = 1
    error: str = ""
    time: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))


class Ledger:
    """Every call, in memory and (when given a path) appended to a JSON Lines file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else None
        self.records: list[CallRecord] = []
        self._lock = threading.Lock()

    def add(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(asdict(record)) + "\n")

    @property
    def cost(self) -> float:
        return sum(r.cost for r in self.records if isinstance(r.cost, float))

    @property
    def unknown_cost_calls(self) -> int:
        return sum(1 for r in self.records if r.cost == "unknown")

    def tokens(self) -> tuple[int, int]:
        return (sum(r.prompt_tokens for r in self.records), sum(r.completion_tokens for r in self.records))


class ResponseCache:
    """Answers on disk, one JSON file per (model, messages, parameters, sample index)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder else None

    @staticmethod
    def key(model: str, messages: Sequence[Message], params: dict, sample: int) -> str:
        material = json.dumps(
            {"model": model, "messages": list(messages), "params": params, "sample": sample},
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(material.encode()).hexdigest()

    def _file(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        if not self.folder:
            return None
        try:
            return json.loads(self._file(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: dict) -> None:
        if not self.folder:
            return
        target = self._file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a file.
        partial = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        partial.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
        partial.replace(target)


def _one_sentence(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:240] + ("..." if len(text) > 240 else "")


def _retry_after(exc: BaseException) -> float:
    """Seconds the provider asked us to wait (a Retry-After header in seconds), else 0."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        return max(0.0, float(headers.get("retry-after", 0)))
    except (TypeError, ValueError):  # an HTTP date: fall back to our own backoff
        return 0.0


def default_cache_dir() -> Path:
    from patchsmith.paths import cache_root

    return cache_root() / "models"


class Model:
    """A language model reached through litellm, with the ledger, cache, cap and limits above."""

    def __init__(
        self,
        settings: ModelSettings,
        *,
        ledger_path: Path | None = None,
        cost_cap: float | None = None,
        cache_dir: Path | None = None,
        _limiter: threading.BoundedSemaphore | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.model
        try:
            self.provider = litellm.get_llm_provider(settings.model, api_base=settings.api_base)[1]
        except Exception as exc:  # litellm raises its BadRequestError for a string it cannot route
            raise ModelError(
                f"litellm does not know the model {settings.model!r}: name it provider/model, "
                "e.g. anthropic/claude-sonnet-4-5, openai/gpt-4o or hosted_vllm/NAME with an api_base"
            ) from exc
        self.cost_cap = cost_cap if cost_cap is not None else settings.max_cost
        self.ledger = Ledger(ledger_path)
        self.cache = ResponseCache((cache_dir or default_cache_dir()) if settings.cache else None)
        self._limiter = _limiter or threading.BoundedSemaphore(max(1, settings.concurrency))
        self._lock = threading.Lock()
        self.context_window = settings.context_window or self._litellm_context_window()
        self.supports_n = self._provider_takes_n()

    def for_issue(self, *, ledger_path: Path | None, cost_cap: float | None) -> "Model":
        """A fresh ledger and cost cap for the next issue; the cache and concurrency limit are shared."""
        return Model(
            self.settings,
            ledger_path=ledger_path,
            cost_cap=cost_cap,
            cache_dir=self.cache.folder,
            _limiter=self._limiter,
        )

    @property
    def spent(self) -> float:
        return self.ledger.cost

    def _litellm_context_window(self) -> int:
        try:
            info = litellm.get_model_info(self.name)
        except Exception:  # noqa: BLE001 - unmapped model: litellm raises several kinds
            return DEFAULT_CONTEXT_WINDOW
        return int(info.get("max_input_tokens") or info.get("max_tokens") or DEFAULT_CONTEXT_WINDOW)

    def _provider_takes_n(self) -> bool:
        try:
            params = litellm.get_supported_openai_params(model=self.name, custom_llm_provider=self.provider)
        except Exception:  # noqa: BLE001 - unknown provider details: ask one answer per request
            return False
        return "n" in (params or [])

    def count_tokens(self, messages: Sequence[Message] | str) -> int:
        if isinstance(messages, str):
            return int(litellm.token_counter(model=self.name, text=messages))
        return int(litellm.token_counter(model=self.name, messages=list(messages)))

    # -- the one public call -------------------------------------------------------------------

    def complete(
        self,
        messages: Sequence[Message],
        *,
        stage: str,
        n: int = 1,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> list[str]:
        """n answers to `messages`, from the cache where it has them."""
        max_tokens = max_tokens or self.settings.max_tokens
        prompt_tokens = self.count_tokens(messages)
        if prompt_tokens > self.context_window:
            raise ModelError(
                f"the prompt for {stage} has {prompt_tokens} tokens, more than {self.name}'s "
                f"context window of {self.context_window}"
            )
        params = {"temperature": temperature, "max_tokens": max_tokens}
        keys = [self.cache.key(self.name, messages, params, i) for i in range(n)]
        answers: list[str | None] = []
        for key in keys:
            hit = self.cache.get(key)
            answers.append(hit["text"] if hit else None)
        hits = [i for i, a in enumerate(answers) if a is not None]
        if hits:
            self.ledger.add(
                CallRecord(stage, self.name, len(hits), prompt_tokens, 0, 0.0, 0.0, cache_hit=True, attempts=0)
            )
        missing = [i for i, a in enumerate(answers) if a is None]
        if len(missing) > 1 and self.supports_n:
            batches = [missing]
        else:
            batches = [[i] for i in missing]

        def run(batch: list[int]) -> None:
            texts = self._request(messages, stage=stage, count=len(batch), params=params)
            for index, text in zip(batch, texts):
                answers[index] = text
                self.cache.put(keys[index], {"model": self.name, "text": text})

        if len(batches) == 1:
            run(batches[0])
        elif batches:
            with ThreadPoolExecutor(max_workers=min(len(batches), self.settings.concurrency)) as pool:
                for future in [pool.submit(run, b) for b in batches]:
                    future.result()
        return [a or "" for a in answers]

    # -- one request, with retries -----------------------------------------------------------

    def _check_cap(self) -> None:
        if self.cost_cap is not None and self.spent >= self.cost_cap:
            raise CostCapReached(
                f"the cost cap of ${self.cost_cap:.2f} for this issue is reached (${self.spent:.4f} spent); "
                "raise the cap to go on"
            )

    def _request(self, messages: Sequence[Message], *, stage: str, count: int, params: dict) -> list[str]:
        s = self.settings
        kwargs: dict = {
            "model": self.name,
            "messages": list(messages),
            "timeout": s.timeout,
            "max_retries": 0,  # the provider client's own retries: we do ours below, counted and logged
            **params,
        }
        if count > 1:
            kwargs["n"] = count
        if s.api_base:
            kwargs["api_base"] = s.api_base
        if s.api_key:
            kwargs["api_key"] = s.api_key
        attempt = 0
        while True:
            attempt += 1
            self._check_cap()
            started = time.monotonic()
            try:
                with self._limiter:
                    started = time.monotonic()
                    response = litellm.completion(**kwargs)
            except RETRYABLE as exc:
                self._record_failure(stage, count, started, attempt, exc)
                if attempt > s.retries:
                    raise ModelError(
                        f"{self.name} kept failing after {attempt} attempts ({type(exc).__name__}): "
                        f"{_one_sentence(exc)}"
                    ) from exc
                delay = s.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)
                time.sleep(min(s.max_backoff, max(delay, _retry_after(exc))))
                continue
            except litellm.ContextWindowExceededError as exc:
                self._record_failure(stage, count, started, attempt, exc)
                raise ModelError(f"the prompt for {stage} does not fit {self.name}'s context window") from exc
            except (litellm.AuthenticationError, litellm.PermissionDeniedError) as exc:
                self._record_failure(stage, count, started, attempt, exc)
                raise ModelError(
                    f"{self.name} refused the credentials: set the provider's API key "
                    "(e.g. ANTHROPIC_API_KEY or OPENAI_API_KEY)"
                ) from exc
            except litellm.APIError as exc:  # bad request, unknown model, ...: retrying will not help
                self._record_failure(stage, count, started, attempt, exc)
                raise ModelError(f"{self.name} rejected the request: {_one_sentence(exc)}") from exc
            latency = time.monotonic() - started
            texts = [(choice.message.content or "") for choice in response.choices][:count]
            texts += [""] * (count - len(texts))
            usage = getattr(response, "usage", None)
            prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
            completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
            self.ledger.add(
                CallRecord(
                    stage,
                    self.name,
                    count,
                    prompt_tokens,
                    completion_tokens,
                    self._cost(response),
                    round(latency, 3),
                    cache_hit=False,
                    attempts=attempt,
                )
            )
            return texts

    def _record_failure(self, stage: str, count: int, started: float, attempt: int, exc: BaseException) -> None:
        latency = round(time.monotonic() - started, 3)
        self.ledger.add(
            CallRecord(stage, self.name, count, 0, 0, 0.0, latency, False, attempt, f"{type(exc).__name__}: {_one_sentence(exc)}")
        )

    def _cost(self, response: object) -> float | str:
        custom = None
        if self.settings.price_per_token:
            price_in, price_out = self.settings.price_per_token
            custom = {"input_cost_per_token": price_in, "output_cost_per_token": price_out}
        try:
            return float(litellm.completion_cost(completion_response=response, custom_cost_per_token=custom))
        except Exception:  # noqa: BLE001 - litellm raises several kinds for a model it has no price for
            return "unknown"


class DryRunModel:
    """Counts the tokens each prompt would use and answers nothing, so a stage falls back to retrieval."""

    def __init__(self, model: str, *, context_window: int | None = None) -> None:
        settings = ModelSettings(model=model, context_window=context_window, cache=False)
        self._counter = Model(settings)
        self.name = model
        self.context_window = self._counter.context_window
        self.prompts: list[tuple[str, int]] = []  # (stage, prompt tokens), in call order

    def count_tokens(self, messages: Sequence[Message] | str) -> int:
        return self._counter.count_tokens(messages)

    def complete(self, messages: Sequence[Message], *, stage: str, n: int = 1, temperature: float = 0.0, max_tokens: int | None = None) -> list[str]:
        self.prompts.append((stage, self.count_tokens(messages)))
        return []
