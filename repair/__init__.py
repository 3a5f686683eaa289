"""repair: candidate fixes sampled from the model, applied to the base files, checked, validated in
the sandbox, and one chosen by the evidence.

A stage: it imports leaves (and localize's result types) only, never patchsmith. The edit format is
documented in repair/edits.py.

    candidates = generate_candidates(issue_text, index, localization, model, RepairSettings())
    validations = validate_candidates(candidates, container, repro=check, regressions=check)
    verdict = select_candidate(candidates, validations)
"""

from patchsmith.repair.apply import EditOutcome, apply_edits
from patchsmith.repair.candidate import EditResult, EditSettings, apply_answer
from patchsmith.repair.checks import PROTECTED_PATHS, protected_path
from patchsmith.repair.diff import check_diff, unified_diff
from patchsmith.repair.edits import FORMAT_HELP, Edit, ParsedAnswer, format_edits, parse_edits
from patchsmith.repair.generate import Candidate, RepairSettings, generate_candidates, location_sets
from patchsmith.repair.normalize import normalize_code, normalized_patch
from patchsmith.repair.select import ValidatedCandidate, Verdict, choose, select_candidate
from patchsmith.repair.validate import Validation, validate_candidates

__all__ = [
    "FORMAT_HELP",
    "Candidate",
    "PROTECTED_PATHS",
    "Edit",
    "EditOutcome",
    "EditResult",
    "EditSettings",
    "ParsedAnswer",
    "RepairSettings",
    "ValidatedCandidate",
    "Validation",
    "Verdict",
    "apply_answer",
    "apply_edits",
    "check_diff",
    "choose",
    "format_edits",
    "generate_candidates",
    "location_sets",
    "normalize_code",
    "normalized_patch",
    "parse_edits",
    "select_candidate",
    "protected_path",
    "unified_diff",
    "validate_candidates",
]
