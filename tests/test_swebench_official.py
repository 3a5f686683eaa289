"""Our logs as the official harness reads them: a test run with scikit-learn 0.20's pytest 3.10
and its test command, evaluated here in real Docker, must be read by the official package's
scikit-learn parser and graded by its rules exactly as we grade it (needs the `grader` extra)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from patchsmith.swebench_runner.predictions import load_predictions
from patchsmith.swebench_runner.env_spec import EnvSpec
from patchsmith.swebench_runner.specs import spec_for
from tests.test_swebench_eval import settings_for, toy_cache, toy_instance  # noqa: F401 - toy_cache is a fixture

pytestmark = pytest.mark.docker
official = pytest.importorskip("swebench.harness.grading", reason="the official harness: pip install -e '.[grader]'")
from swebench.harness.log_parsers.python import MAP_REPO_TO_PARSER_PY  # noqa: E402


def sklearn_020_like_toy() -> EnvSpec:
    """The toy with what decides the shape of scikit-learn 0.20's logs: its pytest pins, its test
    command and the variables its test command gets."""
    sklearn = spec_for("scikit-learn/scikit-learn", "0.20")
    pytest_pins = tuple(p for p in sklearn.pip_packages if p.split("==")[0] in ("pytest", "attrs", "pluggy", "py", "more-itertools"))
    return EnvSpec("toy/toy", "0.20-like", "3.6", sklearn.python, sklearn.test_command, sklearn.parser, install="true",
                   pip_packages=pytest_pins, test_run_env=sklearn.test_run_env, env=(("PYTHONPATH", "/testbed"),))


def official_grade(log_path: Path, instance) -> tuple[dict, str]:
    from swebench.harness.grading import get_eval_tests_report, get_resolution_status

    statuses = MAP_REPO_TO_PARSER_PY["scikit-learn/scikit-learn"](log_path.read_text(), None)
    report = get_eval_tests_report(statuses, {"FAIL_TO_PASS": list(instance.fail_to_pass), "PASS_TO_PASS": list(instance.pass_to_pass)})
    return report, get_resolution_status(report)


def test_a_pytest_3_10_log_is_read_and_graded_by_the_official_parser_as_by_ours(toy_cache, tmp_path: Path) -> None:  # noqa: F811
    from patchsmith.swebench_runner.evaluation import evaluate

    cache, commit = toy_cache
    spec = sklearn_020_like_toy()
    instance = replace(toy_instance(commit, 31), version=spec.version)
    settings = replace(settings_for(tmp_path / "run", cache), extra_specs=(spec,))
    for source, resolved in (("gold", True), ("empty", False)):
        evaluate([instance], load_predictions(source, [instance]), settings, progress=lambda _: None)
        folder = tmp_path / "run" / source / instance.instance_id
        ours = json.loads((folder / "report.json").read_text())[instance.instance_id]
        assert "pytest-3.10.1" in ours["test_output"] and ours["resolved"] is resolved
        theirs, status = official_grade(folder / "test_output.txt", instance)
        assert status == ("RESOLVED_FULL" if resolved else "RESOLVED_NO")
        for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
            assert theirs[key] == ours["tests_status"][key], key


LITE = Path("/work/shared/data/swebench_lite_test.jsonl")
FIXTURE_LOGS = {  # fixture log -> the Lite instance whose test patch it ran
    "django_10914_test_patch_only_container.log": "django__django-10914",
    "django_16408_test_patch_only.log": "django__django-16408",
    "pytest_flask_5063_test_patch_only.log": "pallets__flask-5063",
    "pytest_collection_error.log": "pallets__flask-5063",
    "sympy_24066_test_patch_only.log": "sympy__sympy-24066",
}


@pytest.mark.skipif(not LITE.is_file(), reason="needs the Lite split")
def test_our_grades_of_real_logs_are_the_official_grades() -> None:
    from swebench.harness.grading import get_eval_tests_report, get_resolution_status

    from patchsmith.sandbox.log_parsers import parse_log
    from patchsmith.swebench_runner.grading import grade, official_view
    from tests.test_log_parsers import LOGS, OFFICIALLY_UNREAD

    rows = {row["instance_id"]: row for row in map(json.loads, LITE.read_text().splitlines())}
    cases = [((LOGS / name).read_text(), rows[iid]) for name, iid in FIXTURE_LOGS.items()]
    # The logs where our parsers read more, with a listed test that only we can read.
    cases.append((OFFICIALLY_UNREAD["django"], {"repo": "django/django", "version": "3.0", "FAIL_TO_PASS": ["test_a (x.T)"], "PASS_TO_PASS": ["test_b (x.T)"]}))
    for listed in ("test_b", "test_c"):
        cases.append((OFFICIALLY_UNREAD["sympy"], {"repo": "sympy/sympy", "version": "1.12", "FAIL_TO_PASS": ["test_a"], "PASS_TO_PASS": [listed]}))
    for log, row in cases:
        spec = spec_for(row["repo"], row["version"])
        ours = grade(official_view(parse_log(log, spec.parser), spec.parser), row["FAIL_TO_PASS"], row["PASS_TO_PASS"])
        theirs = get_eval_tests_report(MAP_REPO_TO_PARSER_PY[row["repo"]](log, None), row)
        for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
            assert sorted(theirs[key]["success"]) == sorted(ours.tests_status()[key]["success"]), (row["repo"], key)
            assert sorted(theirs[key]["failure"]) == sorted(ours.tests_status()[key]["failure"]), (row["repo"], key)
        assert (get_resolution_status(theirs) == "RESOLVED_FULL") is ours.resolved


@pytest.mark.skipif(not LITE.is_file(), reason="needs the Lite split")
def test_eval_grader_official_regrades_a_run_and_lists_each_difference(tmp_path: Path) -> None:
    """`--grader official` through the CLI, on a run whose report is already graded (so no
    container is needed): agreement exits 0; a report whose grade the official rules do not
    give is listed and exits 1."""
    import subprocess
    import sys

    from patchsmith.sandbox.log_parsers import parse_log
    from patchsmith.swebench_runner.dataset import instance_from_row
    from patchsmith.swebench_runner.grading import GRADING_RULES, grade
    from patchsmith.swebench_runner.run_records import patch_digest
    from tests.test_log_parsers import LOGS

    line = next(line for line in LITE.read_text().splitlines() if json.loads(line)["instance_id"] == "pallets__flask-5063")
    dataset = tmp_path / "one.jsonl"
    dataset.write_text(line + "\n")
    instance = instance_from_row(json.loads(line))
    log = (LOGS / "pytest_flask_5063_test_patch_only.log").read_text()
    folder = tmp_path / "out" / "r1" / "gold" / instance.instance_id
    folder.mkdir(parents=True)
    (folder / "test_output.txt").write_text(f">>>>> Start Test Output\n{log}\n>>>>> End Test Output\n")
    ours = grade(parse_log(log, "pytest"), instance.fail_to_pass, instance.pass_to_pass)
    report = {"patch_sha256": patch_digest(instance.patch), "grading_rules": GRADING_RULES, "resolved": ours.resolved,
              "tests_status": ours.tests_status(), "timed_out": False}
    command = [sys.executable, "-m", "patchsmith.cli", "swebench", "eval", "--dataset", str(dataset), "--repo-cache", str(tmp_path),
               "--predictions", "gold", "--run-id", "r1", "--out", str(tmp_path / "out"), "--grader", "official"]

    (folder / "report.json").write_text(json.dumps({instance.instance_id: report}))
    agreed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr
    assert "1 instance(s) already graded" in agreed.stdout
    assert "official grader (swebench 5.0.2): 1 instance(s) re-graded, 0 difference(s)" in agreed.stdout

    f2p = instance.fail_to_pass[0]
    tampered = {**report, "resolved": True, "tests_status": {**report["tests_status"], "FAIL_TO_PASS": {"success": [f2p], "failure": []}}}
    (folder / "report.json").write_text(json.dumps({instance.instance_id: tampered}))
    differ = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert differ.returncode == 1, differ.stdout + differ.stderr
    assert f"gold/pallets__flask-5063: FAIL_TO_PASS {f2p}: official failure, ours success" in differ.stdout
    assert "gold/pallets__flask-5063: official resolved=False, ours resolved=True" in differ.stdout
    assert json.loads((tmp_path / "out" / "r1" / "official-grades.json").read_text())["graded"] == 1
