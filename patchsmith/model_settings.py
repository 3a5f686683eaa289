"""The model part of the settings tree: which model, where it is served, and what a run may spend.

Kept apart from patchsmith.llm so that reading settings never imports litellm (seconds at start).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def parse_price(value: str) -> tuple[float, float]:
    """'3,15' (dollars per million input and output tokens) as dollars per token."""
    try:
        price_in, price_out = (float(part) / 1_000_000 for part in value.split(","))
    except ValueError:
        raise ValueError(f"takes two numbers, IN,OUT in dollars per million tokens, not {value!r}") from None
    if price_in < 0 or price_out < 0:
        raise ValueError(f"takes prices of zero or more, not {value!r}")
    return price_in, price_out


@dataclass(frozen=True)
class ModelSettings:
    # Any litellm model string: "anthropic/claude-sonnet-4-5", "hosted_vllm/qwen", ...; "" until configured.
    model: str = field(default="", metadata={"flag": "--model", "env": "PATCHSMITH_MODEL",
                                             "help": "a litellm model string, e.g. anthropic/claude-sonnet-4-5"})
    # A self-hosted, OpenAI-compatible server (hosted_vllm, ollama, ...).
    api_base: str | None = field(default=None, metadata={"flag": "--api-base", "env": "PATCHSMITH_API_BASE",
                                                         "help": "the server of a self-hosted, OpenAI-compatible model"})
    # None: litellm reads the provider's environment variable. Never written to a run folder.
    api_key: str | None = field(default=None, metadata={"secret": True})
    # Dollars one run (one issue) may spend; the run stops when they are spent.
    max_cost: float | None = field(default=None, metadata={"flag": "--max-cost", "positive": True,
                                                           "help": "stop once this many dollars are spent on one issue"})
    # (dollars per input token, per output token) for models litellm has no price for.
    price_per_token: tuple[float, float] | None = field(default=None, metadata={
        "flag": "--price", "parse": parse_price, "metavar": "IN,OUT",
        "help": "dollars per million input and output tokens, for a model litellm has no price for"})
    context_window: int | None = field(default=None, metadata={  # None: litellm's model information
        "flag": "--context-window", "positive": True, "help": "the model's context window, when litellm does not know it"})
    # The variable that holds the key, for a server whose key is not in the provider's variable.
    api_key_env: str | None = field(default=None, metadata={"flag": "--api-key-env",
                                                            "help": "the environment variable holding the model's API key"})
    # Seconds each request may take; a hung server fails after (retries + 1) of these.
    timeout: float = field(default=300.0, metadata={"flag": "--model-timeout", "positive": True,
                                                    "help": "seconds one model request may take"})
    retries: int = 4  # further attempts after a retryable failure
    backoff: float = 2.0  # seconds before the first retry, doubled each time (with jitter)
    max_backoff: float = 60.0
    concurrency: int = 4  # requests in flight at once
    max_tokens: int = 4096  # completion tokens per answer
    # False: neither read nor write the response cache (a replay from it costs nothing).
    cache: bool = field(default=True, metadata={"flag": "--no-cache",
                                                "help": "neither read nor write the model response cache"})
    # Part of the cache key of sampled answers (temperature above 0): another seed draws new samples.
    seed: int = field(default=0, metadata={"flag": "--seed",
                                           "help": "another seed draws new sampled answers instead of the cached ones"})
