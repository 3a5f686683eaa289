"""What the reproduce stage hands on: frozen dataclasses that round-trip through JSON.

`repair` consumes `ReproTest` (run the chosen script after each candidate) and `RegressionSet`
(run the selected tests after each candidate); the pipeline writes both into `reproduce.json`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

# The three verdicts a reproduction script may state; anything else counts as ERROR.
REPRODUCED = "reproduced"
RESOLVED = "resolved"
ERROR = "error"
VERDICTS = (REPRODUCED, RESOLVED, ERROR)


class _JsonMixin:
    """to_json/from_json for frozen dataclasses whose fields are str, numbers, tuples or nested records."""

    def to_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict):
        return cls(**{f.name: _restore(f.name, data[f.name], cls) for f in fields(cls) if f.name in data})

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))


def _restore(name: str, value, owner: type):
    # JSON turns tuples into lists; nested records are rebuilt from the field's declared element type.
    nested = _NESTED.get((owner.__name__, name))
    if nested is not None:
        if value is None:
            return None
        if isinstance(value, list):
            return tuple(nested.from_dict(item) for item in value)
        return nested.from_dict(value)
    if isinstance(value, list):
        return tuple(tuple(item) if isinstance(item, list) else item for item in value)
    return value


@dataclass(frozen=True)
class ScriptRun(_JsonMixin):
    """One sampled reproduction script and what it printed when run."""

    sample: int  # index among the samples, in the order the model returned them
    script: str  # the Python source the model wrote ("" when its answer held none)
    verdict: str  # REPRODUCED | RESOLVED | ERROR
    reason: str  # why ERROR ("timed out after 60 s", "2 verdict lines", ...), else ""
    output: str  # stdout and stderr, interleaved, cut to the last few thousand characters
    exit_code: int | None  # None when it timed out
    timed_out: bool
    seconds: float


@dataclass(frozen=True)
class ReproTest(_JsonMixin):
    """The chosen reproduction script: judged "reproduced" at the base commit."""

    script: str
    output_at_base: str
    sample: int  # which sample was chosen
    votes: int  # how many reproducing samples normalized to the same script
    timeout: float  # seconds the script may run
    runners_up: tuple[str, ...] = ()  # one script per other reproducing group, most votes first


@dataclass(frozen=True)
class ReproReport(_JsonMixin):
    """Every sample with its verdict at the base commit, and the choice (None: nothing reproduced)."""

    runs: tuple[ScriptRun, ...]
    chosen: ReproTest | None
    note: str = ""  # one sentence for the run record, e.g. "no sample reproduced the issue"


@dataclass(frozen=True)
class RegressionSet(_JsonMixin):
    """Existing tests that pass at the base commit and that a fix should leave passing."""

    tests: tuple[str, ...]  # test ids as the log parser names them, to pass again after a fix
    test_files: tuple[str, ...]  # the files to run (repository-relative), within the time budget
    parser: str  # the sandbox log parser that names the tests ("pytest", "django", ...)
    command: str  # the test command; `test_args` appended to it runs the selection
    seconds_at_base: float  # how long running `test_files` took at the base commit
    budget_seconds: float
    test_args: tuple[str, ...] = ()  # how `command` names test_files (Django: dotted labels)
    shorten_path_ids: bool = False  # whether ids had temporary-path parameters shortened
    candidates: tuple[str, ...] = ()  # related test files found, best first
    failing_at_base: tuple[str, ...] = ()  # tests that did not pass at base (not selected)
    removed_by_model: tuple[str, ...] = ()  # passing tests the model said the fix may change
    dropped_for_budget: tuple[str, ...] = ()  # test files left out to stay within the budget
    file_seconds: tuple[tuple[str, float], ...] = field(default=())  # each file's run time at base


_NESTED: dict[tuple[str, str], type] = {
    ("ReproReport", "runs"): ScriptRun,
    ("ReproReport", "chosen"): ReproTest,
}
