"""SWE-bench instances from a JSON Lines or JSON file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from patchsmith.swebench_runner.errors import SwebenchError

REQUIRED_FIELDS = ("repo", "instance_id", "base_commit", "version", "test_patch", "FAIL_TO_PASS", "PASS_TO_PASS")


@dataclass(frozen=True)
class Instance:
    """One task: a repository at a base commit, its gold and test patches, and the tests that decide it."""

    instance_id: str
    repo: str
    base_commit: str
    version: str
    patch: str
    test_patch: str
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...]
    problem_statement: str = ""
    hints_text: str = ""
    created_at: str = ""
    environment_setup_commit: str = ""


def _test_list(value: object, field: str, instance_id: str) -> tuple[str, ...]:
    # Upstream stores the test lists as JSON-encoded strings; decoded copies store lists.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise SwebenchError(f"{instance_id}: {field} is neither a list nor a JSON-encoded list.") from exc
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SwebenchError(f"{instance_id}: {field} must be a list of test names.")
    return tuple(value)


def instance_from_row(row: dict) -> Instance:
    """One dataset row (official field names) as an Instance."""
    missing = [field for field in REQUIRED_FIELDS if field not in row]
    if missing:
        raise SwebenchError(f"instance {row.get('instance_id', '?')} lacks the field(s) {', '.join(missing)}.")
    instance_id = str(row["instance_id"])
    return Instance(
        instance_id=instance_id,
        repo=str(row["repo"]),
        base_commit=str(row["base_commit"]),
        version=str(row["version"]),
        patch=row.get("patch") or "",
        test_patch=row["test_patch"] or "",
        fail_to_pass=_test_list(row["FAIL_TO_PASS"], "FAIL_TO_PASS", instance_id),
        pass_to_pass=_test_list(row["PASS_TO_PASS"], "PASS_TO_PASS", instance_id),
        problem_statement=row.get("problem_statement") or "",
        hints_text=row.get("hints_text") or "",
        created_at=str(row.get("created_at") or ""),
        environment_setup_commit=row.get("environment_setup_commit") or "",
    )


def read_rows(path: Path) -> list[dict]:
    """The objects of a JSON Lines file, or of a JSON file holding a list of objects."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SwebenchError(f"cannot read {path}: {exc.strerror}.") from exc
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            rows = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise SwebenchError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}.") from exc
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SwebenchError(f"{path} line {number} is not valid JSON: {exc.msg}.") from exc
    if not all(isinstance(row, dict) for row in rows):
        raise SwebenchError(f"{path} must hold JSON objects, one per instance.")
    return rows


def load_instances(path: Path) -> list[Instance]:
    """Every instance in a dataset file, in file order; ids must be unique."""
    instances = [instance_from_row(row) for row in read_rows(path)]
    seen: set[str] = set()
    for instance in instances:
        if instance.instance_id in seen:
            raise SwebenchError(f"{path} lists instance {instance.instance_id} twice.")
        seen.add(instance.instance_id)
    return instances
