"""repair: candidate edits from a model's answer, applied to the base files, checked, as a diff.

A stage: it imports leaves only, never patchsmith. The edit format is documented in repair/edits.py.
"""

from patchsmith.repair.apply import EditOutcome, apply_edits
from patchsmith.repair.candidate import EditResult, EditSettings, apply_answer
from patchsmith.repair.checks import PROTECTED_PATHS, protected_path
from patchsmith.repair.diff import check_diff, unified_diff
from patchsmith.repair.edits import FORMAT_HELP, Edit, ParsedAnswer, format_edits, parse_edits
from patchsmith.repair.normalize import normalize_code, normalized_patch

__all__ = [
    "FORMAT_HELP",
    "PROTECTED_PATHS",
    "Edit",
    "EditOutcome",
    "EditResult",
    "EditSettings",
    "ParsedAnswer",
    "apply_answer",
    "apply_edits",
    "check_diff",
    "format_edits",
    "normalize_code",
    "normalized_patch",
    "parse_edits",
    "protected_path",
    "unified_diff",
]
