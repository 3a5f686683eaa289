"""`patchsmith swebench eval --ray`: one Ray task per instance, the run folder written by the driver.

The task does on its node exactly what the local runner does for one instance (the environment
image found or built with the node's own engine, caches and mirrors; then evaluate_instance), in a
scratch run folder of the node's, and returns that instance's files. The driver writes them into
the run folder as the local runner would (report.json last, atomically), so a run id resumes the
same way, a driver killed and restarted resumes, and a task that Ray retried on another node after
its node died is still written once: only the driver writes, once per finished task.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

from patchsmith.swebench_runner import run_records
from patchsmith.swebench_runner.dataset import Instance
from patchsmith.swebench_runner.evaluation import EvalSettings, RunState
from patchsmith.swebench_runner.predictions import Prediction
from patchsmith.swebench_runner.ray_cluster import RaySettings, connect, current_node_name, docker_nodes
from patchsmith.swebench_runner.ray_driver import NodeCache, RayJob, drive, node_environment, node_settings
from patchsmith.swebench_runner.ray_progress import BoardDisplay


def _files_under(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def evaluate_on_node(instance: Instance, group: list[Instance], pins_actor, prediction: Prediction,
                     settings: EvalSettings, node_cache: NodeCache) -> dict:
    """One instance, on the node Ray chose: {status: graded|environment|error, message, node, files}.
    `group` is the dataset's instances of the same (repo, version): they decide the environment's
    commit; pins_actor is the run's ResolvedVersions (what each environment tag resolved to)."""
    from patchsmith.swebench_runner.evaluation import evaluate_instance
    from patchsmith.swebench_runner.sources import SourceIncomplete

    scratch = Path(tempfile.mkdtemp(prefix="patchsmith-ray-eval-"))
    local = node_settings(settings, scratch / settings.run_dir.name, node_cache)
    result = {"status": "graded", "message": "", "node": current_node_name(), "files": {}, "env_log": {}}
    try:
        spec, environment = node_environment(local, instance, group, local.run_dir / "env-logs", pins_actor)
        result["env_build"] = {"built_now": not environment.build.cached, "pulled": environment.build.pulled,
                               "seconds": round(environment.build.seconds, 3)}
        if not environment.build.built:
            result.update(status="environment", message=environment.build.error or "environment did not build")
        else:
            try:
                evaluate_instance(instance, prediction, spec, environment.build.image, environment.commit, local)
            except SourceIncomplete as exc:
                result.update(status="error", message=str(exc))
            except Exception as exc:  # noqa: BLE001 - as the local runner: one instance's failure is its outcome
                if getattr(exc, "user_error", False) and type(exc).__name__ in ("DockerUnavailable", "DiskFull"):
                    raise
                result.update(status="error", message=str(exc)[-2000:])
        result["files"] = _files_under(local.run_dir / prediction.model_folder / instance.instance_id)
        result["env_log"] = _files_under(local.run_dir / "env-logs") if (local.run_dir / "env-logs").is_dir() else {}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def write_result(run_dir: Path, prediction: Prediction, result: dict) -> None:
    """The task's files into the run folder; report.json last, atomically, with the node it ran on."""
    folder = run_dir / prediction.model_folder / prediction.instance_id
    if result["files"]:  # as the local runner: an instance whose environment failed has no folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "run_instance.log").unlink(missing_ok=True)
    for name, data in result["env_log"].items():
        (run_dir / "env-logs").mkdir(parents=True, exist_ok=True)
        (run_dir / "env-logs" / name).write_bytes(data)
    report_text = result["files"].pop("report.json", None)
    for name, data in result["files"].items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    if report_text is not None and result["status"] == "graded":
        report = json.loads(report_text)
        report[prediction.instance_id]["node"] = result["node"]
        report[prediction.instance_id]["environment_built_now"] = result.get("env_build", {}).get("built_now")
        report[prediction.instance_id]["environment_pulled"] = result.get("env_build", {}).get("pulled")
        run_records.write_atomically(folder / "report.json", json.dumps(report, indent=2))


def evaluate_on_ray(
    instances: list[Instance],
    predictions: dict[str, Prediction],
    settings: EvalSettings,
    ray_settings: RaySettings,
    node_cache: NodeCache,
    display: BoardDisplay | None = None,
    dataset: list[Instance] | None = None,
) -> dict:
    """As evaluation.evaluate, with each instance a Ray task; returns the run's summary. Progress
    goes to display (by default a live table when stdout is a terminal, else printed lines)."""
    display = display or BoardDisplay()
    # Paths travel to the nodes: absolute ones mean the same there.
    settings = replace(settings, run_dir=settings.run_dir.resolve(), repo_cache=settings.repo_cache.resolve())
    ray = connect(ray_settings)
    nodes = docker_nodes(ray, ray_settings)
    run_records.start_run(settings.run_dir, settings.settings_json)
    run_records.record_submissions(settings.run_dir, instances, predictions)
    state = RunState({}, {}, set(), threading.Lock())
    todo = [i for i in instances if i.instance_id in predictions and run_records.reusable_report(
        settings.run_dir, predictions[i.instance_id].model_folder, i.instance_id,
        run_records.patch_digest(predictions[i.instance_id].model_patch)) is None]
    skipped = sum(1 for i in instances if i.instance_id in predictions) - len(todo)
    if skipped:
        display.message(f"{skipped} instance(s) already graded in this run; skipping them")

    def record(instance: Instance, result: dict) -> tuple[str, bool]:
        prediction = predictions[instance.instance_id]
        write_result(settings.run_dir, prediction, result)
        if result["status"] == "graded":
            state.graded.add(instance.instance_id)
            report = json.loads((settings.run_dir / prediction.model_folder / instance.instance_id / "report.json").read_text())
            verdict = "resolved" if report[instance.instance_id]["resolved"] else "unresolved"
        elif result["status"] == "environment":
            state.env_failures[instance.instance_id] = result["message"]
            verdict = f"environment failed: {result['message'][-200:]}"
        else:
            state.errors[instance.instance_id] = result["message"]
            verdict = f"error: {result['message'].strip()[:300]}"
        # After every instance, as the local runner's records would be at its end: a driver
        # killed now loses nothing already graded.
        run_records.record_failures(settings.run_dir, state.env_failures, state.errors, state.graded)
        return verdict, result["status"] != "graded"

    def lost(why: str) -> dict:
        return {"status": "error", "message": f"the Ray task failed: {why}", "node": "?", "files": {}, "env_log": {}}

    job = RayJob(task=evaluate_on_node, arguments=lambda i: (predictions[i.instance_id], settings, node_cache),
                 record=record, lost=lost)
    drive(ray, nodes, todo, dataset or instances, job, ray_settings, node_cache, display)
    run_records.record_failures(settings.run_dir, state.env_failures, state.errors, state.graded)
    return run_records.write_summary(settings.run_dir)
