"""SWE-bench instances from a JSON Lines or JSON file, or from a Hugging Face Hub dataset name.

A name such as `princeton-nlp/SWE-bench_Lite` or `SWE-bench/SWE-bench_Verified:dev` (split after
the colon; `test` by default) is loaded with the optional `datasets` package, as the official
harness's users pass it; without that package, or without a network, one sentence says how to
pass a local JSON Lines file instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from patchsmith.swebench_runner.errors import SwebenchError

DEFAULT_DATASET = "princeton-nlp/SWE-bench_Lite"
DEFAULT_SPLIT = "test"
# owner/name[:split] and no file suffix: what the Hub calls a dataset (a local file of that name wins).
HUB_NAME = re.compile(r"(?P<name>[A-Za-z0-9][\w.-]*/[\w.-]+?)(?::(?P<split>[\w.-]+))?")
FILE_SUFFIXES = (".json", ".jsonl", ".ndjson", ".gz")

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
    except UnicodeDecodeError:
        raise SwebenchError(f"{path} is not a text file (it is not UTF-8); give a JSON Lines file, one object a line.") from None
    if "\0" in text:
        raise SwebenchError(f"{path} is a binary file; give a JSON Lines file, one object a line.")
    stripped = text.lstrip()
    whole = _whole_object(stripped) if stripped.startswith("{") else None
    if whole is not None:  # one JSON object over many lines (predictions keyed by instance id)
        rows = [whole]
    elif stripped.startswith("["):
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


def _whole_object(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None  # JSON Lines, or broken: read line by line, which names the bad line
    return value if isinstance(value, dict) else None


def hub_name(source: str | Path) -> tuple[str, str] | None:
    """(dataset name, split) when source names a Hub dataset rather than a local file."""
    text = str(source)
    match = HUB_NAME.fullmatch(text)
    if match is None or Path(text).expanduser().exists() or text.lower().endswith(FILE_SUFFIXES):
        return None
    return match["name"], match["split"] or DEFAULT_SPLIT


def hub_rows(name: str, split: str) -> list[dict]:
    """The rows of a Hub dataset's split, through the optional `datasets` package."""
    local = "or pass a local JSON Lines file with --dataset FILE"
    try:
        import datasets
    except ImportError:
        raise SwebenchError(f"--dataset {name} names a Hugging Face Hub dataset, which needs the optional datasets "
                            f"package (pip install 'patchsmith[datasets]') and a network; {local}.") from None
    try:
        return [dict(row) for row in datasets.load_dataset(name, split=split)]
    except Exception as exc:  # noqa: BLE001 - no network, an unknown name or split: all the user's to fix
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise SwebenchError(f"could not load split {split} of {name} from the Hugging Face Hub ({reason}); {local}.") from None


def load_instances(path: str | Path) -> list[Instance]:
    """Every instance of a dataset file or Hub dataset, in order; ids must be unique."""
    hub = hub_name(path)
    instances = [instance_from_row(row) for row in (hub_rows(*hub) if hub else read_rows(path))]
    seen: set[str] = set()
    for instance in instances:
        if instance.instance_id in seen:
            raise SwebenchError(f"{path} lists instance {instance.instance_id} twice.")
        seen.add(instance.instance_id)
    return instances
