"""The Ray driver's loop, the same for `swebench eval --ray` and `swebench infer --ray`.

The driver groups the instances by environment, places each group on a node (ray_cluster), hands
each node as many tasks as it runs at once from its queue (ray_queues), and as each task comes
back has the command's job write what it returned, updates the board (ray_progress) and saves the
record of resolved versions. Only the driver writes, once per finished task, so a task that Ray
retried on another node after its node died is still written once. What differs between the
commands (the task, its arguments, what a result writes, whether to start an instance) is a RayJob.

On the node, both tasks begin alike: the driver's settings with the node's own paths, and the
environment image found or built with the node's engine (node_settings, node_environment).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from patchsmith.swebench_runner.dataset import Instance
from patchsmith.swebench_runner.ray_cluster import (
    ClusterPins,
    Node,
    RaySettings,
    environment_groups,
    place_groups,
    resolved_versions,
    task_options,
)
from patchsmith.swebench_runner.ray_progress import BoardDisplay, NodeBoard
from patchsmith.swebench_runner.ray_queues import NodeQueues
from patchsmith.swebench_runner.resolved import PinStore

# On a node, the folder of git mirrors when it is not where the driver's is.
REPO_CACHE_VARIABLE = "PATCHSMITH_REPO_CACHE"

# The node's cache root, worked out on the node (patchsmith.paths.cache_root, handed in by the
# command: this package does not import the package that imports it).
NodeCache = Callable[[], Path]


@dataclass(frozen=True)
class RayJob:
    """What one command does with Ray: the task per instance and what the driver does with it."""

    # Runs on a node as task(instance, the dataset's instances of its environment, the run's
    # ResolvedVersions actor, *arguments(instance)); returns a dict with at least "node".
    task: Callable[..., dict]
    arguments: Callable[[Instance], tuple]
    # Writes a returned result into the run folder; gives (the verdict its progress line shows, failed?).
    record: Callable[[Instance, dict], tuple[str, bool]]
    # The result of a task that failed for good (its retries spent), from the last line of Ray's error.
    lost: Callable[[str], dict]
    # Whether to start an instance now; a job that says no records why itself (infer's cost cap).
    start: Callable[[Instance], bool] = lambda instance: True


def node_plan(groups: dict, placed: dict, nodes: list[Node], ray_settings: RaySettings) -> tuple[NodeQueues, NodeBoard]:
    """The run's queues per node (each node handed as many tasks as it runs at once) and its board."""
    slots = {node.node_id: max(1, int(node.cpus // ray_settings.cpus_per_instance)) for node in nodes}
    queues = NodeQueues({key: group for key, (group, _) in groups.items()}, placed, slots)
    return queues, NodeBoard({node.node_id: node.name for node in nodes}, sum(len(group) for group, _ in groups.values()))


def pin_store(node_cache: NodeCache) -> PinStore:
    """The driver's record of resolved versions per environment tag, kept across its runs."""
    return PinStore(node_cache() / "swebench" / "resolved-versions.json")


def drive(ray, nodes: list[Node], todo: list[Instance], dataset: list[Instance], job: RayJob,
          ray_settings: RaySettings, node_cache: NodeCache, display: BoardDisplay) -> None:
    """Run every instance of todo as job's task on the cluster's nodes, until all are back."""
    groups = environment_groups(todo, dataset)
    placed = place_groups({key: len(group) for key, (group, _) in groups.items()}, nodes)
    for key, node in placed.items():
        display.message(f"environment {key}: {len(groups[key][0])} instance(s), preferably on node {node.name}")
    store = pin_store(node_cache)
    pins = resolved_versions(ray, store.read())
    queues, board = node_plan(groups, placed, nodes, ray_settings)
    by_id = {node.node_id: node for node in nodes}
    remote = ray.remote(job.task)
    pending = {}

    def hand_out() -> None:
        while handed := queues.take():  # a slot whose instance is not started is free again at once
            for node_id, key, instance in handed:
                if not job.start(instance):
                    queues.release(node_id)
                    board.not_started()
                    continue
                ref = remote.options(**task_options(ray_settings, by_id[node_id])).remote(
                    instance, groups[key][1], pins, *job.arguments(instance))
                pending[ref] = instance, node_id

    with display.showing(board, queues):
        hand_out()
        done = 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            instance, handed_to = pending.pop(ready[0])
            queues.release(handed_to)
            try:
                result = ray.get(ready[0])
            except Exception as exc:  # noqa: BLE001 - a task that failed for good is this instance's outcome
                result = job.lost(str(exc).strip().splitlines()[-1][:300])
            verdict, failed = job.record(instance, result)
            done += 1
            board.finished(result["node"], failed=failed)
            store.write(ray.get(pins.records.remote()))
            hand_out()  # after the record: the job may decide from it (the cost spent so far)
            # After the hand-out, so the board shows what runs now and leaves out what will not start.
            display.finished(f"[{done}/{len(todo)}] {instance.instance_id} on {result['node']}: {verdict}")


def node_settings(settings, run_dir: Path, node_cache: NodeCache):
    """The driver's settings as they hold on this node: its scratch run folder, its cache root and
    its mirrors; one instance at a time."""
    repo_cache = Path(os.environ.get(REPO_CACHE_VARIABLE) or settings.repo_cache)
    return replace(settings, run_dir=run_dir, repo_cache=repo_cache, cache_dir=node_cache(), workers=1)


def node_environment(local, instance: Instance, group: list[Instance], log_dir: Path, pins_actor):
    """(spec, environment) of the instance on this node: the image found, pulled or built with the
    node's engine, pinned to the versions the run's ResolvedVersions recorded for its tag."""
    from patchsmith.sandbox import registry
    from patchsmith.swebench_runner.environments import environment_for
    from patchsmith.swebench_runner.inferred import spec_or_inferred

    registry.configure(local.image_registry)
    spec = spec_or_inferred(local, instance.repo, instance.version, group)
    environment = environment_for(spec, group, local.repo_cache, local.cache_dir, log_dir,
                                  pins=ClusterPins(pins_actor) if pins_actor is not None else None)
    return spec, environment
