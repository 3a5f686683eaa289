"""What model calls cost: the ledger (`model_calls.jsonl`), prices, the projection a cost cap
checks before each request, and how a total is written ("unknown", never "$0.00", when a call had
no price).

litellm is imported inside the functions that price things, so that a report can read a ledger
without paying for litellm's import.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

UNKNOWN = "unknown"

Price = tuple[float, float]  # dollars per input token, per output token


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
    error: str = ""  # why the request failed, or why it was never sent (a cost cap's refusal)
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
        """Dollars spent on the calls that had a price."""
        return sum(r.cost for r in self.records if isinstance(r.cost, (int, float)))

    @property
    def unknown_cost_calls(self) -> int:
        return sum(1 for r in self.records if r.cost == UNKNOWN)

    def tokens(self) -> tuple[int, int]:
        return (sum(r.prompt_tokens for r in self.records), sum(r.completion_tokens for r in self.records))

    def total_text(self) -> str:
        return format_total(r.cost for r in self.records)


def format_total(costs: Iterable[float | str]) -> str:
    """'$0.0123', or 'unknown' when a call had no price (with what the priced ones cost, if any)."""
    known, unknown = 0.0, 0
    for cost in costs:
        if isinstance(cost, (int, float)):
            known += cost
        elif cost == UNKNOWN:
            unknown += 1
    if not unknown:
        return f"${known:.4f}"
    priced = f"; the priced ones ${known:.4f}" if known else ""
    return f"{UNKNOWN} ({unknown} call{'s' if unknown != 1 else ''} had no price{priced}; give --price IN,OUT)"


def read_ledger(path: Path) -> list[dict]:
    """The ledger's lines as dicts; a torn or foreign line is skipped."""
    rows = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def _custom(price: Price | None) -> dict | None:
    return {"input_cost_per_token": price[0], "output_cost_per_token": price[1]} if price else None


def estimate(model: str, provider: str, prompt_tokens: int, completion_tokens: int, price: Price | None) -> float | None:
    """Dollars for that many tokens, or None when neither litellm nor the user gives a price."""
    if price:
        return prompt_tokens * price[0] + completion_tokens * price[1]
    from patchsmith.llm import litellm  # set up for offline use there

    try:
        cost_in, cost_out = litellm.cost_per_token(
            model=model, custom_llm_provider=provider, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # noqa: BLE001 - litellm raises several kinds for a model it has no price for
        return None
    return float(cost_in) + float(cost_out)


def response_cost(response: object, price: Price | None) -> float | str:
    """What one litellm response cost, or "unknown"."""
    from patchsmith.llm import litellm  # set up for offline use there

    try:
        return float(litellm.completion_cost(completion_response=response, custom_cost_per_token=_custom(price)))
    except Exception:  # noqa: BLE001 - litellm raises several kinds for a model it has no price for
        return UNKNOWN


def unpriced_cap(model: str, cap: float) -> str:
    """Why a cap cannot be kept for a model without a price."""
    return (f"litellm has no price for {model}, so a cost cap of ${cap:.2f} cannot be kept: "
            "give its price with --price IN,OUT (dollars per million tokens) or drop the cap")


def cap_refusal(cap: float | None, spent: float, projected: float | None) -> str | None:
    """Why the next request may not be sent under the cap, or None when it may."""
    if cap is None:
        return None
    if spent >= cap:
        return f"the cost cap of ${cap:.2f} for this issue is reached (${spent:.4f} spent); raise the cap to go on"
    if projected is not None and spent + projected > cap:
        return (f"the next request could cost up to ${projected:.4f} (its prompt plus the most it may answer), "
                f"more than is left of the cost cap of ${cap:.2f} (${spent:.4f} spent); raise the cap to go on")
    return None
