"""Runs you can trust: a grade is reused only for the same instance, patch and rules; a rerun on
a subset adds to the run's summary; predictions survive a torn last line; `--instances` takes
separate words. Docker tests use the toy instance of test_swebench_eval."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_git_repo

from patchsmith.swebench_runner.predictions import Prediction, load_predictions
from tests.test_swebench_eval import TOY_SPEC, settings_for, toy_cache, toy_instance  # noqa: F401 - toy_cache is a fixture


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


def test_solve_refuses_an_out_folder_that_holds_another_run_and_keeps_its_files(tmp_path: Path) -> None:
    """A run that found no fix must never leave an earlier run's patch.diff looking like its own."""
    repo = tmp_path / "repo"
    make_git_repo(repo, {"pkg/__init__.py": "x = 1\n"})
    out = tmp_path / "out"
    out.mkdir()
    (out / "patch.diff").write_text("an earlier run's fix\n")
    command = [sys.executable, "-m", "patchsmith.cli", "solve", "--repo", str(repo), "--issue", "x is 1, should be 2",
               "--model", "openai/nobody-answers", "--api-base", "http://127.0.0.1:9", "--out", str(out)]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "already holds another run's files" in refused.stderr and f"--resume {out}" in refused.stderr
    # One sentence; solve's progress lines (preflight, index) may come before it.
    said = [line for line in refused.stderr.splitlines() if not line.startswith(" ")]
    assert "Traceback" not in refused.stderr and len(said) == 1 and said[0].startswith("patchsmith: ")
    assert sorted(p.name for p in out.iterdir()) == ["patch.diff"]
    assert (out / "patch.diff").read_text() == "an earlier run's fix\n"
    (out / "patch.diff").unlink()
    (out / "notes").write_text("")  # a file, not a folder, as --out
    as_file = subprocess.run([*command[:-1], str(out / "notes")], capture_output=True, text=True, timeout=120)
    assert as_file.returncode == 2 and "is a file, not a folder" in as_file.stderr and "Traceback" not in as_file.stderr


def _scripted_infer(monkeypatch, tmp_path: Path, builds: dict[str, bool], answers: dict[str, tuple[str, str | None]]):
    """infer() with the environment build and solve() played: builds says which repo's environment
    builds, answers gives each instance's (patch, failure). Returns a function running infer on ids."""
    from types import SimpleNamespace

    from patchsmith.pipeline import SolveOutcome
    from patchsmith.swebench_runner import inference

    def environment_for(spec, *_args, **_kwargs):
        built = builds[spec.repo]
        return SimpleNamespace(commit="c0", build=SimpleNamespace(built=built, image="toy-image", error="" if built else "pip failed"))

    def solve(request, progress=None, model=None):  # noqa: ANN001, ANN202 - pipeline.solve's shape
        patch, failure = answers[request.out_dir.name]
        request.out_dir.mkdir(parents=True)
        (request.out_dir / "report.md").write_text("")
        return SolveOutcome(patch=patch, out_dir=request.out_dir, failure=failure, cost_usd=0.01)

    monkeypatch.setattr(inference, "environment_for", environment_for)
    monkeypatch.setattr("patchsmith.pipeline.solve", solve)
    cache = tmp_path / "mirrors"
    subprocess.run(["git", "init", "-q", "--bare", str(cache / "toy+toy")], check=True)
    from patchsmith.instance_solver import instance_solver
    from patchsmith.settings import Settings, with_values

    settings = inference.InferSettings(run_dir=tmp_path / "infer", repo_cache=cache, cache_dir=tmp_path / "cache",
                                       model_name="openai/m", extra_specs=(TOY_SPEC,))
    solver = instance_solver(with_values(Settings(), {"model.model": "openai/m"}))

    def run(numbers: list[int]) -> list[str]:
        lines: list[str] = []
        inference.infer([toy_instance("c0", n) for n in numbers], settings, solver, progress=lines.append)
        return lines

    return settings.predictions_path, run


