"""Validation: each candidate's diff applied in one container, reset in between, then checked by
the reproduction script and the regression tests. The checks arrive as callables so that this
stage does not reach into `reproduce` (the pipeline wires them)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from patchsmith.repair.generate import Candidate


class ApplyOutcome(Protocol):
    applied: bool
    method: str | None
    message: str


class ValidationContainer(Protocol):
    """The container holding the repository at the base commit (sandbox.Container provides it)."""

    def reset(self) -> None: ...

    def apply_diff(self, diff: str) -> ApplyOutcome: ...


# Each check runs against the workspace as it is now (with the candidate applied).
ReproCheck = Callable[[], tuple[str, str]]  # -> (verdict, output tail)
RegressionCheck = Callable[[], tuple[str, ...]]  # -> the selected tests that no longer pass


@dataclass(frozen=True)
class Validation:
    number: int  # the candidate's number
    applied: bool
    apply_method: str = ""
    apply_error: str = ""
    repro_verdict: str | None = None  # None: no reproduction script
    repro_output: str = ""
    broken_tests: tuple[str, ...] | None = None  # None: no regression tests
    seconds: float = 0.0
    same_as: int | None = None  # validated once already: the earlier candidate with the same diff

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Validation":
        broken = data.get("broken_tests")
        return cls(**{**data, "broken_tests": None if broken is None else tuple(broken)})


def validate_candidates(
    candidates: Sequence[Candidate],
    workspace: ValidationContainer,
    *,
    repro: ReproCheck | None,
    regressions: RegressionCheck | None,
    on_result: Callable[[Validation], None] | None = None,
) -> tuple[Validation, ...]:
    """Validate every candidate whose edits produced a diff; identical diffs run once."""
    results: list[Validation] = []
    by_diff: dict[str, Validation] = {}
    for candidate in candidates:
        if not candidate.edit.ok:
            continue
        earlier = by_diff.get(candidate.edit.diff)
        if earlier is not None:
            result = Validation(**{**asdict(earlier), "number": candidate.number, "same_as": earlier.number, "seconds": 0.0})
        else:
            result = _validate_one(candidate, workspace, repro, regressions)
            by_diff[candidate.edit.diff] = result
        results.append(result)
        if on_result:
            on_result(result)
    return tuple(results)


def _validate_one(
    candidate: Candidate, workspace: ValidationContainer, repro: ReproCheck | None, regressions: RegressionCheck | None
) -> Validation:
    started = time.monotonic()
    workspace.reset()
    applied = workspace.apply_diff(candidate.edit.diff)
    if not applied.applied:
        return Validation(candidate.number, False, apply_error=applied.message, seconds=round(time.monotonic() - started, 3))
    verdict, output = repro() if repro else (None, "")
    broken = regressions() if regressions else None
    workspace.reset()
    return Validation(
        number=candidate.number,
        applied=True,
        apply_method=applied.method or "",
        repro_verdict=verdict,
        repro_output=output,
        broken_tests=broken,
        seconds=round(time.monotonic() - started, 3),
    )
