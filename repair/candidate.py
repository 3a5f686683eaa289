"""From a model's answer to a checked diff, or to the reason the answer is rejected."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from patchsmith.repair.apply import EditOutcome, apply_edits
from patchsmith.repair.checks import PROTECTED_PATHS, protected_path, syntax_problem, whitespace_only
from patchsmith.repair.diff import check_diff, unified_diff
from patchsmith.repair.edits import parse_edits
from patchsmith.repair.normalize import normalized_patch


@dataclass(frozen=True)
class EditSettings:
    # Longer answers are rejected unread: a runaway model. 200k characters is ~50k tokens, beyond
    # any sensible completion limit, and bounds the time difflib may take on one answer.
    max_answer_chars: int = 200_000
    allow_partial: bool = False  # keep the edits that apply when others do not
    # A candidate changing one of these paths is rejected (see checks.PROTECTED_PATHS); () allows all.
    protected_paths: tuple[str, ...] = PROTECTED_PATHS


@dataclass(frozen=True)
class EditResult:
    ok: bool
    reason: str = ""  # why the answer was rejected; "" when ok
    diff: str = ""  # unified diff against the base, git-style; "" when rejected before one was made
    files: tuple[str, ...] = ()  # paths the diff changes or creates
    edits: tuple[EditOutcome, ...] = ()  # one per edit block parsed, in answer order
    problems: tuple[str, ...] = ()  # malformed blocks
    normalized_diff: str = ""  # the change without comments, docstrings or layout (repair.normalize), for voting

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EditResult:
        return cls(
            ok=data["ok"],
            reason=data["reason"],
            diff=data["diff"],
            files=tuple(data["files"]),
            edits=tuple(EditOutcome(**edit) for edit in data["edits"]),
            problems=tuple(data["problems"]),
            normalized_diff=data.get("normalized_diff", ""),
        )


def _rejected(reason: str, **fields: Any) -> EditResult:
    return EditResult(ok=False, reason=reason, **fields)


def apply_answer(
    answer: str | bytes, files: Mapping[str, str], settings: EditSettings = EditSettings()
) -> EditResult:
    """Parse the answer's edits, apply them to `files` (the base, {path: text}), and check the diff."""
    if len(answer) > settings.max_answer_chars:
        return _rejected(f"answer is too long ({len(answer)} characters, limit {settings.max_answer_chars}).")
    parsed = parse_edits(answer)
    if parsed.problems and not (settings.allow_partial and parsed.edits):
        return _rejected(f"malformed answer: {parsed.problems[0]}", problems=parsed.problems)
    edited, outcomes = apply_edits(files, parsed.edits)
    failed = [(n, o) for n, o in enumerate(outcomes, start=1) if not o.applied]
    if failed and not (settings.allow_partial and len(failed) < len(outcomes)):
        n, outcome = failed[0]
        return _rejected(
            f"edit {n} of {len(outcomes)} ({outcome.path}) does not apply: {outcome.reason}",
            edits=outcomes,
            problems=parsed.problems,
        )
    fields: dict[str, Any] = {"edits": outcomes, "problems": parsed.problems}
    before = {path: files.get(path) for path in edited}  # read once: `files` may read git on demand
    changed = {path: text for path, text in edited.items() if before[path] != text}
    if not changed:
        return _rejected("the edits change nothing.", **fields)
    for path in sorted(changed):
        pattern = protected_path(path, settings.protected_paths)
        if pattern:
            return _rejected(f"the edits change {path}, a protected path ({pattern}: CI or repository configuration).", **fields)
    base = {path: before[path] for path in changed}
    if all(old is not None and whitespace_only(path, old, changed[path]) for path, old in base.items()):
        return _rejected("the edits change only whitespace.", **fields)
    for path, new in sorted(changed.items()):
        problem = syntax_problem(path, base[path], new)
        if problem:
            return _rejected(problem, **fields)
    known = {path: text for path, text in base.items() if text is not None}
    diff = unified_diff(known, changed)
    problem = check_diff(diff, known, changed)
    if problem:
        return _rejected(f"internal error, {problem}", diff=diff, **fields)
    normalized = normalized_patch(known, changed)
    return EditResult(ok=True, diff=diff, files=tuple(sorted(changed)), normalized_diff=normalized, **fields)