def test_an_environment_failure_or_a_spent_budget_is_no_prediction_and_a_rerun_retries_it(monkeypatch, tmp_path: Path) -> None:
    builds = {"toy/toy": False}
    answers = {"toy__toy-1": ("diff one", None), "toy__toy-2": ("", "cost_cap")}
    predictions, run = _scripted_infer(monkeypatch, tmp_path, builds, answers)
    run([1])
    assert not predictions.exists() or predictions.read_text() == ""  # the build failed: no answer recorded
    builds["toy/toy"] = True
    run([1, 2])
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert rows == [{"instance_id": "toy__toy-1", "model_name_or_path": "openai/m", "model_patch": "diff one"}]  # 2 spent its budget
    answers["toy__toy-2"] = ("diff two", None)  # a rerun with a larger budget
    run([1, 2])
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert [row["instance_id"] for row in rows] == ["toy__toy-1", "toy__toy-2"] and rows[1]["model_patch"] == "diff two"
    # The first attempt's run folder is kept beside the new one, not refused or overwritten.
    assert (predictions.parent / "runs" / "toy__toy-2.attempt-1" / "report.md").is_file()


def test_a_torn_last_prediction_line_is_cut_on_resume_not_glued_onto(monkeypatch, tmp_path: Path) -> None:
    answers = {"toy__toy-1": ("diff one", None), "toy__toy-2": ("diff two", None)}
    predictions, run = _scripted_infer(monkeypatch, tmp_path, {"toy/toy": True}, answers)
    whole = json.dumps({"instance_id": "toy__toy-1", "model_name_or_path": "openai/m", "model_patch": "diff one"}) + "\n"
    predictions.parent.mkdir(parents=True)
    predictions.write_text(whole + '{"instance_id": "toy__toy-2", "model_pa')  # killed mid-write
    lines = run([1, 2])
    assert any("cut a torn last line" in line for line in lines)
    text = predictions.read_text()
    assert text.startswith(whole) and text.endswith("\n")
    rows = [json.loads(line) for line in text.splitlines()]  # every line whole
    assert [row["instance_id"] for row in rows] == ["toy__toy-1", "toy__toy-2"]
    # A last line that is whole but lost only its newline is kept, and ended.
    predictions.write_text(whole.rstrip("\n"))
    run([1])
    assert predictions.read_text() == whole


LITE = Path("/work/shared/data/swebench_lite_test.jsonl")


# A folder holding only some mirrors (one bench's) must skip, not fail: each test names the ones it reads.
@pytest.mark.skipif(not LITE.is_file() or not all(Path("/work/mirrors", name).exists() for name in ("psf+requests", "pallets+flask")),
                    reason="needs the Lite split and the requests and flask mirrors")
def test_instances_take_separate_words_as_well_as_one_string(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in LITE.read_text().splitlines()]
    wanted = {"psf__requests-2317": "2.4", "pallets__flask-4045": "2.0", "psf__requests-863": "0.14"}
    dataset = tmp_path / "lite.jsonl"
    dataset.write_text("".join(json.dumps(row) + "\n" for row in rows if row["instance_id"] in wanted or row["repo"] == "psf/requests"))
    base = [sys.executable, "-m", "patchsmith.cli", "swebench", "envs", "--dataset", str(dataset), "--repo-cache", "/work/mirrors",
            "--no-build", "--instances"]
    for ids in (list(wanted), ["psf__requests-2317", "pallets__flask-4045, psf__requests-863"], [" ".join(wanted)]):
        listed = subprocess.run([*base, *ids], capture_output=True, text=True, timeout=120)
        assert listed.returncode == 0, listed.stderr
        cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in listed.stdout.splitlines() if line.startswith("│")]
        assert sorted(row[1] for row in cells) == sorted(wanted.values())  # the version column, one row each
    unknown = subprocess.run([*base, "psf__requests-2317", "nobody__nothing-1"], capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "nobody__nothing-1 not in" in unknown.stderr and "Traceback" not in unknown.stderr
