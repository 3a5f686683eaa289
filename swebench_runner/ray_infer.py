"""`patchsmith swebench infer --ray`: one Ray task per instance; predictions and run folders
written by the driver.

The task builds or finds the environment with its node's engine and caches, then solves the
instance exactly as the local runner does (inference.solve_instance, with a solver the task makes
from the driver's factory: patchsmith's pipeline, handed in by the command), in a scratch folder
of the node's, and returns the patch, the cost and the run folder's files. The driver appends the
prediction line and writes the run folder, so `--run-id` resumes as it does locally. The model's
key reaches the workers only as a variable of the job's Ray runtime environment, never a file.
`--max-total-cost` is kept at the driver: tasks are handed out only as fast as the cluster runs
them, and none is handed out once the run has spent its cap.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from patchsmith.swebench_runner import run_records
from patchsmith.swebench_runner.dataset import Instance
from patchsmith.swebench_runner.inference import (
    RETRIED_OUTCOMES,
    InferSettings,
    Solver,
    _fresh_run_folder,
    already_predicted,
    append_prediction,
    cut_torn_line,
    solve_instance,
)
from patchsmith.swebench_runner.ray_cluster import RaySettings, connect, current_node_name, docker_nodes
from patchsmith.swebench_runner.ray_driver import NodeCache, RayJob, drive, node_environment, node_settings
from patchsmith.swebench_runner.ray_progress import BoardDisplay


def model_key_variables(named: str | None) -> dict[str, str]:
    """The variables that may hold the model's key: the one --api-key-env names, and every *_API_KEY."""
    return {name: value for name, value in os.environ.items() if name == named or name.endswith("_API_KEY")}


def solve_on_node(instance: Instance, group: list[Instance], pins_actor, settings: InferSettings,
                  make_solver: Callable[[], Solver], node_cache: NodeCache) -> dict:
    """One instance on the node Ray chose: {outcome, patch, cost, node, files of its run folder}."""
    scratch = Path(tempfile.mkdtemp(prefix="patchsmith-ray-infer-"))
    local = node_settings(settings, scratch, node_cache)
    result = {"outcome": "env_build_failed", "patch": "", "cost": 0.0, "node": current_node_name(), "files": {}}
    try:
        spec, environment = node_environment(local, instance, group, scratch / "env-logs", pins_actor)
        if environment.build.built:
            out_dir = scratch / "run"
            result["patch"], result["cost"], result["outcome"] = solve_instance(
                make_solver(), instance, spec, environment.build.image, environment.commit, local, out_dir)
            result["files"] = {str(p.relative_to(out_dir)): p.read_bytes() for p in sorted(out_dir.rglob("*")) if p.is_file()}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def infer_on_ray(
    instances: list[Instance],
    settings: InferSettings,
    make_solver: Callable[[], Solver],
    ray_settings: RaySettings,
    key_env: str | None,
    node_cache: NodeCache,
    display: BoardDisplay | None = None,
    dataset: list[Instance] | None = None,
) -> dict:
    """As inference.infer, with each instance a Ray task that solves it with make_solver()'s solver
    (a picklable factory: the solver itself holds a model gateway); key_env names the variable
    that holds the model's key; returns the summary. Progress goes to display (by default a live
    table when stdout is a terminal, else printed lines)."""
    display = display or BoardDisplay()
    settings = replace(settings, run_dir=settings.run_dir.resolve(), repo_cache=settings.repo_cache.resolve())
    ray = connect(ray_settings, env_vars=model_key_variables(key_env))
    nodes = docker_nodes(ray, ray_settings)
    run_records.start_run(settings.run_dir, settings.settings_json)
    if cut_torn_line(settings.predictions_path):
        display.message(f"cut a torn last line off {settings.predictions_path} (a killed run's)")
    done = already_predicted(settings.predictions_path)
    todo = [i for i in instances if i.instance_id not in done]
    if len(todo) < len(instances):
        display.message(f"{len(instances) - len(todo)} instance(s) already have predictions in this run; skipping them")
    spent, outcomes = [0.0], {}

    def start(instance: Instance) -> bool:
        # Each node is handed only as many tasks as it runs at once, so the cap is checked before each.
        if settings.max_total_cost is not None and spent[0] >= settings.max_total_cost:
            outcomes[instance.instance_id] = "not started: total cost cap reached"
            return False
        return True

    def record(instance: Instance, result: dict) -> tuple[str, bool]:
        spent[0] += result["cost"]
        outcomes[instance.instance_id] = result["outcome"]
        if result["files"]:
            out_dir = _fresh_run_folder(settings.run_dir / "runs" / instance.instance_id)
            for name, data in result["files"].items():
                (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
                (out_dir / name).write_bytes(data)
        if result["outcome"] not in RETRIED_OUTCOMES:
            append_prediction(settings.predictions_path, {"instance_id": instance.instance_id,
                                                          "model_name_or_path": settings.model_name,
                                                          "model_patch": result["patch"]})
        return result["outcome"], result["outcome"] in RETRIED_OUTCOMES

    def lost(why: str) -> dict:  # retried on a rerun, as an environment that failed
        return {"outcome": "env_build_failed", "patch": "", "cost": 0.0, "node": "?", "files": {}, "error": why}

    job = RayJob(task=solve_on_node, arguments=lambda i: (settings, make_solver, node_cache), record=record, lost=lost,
                 start=start)
    drive(ray, nodes, todo, dataset or instances, job, ray_settings, node_cache, display)
    summary = {
        "total": len(instances),
        "predicted": len(already_predicted(settings.predictions_path)),
        "with_patch": sorted(i for i, o in outcomes.items() if o == "patch"),
        "outcomes": outcomes,
        "cost_usd": round(spent[0], 6),
        "predictions": str(settings.predictions_path),
    }
    (settings.run_dir / "infer-summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary
