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
from patchsmith.swebench_runner.ray_cluster import (
    ClusterPins,
    RaySettings,
    connect,
    current_node_name,
    docker_nodes,
    environment_groups,
    place_groups,
    resolved_versions,
    task_options,
)
from patchsmith.swebench_runner.ray_eval import (
    REPO_CACHE_VARIABLE,
    NodeCache,
    node_plan,
    pin_store,
)


def model_key_variables(named: str | None) -> dict[str, str]:
    """The variables that may hold the model's key: the one --api-key-env names, and every *_API_KEY."""
    return {name: value for name, value in os.environ.items() if name == named or name.endswith("_API_KEY")}


def solve_on_node(instance: Instance, group: list[Instance], settings: InferSettings, make_solver: Callable[[], Solver],
                  node_cache: NodeCache, pins_actor=None) -> dict:
    """One instance on the node Ray chose: {outcome, patch, cost, node, files of its run folder}."""
    from patchsmith.sandbox import registry
    from patchsmith.swebench_runner.environments import environment_for
    from patchsmith.swebench_runner.inferred import spec_or_inferred

    registry.configure(settings.image_registry)
    scratch = Path(tempfile.mkdtemp(prefix="patchsmith-ray-infer-"))
    local = replace(settings, run_dir=scratch, cache_dir=node_cache(),
                    repo_cache=Path(os.environ.get(REPO_CACHE_VARIABLE) or settings.repo_cache))
    result = {"outcome": "env_build_failed", "patch": "", "cost": 0.0, "node": current_node_name(), "files": {}}
    try:
        spec = spec_or_inferred(local, instance.repo, instance.version, group)
        environment = environment_for(spec, group, local.repo_cache, local.cache_dir, scratch / "env-logs",
                                      pins=ClusterPins(pins_actor) if pins_actor is not None else None)
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
    progress: Callable[[str], None] = print,
    dataset: list[Instance] | None = None,
) -> dict:
    """As inference.infer, with each instance a Ray task that solves it with make_solver()'s solver
    (a picklable factory: the solver itself holds a model gateway); key_env names the variable
    that holds the model's key; returns the summary."""
    settings = replace(settings, run_dir=settings.run_dir.resolve(), repo_cache=settings.repo_cache.resolve())
    ray = connect(ray_settings, env_vars=model_key_variables(key_env))
    nodes = docker_nodes(ray, ray_settings)
    run_records.start_run(settings.run_dir, settings.settings_json)
    if cut_torn_line(settings.predictions_path):
        progress(f"cut a torn last line off {settings.predictions_path} (a killed run's)")
    done = already_predicted(settings.predictions_path)
    todo = [i for i in instances if i.instance_id not in done]
    if len(todo) < len(instances):
        progress(f"{len(instances) - len(todo)} instance(s) already have predictions in this run; skipping them")
    groups = environment_groups(todo, dataset or instances)
    placed = place_groups({key: len(group) for key, (group, _) in groups.items()}, nodes)
    store = pin_store(node_cache)
    pins = resolved_versions(ray, store.read())
    # Each node is handed as many tasks as it runs at once: the cost cap is checked before each.
    queues, board = node_plan(groups, placed, nodes, ray_settings)
    by_id = {node.node_id: node for node in nodes}
    remote = ray.remote(solve_on_node)
    pending, spent, outcomes = {}, 0.0, {}

    def hand_out() -> None:
        while handed := queues.take():  # past the cap each slot is freed again at once: all are marked
            for node_id, key, instance in handed:
                if settings.max_total_cost is not None and spent >= settings.max_total_cost:
                    outcomes[instance.instance_id] = "not started: total cost cap reached"
                    queues.release(node_id)
                    continue
                pending[remote.options(**task_options(ray_settings, by_id[node_id])).remote(
                    instance, groups[key][1], settings, make_solver, node_cache, pins)] = instance, node_id

    hand_out()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        instance, handed_to = pending.pop(ready[0])
        queues.release(handed_to)
        try:
            result = ray.get(ready[0])
        except Exception as exc:  # noqa: BLE001 - a task that failed for good is this instance's outcome, retried on a rerun
            result = {"outcome": "env_build_failed", "patch": "", "cost": 0.0, "node": "?", "files": {},
                      "error": str(exc).strip().splitlines()[-1][:300]}
        store.write(ray.get(pins.records.remote()))
        spent += result["cost"]
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
        progress(f"{instance.instance_id} on {result['node']}: {result['outcome']}")
        board.finished(result["node"], failed=result["outcome"] in RETRIED_OUTCOMES)
        progress(board.line(queues))
        hand_out()
    summary = {
        "total": len(instances),
        "predicted": len(already_predicted(settings.predictions_path)),
        "with_patch": sorted(i for i, o in outcomes.items() if o == "patch"),
        "outcomes": outcomes,
        "cost_usd": round(spent, 6),
        "predictions": str(settings.predictions_path),
    }
    (settings.run_dir / "infer-summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary
