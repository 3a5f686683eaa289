"""Runs you can trust: a grade is reused only for the same instance, patch and rules; a rerun on
a subset adds to the run's summary; predictions survive a torn last line; `--instances` takes
separate words. Docker tests use the toy instance of test_swebench_eval."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from patchsmith.swebench_runner.predictions import Prediction, load_predictions
from tests.test_swebench_eval import settings_for, toy_cache, toy_instance  # noqa: F401 - toy_cache is a fixture


@pytest.mark.docker
def test_a_grade_is_reused_only_for_the_same_patch_and_a_subset_rerun_adds_to_the_summary(toy_cache, tmp_path: Path) -> None:  # noqa: F811
    from patchsmith.swebench_runner.evaluation import evaluate

    cache, commit = toy_cache
    first, second = toy_instance(commit, 21), toy_instance(commit, 22)
    run_dir = tmp_path / "run"
    settings = settings_for(run_dir, cache)
    gold = evaluate([first, second], load_predictions("gold", [first, second]), settings, progress=lambda _: None)
    assert gold["resolved_ids"] == ["toy__toy-21", "toy__toy-22"]
    report_file = run_dir / "gold" / "toy__toy-21" / "report.json"
    assert json.loads(report_file.read_text())["toy__toy-21"]["grading_rules"] == "swebench 5.0.2"

    # The same run id and model name, another patch (empty), for the first instance only.
    lines: list[str] = []
    rerun = evaluate([first], {"toy__toy-21": Prediction("toy__toy-21", "gold", "")}, settings, progress=lines.append)
    assert not any("already graded" in line for line in lines)  # the gold grade was not reused
    report = json.loads(report_file.read_text())["toy__toy-21"]
    assert not report["resolved"] and report["tests_status"]["FAIL_TO_PASS"]["failure"] == ["tests/test_toy.py::test_halve"]
    assert rerun["patchsmith"]["empty_patch_resolved_ids"] == [] and rerun["empty_patch_ids"] == ["toy__toy-21"]
    # The summary still holds the instance this invocation did not select.
    assert rerun["total_instances"] == 2 and rerun["resolved_ids"] == ["toy__toy-22"]
    on_disk = json.loads((run_dir / f"gold.{run_dir.name}.json").read_text())
    assert on_disk == rerun

    # The same patch again: reused, not graded twice.
    again = evaluate([first], {"toy__toy-21": Prediction("toy__toy-21", "gold", "")}, settings, progress=lines.append)
    assert "1 instance(s) already graded in this run; skipping them" in lines and again == rerun


def test_a_report_under_other_rules_or_without_a_patch_hash_is_not_reused(tmp_path: Path) -> None:
    from patchsmith.swebench_runner import run_records

    digest = run_records.patch_digest("diff")
    path = run_records.report_path(tmp_path, "m", "x-1")
    for entry, reusable in (({"resolved": True}, False),  # written before patches were hashed
                            ({"resolved": True, "patch_sha256": digest, "grading_rules": "swebench 4.1.0"}, False),
                            ({"resolved": True, "patch_sha256": digest, "grading_rules": "swebench 5.0.2"}, True)):
        run_records.write_atomically(path, json.dumps({"x-1": entry}))
        assert (run_records.reusable_report(tmp_path, "m", "x-1", digest) is not None) is reusable
    assert run_records.reusable_report(tmp_path, "m", "x-1", run_records.patch_digest("")) is None
