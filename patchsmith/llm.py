"""The model gateway: every call patchsmith makes to a language model goes through `Model`.

A stage never imports this module. It receives a `Model` (or a `DryRunModel`) as an argument and
uses three things of it: `complete(messages, *, stage, n, temperature) -> list[str]`,
`count_tokens(messages) -> int` and `context_window`.

What the gateway adds to litellm:
- n samples: one request with `n` where the provider takes it, parallel requests otherwise;
- retries with exponential backoff on rate limits, server errors, lost connections and time-outs,
  each wait announced through `progress`; every other failure ends at once in one sentence naming
  the model and its endpoint (`ModelError`, see model_errors);
- a ledger (`model_calls.jsonl`) and a cost cap per issue that projects each request's cost before
  sending it (`CostCapReached`, see model_costs);
- a transcript (`transcript.jsonl`) of every prompt and answer (see transcript);
- an on-disk response cache (see model_cache), so a rerun costs nothing;
- one concurrency limit and one rate-limit pause shared by every `Model` made with `for_issue`.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# litellm downloads its price map at import unless told to use the copy it ships.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402 - must follow the environment setting above

from patchsmith.model_cache import Message, ResponseCache  # noqa: E402
from patchsmith.model_costs import (  # noqa: E402
    CallRecord, Ledger, cap_refusal, estimate, response_cost, unpriced_cap,
)
from patchsmith.model_settings import ModelSettings  # noqa: E402 - re-exported: the gateway's settings
from patchsmith.model_errors import CostCapReached, ModelError, describe, is_retryable, retry_after  # noqa: E402
from patchsmith.transcript import FILE_NAME as TRANSCRIPT_FILE, Transcript  # noqa: E402

litellm.suppress_debug_info = True  # its "Provider List" banner on errors is noise for our users

__all__ = ["CostCapReached", "DryRunModel", "Model", "ModelError", "ModelSettings", "SharedLimits"]

Progress = Callable[[str, str], None]  # (stage, message), as the pipeline's progress

# Used when litellm has no context window for the model (self-hosted, scripted, new models).
DEFAULT_CONTEXT_WINDOW = 32_768

# Sent when an api_base is given and no key is found: self-hosted servers (vLLM, llama.cpp,
# Ollama) ignore it, and litellm's OpenAI client refuses to send a request without one.
LOCAL_SERVER_KEY = "no-key"


class SharedLimits:
    """What every worker on one model shares: a limit on requests in flight, and a pause that a
    rate limit (429) puts on all of them, as long as the provider asked for."""

    def __init__(self, concurrency: int) -> None:
        self.slots = threading.BoundedSemaphore(max(1, concurrency))
        self._lock = threading.Lock()
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def wait(self) -> None:
        while (left := self._paused_until - time.monotonic()) > 0:
            time.sleep(min(left, 1.0))


def default_cache_dir() -> Path:
    from patchsmith.paths import cache_root

    return cache_root() / "models"


def resolve_provider(model: str, api_base: str | None) -> str:
    """litellm's provider for a model string, or ModelError."""
    try:
        return litellm.get_llm_provider(model, api_base=api_base)[1]
    except Exception as exc:  # litellm raises its BadRequestError for a string it cannot route
        raise ModelError(
            f"litellm does not know the model {model!r}: name it provider/model, "
            "e.g. anthropic/claude-sonnet-4-5, openai/gpt-4o or hosted_vllm/NAME with an api_base"
        ) from exc


def resolve_api_key(settings: ModelSettings) -> str | None:
    """The key to send: given, or read from api_key_env, or a placeholder for a self-hosted server
    with no key set; None lets litellm read the provider's own variable."""
    if settings.api_key:
        return settings.api_key
    if settings.api_key_env:
        key = os.environ.get(settings.api_key_env)
        if not key:
            raise ModelError(f"the variable {settings.api_key_env} (named by --api-key-env) is not set")
        return key
    if settings.api_base and not litellm.validate_environment(model=settings.model).get("keys_in_environment"):
        return LOCAL_SERVER_KEY
    return None


