"""An evaluation run's records: which report may be reused, what was submitted, the summary.

A run folder (`out/<run_id>/`) is added to by every invocation with that run id:
    submissions.json        every instance any invocation selected: its model folder and patch
                            hash, or null when it had no prediction (the summary covers them all)
    env-failures.json       instances whose environment did not build, or that could not be
                            graded, and why; an instance graded since then is taken out
    <model>.<run_id>.json   the summary, with the official fields, over every submission

A report is reused only when it grades the same instance, the same patch (by hash) and under
the same grading rules; anything else is graded again and the report replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from patchsmith.swebench_runner.dataset import Instance
from patchsmith.swebench_runner.grading import GRADING_RULES
from patchsmith.swebench_runner.predictions import Prediction

SUBMISSIONS = "submissions.json"
FAILURES = "env-failures.json"


def patch_digest(patch: str | None) -> str:
    return hashlib.sha256((patch or "").encode()).hexdigest()


def report_path(run_dir: Path, model_folder: str, instance_id: str) -> Path:
    return run_dir / model_folder / instance_id / "report.json"


def reusable_report(run_dir: Path, model_folder: str, instance_id: str, digest: str) -> dict | None:
    """The instance's graded report when it graded this patch under today's rules, else None."""
    try:
        report = json.loads(report_path(run_dir, model_folder, instance_id).read_text())[instance_id]
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        return None
    if report.get("patch_sha256") != digest or report.get("grading_rules") != GRADING_RULES:
        return None
    return report


def write_atomically(path: Path, text: str) -> None:
    """Write text so that a reader (or a kill) sees the old file or the new one, never a torn one;
    a temporary file of its own per call, so threads writing one path do not share one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)


def start_run(run_dir: Path, settings_json: str) -> None:
    """The run folder, made once the run really starts (its inputs and its cluster checked), with
    the settings.json the command chose (the whole settings tree, as text; empty: none)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if settings_json:
        write_atomically(run_dir / "settings.json", settings_json)


def _read(path: Path, default: dict) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return default


def record_submissions(run_dir: Path, instances: list[Instance], predictions: dict[str, Prediction]) -> None:
    """Add this invocation's selection to the run's submissions (a later prediction replaces an earlier one)."""
    path = run_dir / SUBMISSIONS
    submitted = _read(path, {})
    for instance in instances:
        prediction = predictions.get(instance.instance_id)
        submitted[instance.instance_id] = None if prediction is None else {
            "model_folder": prediction.model_folder,
            "patch_sha256": patch_digest(prediction.model_patch),
            "empty": prediction.is_empty,
        }
    write_atomically(path, json.dumps(submitted, indent=1, sort_keys=True))


def record_failures(run_dir: Path, env_failures: dict[str, str], errors: dict[str, str], graded: set[str]) -> None:
    path = run_dir / FAILURES
    failures = _read(path, {"environment": {}, "errors": {}})
    failures["environment"].update(env_failures)
    failures["errors"].update(errors)
    for instance_id in graded:  # graded now: no longer a failure
        failures["environment"].pop(instance_id, None)
        failures["errors"].pop(instance_id, None)
    write_atomically(path, json.dumps(failures, indent=1, sort_keys=True))


def write_summary(run_dir: Path) -> dict:
    """The official summary fields over every submission of the run, plus our count of
    environment build failures."""
    failures = _read(run_dir / FAILURES, {"environment": {}, "errors": {}})
    submitted = _read(run_dir / SUBMISSIONS, {})
    ids = {name: set() for name in ("completed", "incomplete", "empty_patch", "resolved", "unresolved", "error")}
    empty_graded, empty_resolved, env_failed = set(), set(), set()
    for iid, entry in submitted.items():
        if entry is None:
            ids["incomplete"].add(iid)
            continue
        report = reusable_report(run_dir, entry["model_folder"], iid, entry["patch_sha256"])
        if report is None and iid in failures["environment"]:
            env_failed.add(iid)
        if entry["empty"]:
            ids["empty_patch"].add(iid)
            if report is not None:
                empty_graded.add(iid)
                if report["resolved"]:
                    empty_resolved.add(iid)
        elif report is None:
            ids["error"].add(iid)
        else:
            ids["completed"].add(iid)
            ids["resolved" if report["resolved"] else "unresolved"].add(iid)
    models = sorted({entry["model_folder"] for entry in submitted.values() if entry}) or ["none"]
    summary = {
        "total_instances": len(submitted),
        "submitted_instances": len(submitted) - len(ids["incomplete"]),
        "completed_instances": len(ids["completed"]),
        "resolved_instances": len(ids["resolved"]),
        "unresolved_instances": len(ids["unresolved"]),
        "empty_patch_instances": len(ids["empty_patch"]),
        "error_instances": len(ids["error"]),
        "completed_ids": sorted(ids["completed"]),
        "incomplete_ids": sorted(ids["incomplete"]),
        "empty_patch_ids": sorted(ids["empty_patch"]),
        "submitted_ids": sorted(iid for iid, entry in submitted.items() if entry),
        "resolved_ids": sorted(ids["resolved"]),
        "unresolved_ids": sorted(ids["unresolved"]),
        "error_ids": sorted(ids["error"]),
        "schema_version": 2,
        # Ours, kept apart from the official fields:
        "patchsmith": {
            "grading_rules": GRADING_RULES,
            "environment_build_failures": len(env_failed),
            "environment_build_failure_ids": sorted(env_failed),
            # Empty patches are evaluated all the same (test patch only); none should resolve.
            "empty_patch_graded_ids": sorted(empty_graded),
            "empty_patch_resolved_ids": sorted(empty_resolved),
            "error_reasons": {iid: failures["errors"].get(iid) or failures["environment"].get(iid, "") for iid in sorted(ids["error"])},
        },
    }
    write_atomically(run_dir / f"{'+'.join(models)}.{run_dir.name}.json", json.dumps(summary, indent=2))
    return summary
