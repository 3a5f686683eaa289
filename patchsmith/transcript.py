"""The transcript (`transcript.jsonl` in the run folder): every prompt a model was shown and every
answer it gave, so a user can read what happened, not only what it cost.

One JSON line per `Model.complete` call, in the order the calls finished:
    {"call": 3, "stage": "localize.lines", "model": ..., "temperature": 0.8, "messages": [...],
     "answers": [{"sample": 0, "text": ..., "cache_hit": false, "cost": 0.0012}, ...],
     "error": ""}
`cost` is the request's cost shared among the answers it returned, "unknown" without a price,
0 for a cache hit. A call that failed has its error and the answers it got before failing.

`report.md` links each stage to its lines (`stage_links`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

FILE_NAME = "transcript.jsonl"


class Transcript:
    """Appends one line per call; with path None it keeps nothing."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._calls = 0

    def add(self, *, stage: str, model: str, temperature: float, messages: Sequence[dict],
            answers: Sequence[dict], error: str = "") -> None:
        if self.path is None:
            return
        with self._lock:
            self._calls += 1
            line = {
                "call": self._calls,
                "stage": stage,
                "model": model,
                "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "temperature": temperature,
                "messages": list(messages),
                "answers": sorted(answers, key=lambda a: a["sample"]),
                "error": error,
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")


def stage_lines(path: Path) -> dict[str, list[int]]:
    """Each stage's line numbers in the transcript (1-based), in file order."""
    found: dict[str, list[int]] = {}
    if not path.exists():
        return found
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            stage = json.loads(text).get("stage")
        except (json.JSONDecodeError, AttributeError):
            continue
        if isinstance(stage, str):
            found.setdefault(stage, []).append(number)
    return found


def _ranges(numbers: list[int]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for n in numbers:
        if spans and spans[-1][1] == n - 1:
            spans[-1] = (spans[-1][0], n)
        else:
            spans.append((n, n))
    return spans


def stage_links(run_dir: Path, prefix: str) -> str:
    """Markdown links from report.md to the transcript lines of the stages named `prefix` or
    `prefix.*`, e.g. "[localize.files: line 1](transcript.jsonl#L1)"; "" when there are none."""
    links = []
    for stage, numbers in stage_lines(Path(run_dir) / FILE_NAME).items():
        if stage != prefix and not stage.startswith(prefix + "."):
            continue
        for first, last in _ranges(numbers):
            where = f"line {first}" if first == last else f"lines {first}-{last}"
            anchor = f"L{first}" if first == last else f"L{first}-L{last}"
            links.append(f"[{stage}: {where}]({FILE_NAME}#{anchor})")
    return ", ".join(links)
