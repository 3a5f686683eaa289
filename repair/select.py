"""Choosing one candidate by the evidence: regression failures, the reproduction verdict, then a
majority vote over normalized patches (repair.normalize), the earliest sample breaking ties.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ValidatedCandidate:
    """What selection needs to know of one candidate that produced a diff."""

    number: int  # sample order: lower is earlier
    diff: str
    normalized_diff: str  # the change without comments, docstrings or layout (repair.normalize)
    regression_failures: int | None  # None: not run
    repro_verdict: str | None  # "resolved" | "reproduced" | "error" | None: no reproduction script


@dataclass(frozen=True)
class Verdict:
    chosen: int | None  # the chosen candidate's number
    reason: str
    votes: tuple[tuple[int, int], ...] = ()  # (candidate number, size of its normalized group)
    considered: tuple[int, ...] = ()

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Verdict":
        return cls(
            chosen=data["chosen"],
            reason=data["reason"],
            votes=tuple(tuple(v) for v in data.get("votes", ())),
            considered=tuple(data.get("considered", ())),
        )


def choose(candidates: list[ValidatedCandidate]) -> Verdict:
    if not candidates:
        return Verdict(chosen=None, reason="no candidate produced a valid diff")
    pool = list(candidates)
    steps: list[str] = []

    ran = [c for c in pool if c.regression_failures is not None]
    if ran:
        fewest = min(c.regression_failures for c in ran)
        pool = [c for c in ran if c.regression_failures == fewest]
        steps.append(f"{len(pool)} of {len(candidates)} with the fewest regression failures ({fewest})")

    resolved = [c for c in pool if c.repro_verdict == "resolved"]
    if resolved:
        pool = resolved
        steps.append(f"{len(pool)} the reproduction script calls resolved")
    elif any(c.repro_verdict is not None for c in pool):
        steps.append("none the reproduction script calls resolved")

    groups = Counter(c.normalized_diff for c in pool)
    votes = tuple((c.number, groups[c.normalized_diff]) for c in pool)
    # Most votes first, then the earliest sample.
    best = min(pool, key=lambda c: (-groups[c.normalized_diff], c.number))
    steps.append(f"majority vote: {groups[best.normalized_diff]} of {len(pool)} agree on candidate {best.number}")
    return Verdict(chosen=best.number, reason="; ".join(steps), votes=votes, considered=tuple(c.number for c in pool))


def select_candidate(candidates: Sequence[Any], validations: Sequence[Any]) -> Verdict:
    """The verdict over the candidates (repair.generate.Candidate) whose diff applied in the
    sandbox, joined with their validations (repair.validate.Validation)."""
    by_number = {c.number: c for c in candidates}
    return choose([
        ValidatedCandidate(
            number=v.number,
            diff=by_number[v.number].edit.diff,
            normalized_diff=by_number[v.number].edit.normalized_diff,
            regression_failures=None if v.broken_tests is None else len(v.broken_tests),
            repro_verdict=v.repro_verdict,
        )
        for v in validations
        if v.applied
    ])
