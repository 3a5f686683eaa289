"""The Ray side of scale-out: joining a cluster, checking its nodes, placing environments.

A node that can run instances advertises a custom resource (RaySettings.resource, "docker" by
default: "this node has a Docker engine"). Every instance is one Ray task that asks for a little of
it, plus the CPUs and memory one instance needs; Ray does the scheduling. The driver only says
where each environment's instances should preferably go (soft node affinity), so that an
environment image is built on as few nodes as possible.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from patchsmith.swebench_runner.errors import SwebenchError
from patchsmith.swebench_runner.settings import RaySettings, ray_endpoint

INSTALL_HINT = "Ray is not installed; install it with `pip install 'patchsmith[ray]'`."
# How much of the node resource one task asks for: the resource says "has a Docker engine", the
# CPU and memory requests decide how many instances a node runs at once.
_RESOURCE_SHARE = 0.001


def ray_module():
    """The ray package, or SwebenchError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise SwebenchError(INSTALL_HINT) from None
    return ray


def patchsmith_version() -> str:
    """This process's patchsmith release, as its installed metadata gives it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("patchsmith")
    except PackageNotFoundError:  # a source tree on sys.path, not installed: no release to compare
        return "unknown"


def _node_version() -> tuple[str, str]:
    import ray

    return ray.get_runtime_context().get_node_id(), patchsmith_version()


def connect(settings: RaySettings, env_vars: dict[str, str] | None = None):
    """Join (or start) the cluster; env_vars reach every worker of this job through Ray's runtime
    environment (model keys), never through a file. Returns the ray module."""
    ray = ray_module()
    if not ray.is_initialized():
        runtime_env = {"env_vars": dict(env_vars)} if env_vars else None
        kwargs = {"runtime_env": runtime_env, "log_to_driver": False, "configure_logging": False,
                  "logging_level": logging.WARNING}
        if settings.local:  # this machine is the one node with Docker
            kwargs["resources"] = {settings.resource: float(os.cpu_count() or 1)}
        else:
            _check_answers(settings.address)
        try:
            ray.init(address=None if settings.local else settings.address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SwebenchError(f"Cannot join the Ray cluster at {settings.address}: {str(exc).splitlines()[0]}") from None
    return ray


def _check_answers(address: str) -> None:
    """A HOST:PORT (or ray://HOST:PORT) where nothing listens is refused at once: ray.init would
    otherwise retry for minutes, printing a warning every few seconds."""
    import socket

    endpoint = ray_endpoint(address)  # the settings tree has checked its form
    if endpoint is None:  # auto: Ray finds a cluster started on this machine itself
        return
    try:
        socket.create_connection(endpoint, timeout=10).close()
    except OSError as exc:
        raise SwebenchError(f"Cannot join the Ray cluster at {address}: nothing answers at {endpoint[0]}:{endpoint[1]} "
                            f"({exc.strerror or exc}).") from None


@dataclass(frozen=True)
class Node:
    node_id: str
    cpus: float
    name: str  # what a report records: the node's name, else its id


def docker_nodes(ray, settings: RaySettings) -> list[Node]:
    """The alive nodes that advertise the resource, each checked to run the driver's patchsmith."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [Node(n["NodeID"], n["Resources"].get("CPU", 0.0), n.get("NodeName") or n["NodeID"])
             for n in ray.nodes() if n.get("Alive") and n["Resources"].get(settings.resource, 0) > 0]
    if not nodes:
        raise SwebenchError(f"No node of the Ray cluster advertises the resource {settings.resource!r}; start each "
                            f"node with `ray start ... --resources '{{\"{settings.resource}\": 1}}'`.")
    probe = ray.remote(_node_version)
    refs = [probe.options(num_cpus=0, resources={settings.resource: _RESOURCE_SHARE}, max_retries=0,
                          scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False)).remote()
            for node in nodes]
    ours = patchsmith_version()
    for node, ref in zip(nodes, refs):
        try:
            _, theirs = ray.get(ref, timeout=120)
        except Exception as exc:  # noqa: BLE001 - any failure means the node cannot run our tasks
            raise SwebenchError(f"Ray node {node.name} cannot run patchsmith: {str(exc).strip().splitlines()[-1][:200]}") from None
        if theirs != ours:
            raise SwebenchError(f"Ray node {node.name} runs patchsmith {theirs}, the driver {ours}; "
                                f"install the same release on every node.")
    return nodes


def environment_groups(todo: list, everything: list) -> dict[str, tuple[list, list]]:
    """Instances to run by environment ("repo@version"): (those to run, the dataset's instances of
    that version, which decide the environment's commit on the node)."""
    groups: dict[str, tuple[list, list]] = {}
    for instance in todo:
        key = f"{instance.repo}@{instance.version}"
        if key not in groups:
            groups[key] = ([], [i for i in everything if (i.repo, i.version) == (instance.repo, instance.version)])
        groups[key][0].append(instance)
    return groups


def place_groups(sizes: dict[str, int], nodes: list[Node]) -> dict[str, Node]:
    """Each environment (by its key, with its number of instances) on one node: the largest first,
    each onto the node with the least work per CPU so far."""
    load = {node.node_id: 0.0 for node in nodes}
    placed = {}
    for key in sorted(sizes, key=lambda k: (-sizes[k], k)):
        node = min(nodes, key=lambda n: (load[n.node_id] / max(n.cpus, 1.0), n.node_id))
        load[node.node_id] += sizes[key]
        placed[key] = node
    return placed


def task_options(settings: RaySettings, node: Node | None) -> dict:
    """Ray options of one instance's task: its resources, retries, and its environment's node."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    options = {"num_cpus": settings.cpus_per_instance, "memory": int(settings.memory_gb_per_instance * 2**30),
               "resources": {settings.resource: _RESOURCE_SHARE}, "max_retries": settings.max_retries}
    if node is not None:
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
            node.node_id, soft=True, _spill_on_unavailable=settings.spill_when_busy)
    return options


def current_node_name() -> str:
    """The name of the node this task runs on (its id when it has none)."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    for node in ray.nodes():
        if node["NodeID"] == node_id:
            return node.get("NodeName") or node_id
    return node_id


class ResolvedVersions:
    """A Ray actor at the driver's job: the record of what each environment tag resolved to
    (swebench_runner.resolved), seeded from the driver's earlier runs; the first claim of a tag holds."""

    def __init__(self, known: dict[str, str]):
        self.known = dict(known)

    def get(self, tag: str) -> str | None:
        return self.known.get(tag)

    def claim(self, tag: str, freeze: str) -> str:
        return self.known.setdefault(tag, freeze)

    def records(self) -> dict[str, str]:
        return dict(self.known)


def resolved_versions(ray, known: dict[str, str]):
    """The run's ResolvedVersions actor (it needs no CPU: it only answers).

    It lives on the driver's own node: on a Docker node that dies mid-run it would come back with
    only the seed, forgetting the claims made so far, and the driver's call for its records would
    fail while it restarts (ActorUnavailableError). Calls made while it restarts anyway are retried."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
    return ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, scheduling_strategy=here)(
        ResolvedVersions).remote(known)


@dataclass(frozen=True)
class ClusterPins:
    """resolved.Pins on a node: the driver's ResolvedVersions actor asked through Ray."""

    actor: object

    def get(self, tag: str) -> str | None:
        import ray

        return ray.get(self.actor.get.remote(tag))

    def claim(self, tag: str, freeze: str) -> str:
        import ray

        return ray.get(self.actor.claim.remote(tag, freeze))