class Model:
    """A language model reached through litellm, with the ledger, cache, cap and limits above."""

    def __init__(
        self,
        settings: ModelSettings,
        *,
        ledger_path: Path | None = None,
        cost_cap: float | None = None,  # None: settings.max_cost
        cache_dir: Path | None = None,
        transcript_path: Path | None = None,  # None: transcript.jsonl beside the ledger
        progress: Progress | None = None,
        limits: SharedLimits | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.model
        self.provider = resolve_provider(settings.model, settings.api_base)
        self.endpoint = settings.api_base or _default_endpoint(settings.model, self.provider)
        self.api_key = resolve_api_key(settings)
        self.cost_cap = cost_cap if cost_cap is not None else settings.max_cost
        if self.cost_cap is not None and not self.priced:
            raise ModelError(unpriced_cap(self.name, self.cost_cap))
        self.ledger = Ledger(ledger_path)
        if transcript_path is None and ledger_path is not None:
            transcript_path = Path(ledger_path).parent / TRANSCRIPT_FILE
        self.transcript = Transcript(transcript_path)
        self.cache = ResponseCache((cache_dir or default_cache_dir()) if settings.cache else None)
        self.limits = limits or SharedLimits(settings.concurrency)
        self.progress = progress
        self.context_window = settings.context_window or self._litellm_context_window()
        self.supports_n = self._provider_takes_n()

    def for_issue(self, *, ledger_path: Path | None, cost_cap: float | None = None,
                  transcript_path: Path | None = None) -> "Model":
        """A fresh ledger, transcript and cost cap for the next issue; the cache, the concurrency
        limit and the rate-limit pause stay shared with this model (and every other one made so)."""
        return Model(
            self.settings,
            ledger_path=ledger_path,
            cost_cap=cost_cap if cost_cap is not None else self.cost_cap,
            cache_dir=self.cache.folder,
            transcript_path=transcript_path,
            progress=self.progress,
            limits=self.limits,
        )

    @property
    def priced(self) -> bool:
        return estimate(self.name, self.provider, 1, 1, self.settings.price_per_token) is not None

    @property
    def spent(self) -> float:
        """Dollars spent on calls with a price (see cost_usd for whether that is all of it)."""
        return self.ledger.cost

    @property
    def cost_usd(self) -> float | None:
        """Dollars spent, or None when some call had no price: a total that is not $0.00."""
        return None if self.ledger.unknown_cost_calls else self.ledger.cost

    @property
    def cost_text(self) -> str:
        return self.ledger.total_text()

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

    def _say(self, stage: str, message: str) -> None:
        if self.progress is not None:
            self.progress(stage, message)

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
        """n answers to `messages`, from the cache where it has them ("" for an empty answer)."""
        max_tokens = max_tokens or self.settings.max_tokens
        prompt_tokens = self.count_tokens(messages)
        if prompt_tokens > self.context_window:
            raise ModelError(
                f"the prompt for {stage} has {prompt_tokens} tokens, more than {self.name}'s "
                f"context window of {self.context_window}"
            )
        params = {"temperature": temperature, "max_tokens": max_tokens}
        keys = [self.cache.key(self.name, messages, params, i, self.settings.seed) for i in range(n)]
        answers: list[str | None] = [self.cache.get(key) for key in keys]
        shown: list[dict] = []  # the transcript's answers
        hits = [i for i, a in enumerate(answers) if a is not None]
        if hits:
            self.ledger.add(
                CallRecord(stage, self.name, len(hits), prompt_tokens, 0, 0.0, 0.0, cache_hit=True, attempts=0)
            )
            shown += [{"sample": i, "text": answers[i], "cache_hit": True, "cost": 0.0} for i in hits]
        missing = [i for i, a in enumerate(answers) if a is None]
        batches = [missing] if len(missing) > 1 and self.supports_n else [[i] for i in missing]

        def run(batch: list[int]) -> None:
            texts, cost = self._request(messages, stage=stage, count=len(batch), params=params, prompt_tokens=prompt_tokens)
            share = cost / len(batch) if isinstance(cost, float) else cost
            for index, text in zip(batch, texts):
                answers[index] = text or ""
                self.cache.put(keys[index], self.name, text)
                shown.append({"sample": index, "text": text or "", "cache_hit": False, "cost": share})

        error = ""
        try:
            if len(batches) == 1:
                run(batches[0])
            elif batches:
                with ThreadPoolExecutor(max_workers=min(len(batches), self.settings.concurrency)) as pool:
                    for future in [pool.submit(run, b) for b in batches]:
                        future.result()
        except ModelError as exc:
            error = str(exc)
            raise
        finally:
            self.transcript.add(stage=stage, model=self.name, temperature=temperature, messages=messages,
                                answers=shown, error=error)
        return [a or "" for a in answers]

    # -- one request, with retries -----------------------------------------------------------

    def _request(self, messages: Sequence[Message], *, stage: str, count: int, params: dict,
                 prompt_tokens: int = 0) -> tuple[list[str | None], float | str]:
        """`count` answers (None for a choice with null content, or one the server left out) and
        what the request cost."""
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
        if self.api_key:
            kwargs["api_key"] = self.api_key
        # The most this request may cost: its prompt and every answer at its longest.
        projected = None
        if self.cost_cap is not None:
            most_out = int(params.get("max_tokens") or s.max_tokens) * count
            projected = estimate(self.name, self.provider, prompt_tokens, most_out, s.price_per_token)
        where = f"{self.name} at {self.endpoint}"
        attempt = 0
        while True:
            attempt += 1
            refusal = cap_refusal(self.cost_cap, self.spent, projected)
            if refusal:
                self.ledger.add(CallRecord(stage, self.name, count, prompt_tokens, 0, 0.0, 0.0, False, 0, "refused: " + refusal))
                raise CostCapReached(refusal)
            self.limits.wait()
            started = time.monotonic()
            try:
                with self.limits.slots:
                    started = time.monotonic()
                    response = litellm.completion(**kwargs)
            except Exception as exc:  # noqa: BLE001 - every litellm failure becomes a retry or one sentence
                self._record_failure(stage, count, started, attempt, exc)
                sentence = describe(exc, model=self.name, endpoint=self.endpoint, stage=stage, api_key_env=s.api_key_env)
                if not is_retryable(exc):
                    raise ModelError(sentence) from exc
                if attempt > s.retries:
                    raise ModelError(f"{where} kept failing after {attempt} attempts; the last: {sentence}") from exc
                delay = min(s.max_backoff, max(s.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0), retry_after(exc)))
                if isinstance(exc, litellm.RateLimitError):
                    self.limits.pause(delay)  # every worker on this model holds off, not only this one
                self._say(stage, f"{type(exc).__name__} from {where}; retry {attempt} of {s.retries} in {delay:.1f} s")
                time.sleep(delay)
                continue
            latency = time.monotonic() - started
            texts: list[str | None] = [choice.message.content for choice in (response.choices or [])][:count]
            texts += [None] * (count - len(texts))
            usage = getattr(response, "usage", None)
            cost = response_cost(response, s.price_per_token)
            self.ledger.add(
                CallRecord(
                    stage,
                    self.name,
                    count,
                    int(getattr(usage, "prompt_tokens", 0) or 0),
                    int(getattr(usage, "completion_tokens", 0) or 0),
                    cost,
                    round(latency, 3),
                    cache_hit=False,
                    attempts=attempt,
                    error="" if any(texts) else "empty answer",
                )
            )
            return texts, cost

    def _record_failure(self, stage: str, count: int, started: float, attempt: int, exc: BaseException) -> None:
        latency = round(time.monotonic() - started, 3)
        self.ledger.add(
            CallRecord(stage, self.name, count, 0, 0, 0.0, latency, False, attempt, f"{type(exc).__name__}: {' '.join(str(exc).split())[:240]}")
        )


def _default_endpoint(model: str, provider: str) -> str:
    try:
        base = litellm.get_api_base(model, {})
    except Exception:  # noqa: BLE001 - litellm knows no default for some providers
        base = None
    return base or f"{provider}'s default endpoint"


class DryRunModel:
    """Counts the tokens each prompt would use and answers nothing, so a stage falls back to retrieval."""

    def __init__(self, model: str, *, context_window: int | None = None) -> None:
        settings = ModelSettings(model=model, context_window=context_window, cache=False)
        self._counter = Model(settings)
        self.name = model
        self.context_window = self._counter.context_window
        self.prompts: list[tuple[str, int]] = []  # (stage, prompt tokens), in call order
        self.ledger = Ledger(None)  # nothing is spent: a run with this model costs $0
        self.spent = self.cost_usd = 0.0
        self.cost_text = "$0.0000 (no model called)"

    def count_tokens(self, messages: Sequence[Message] | str) -> int:
        return self._counter.count_tokens(messages)

    def complete(self, messages: Sequence[Message], *, stage: str, n: int = 1, temperature: float = 0.0, max_tokens: int | None = None) -> list[str]:
        self.prompts.append((stage, self.count_tokens(messages)))
        return []
