"""Scale-out: `swebench eval` measured locally and on a local Ray cluster, and a discrete-event
simulation of it on K nodes x C cores, driven by the step times that real runs recorded and
checked against the runs measured here.

    python bench/scale_out.py --repo-cache MIRRORS [--reports DIR ...] [--measure 12] [--modes local1 local2 ray2x1] [--seed 20]

Measured (--measure N, --modes): N SWE-bench Lite instances whose environment and instance images
exist are evaluated with their gold patches by `patchsmith swebench eval`, once per mode, in the
order given: `local1` and `local2` are the local runner with --workers 1 and 2 (1 node x 1 core,
1 node x 2 cores); `ray2x1` is `--ray ADDRESS` on a local Ray cluster of a head node (no CPU, no
Docker) and 2 worker nodes of 1 CPU each, started before the timed runs and stopped after; its
nodes share this machine's Docker engine, cache root and mirrors (one machine: warm images mean
warm on both). Each wall time is the whole command, start-up included, and is appended to
OUT/walls.jsonl, so runs made by several invocations (chunks) on the same instances are reported
together: the target ratio is the mean `ray2x1` wall over the mean `local2` wall (goal <= 1.15).

What drives it (nothing is made up; what is missing is drawn from what was measured):
- per instance, the seconds of each evaluation step from its report.json (`step_seconds`):
  instance image, container start, copy-in, patches, tests, grading. Every report.json under
  --reports and under the measured runs counts; an instance of the workload without one gets
  the steps of a measured instance of the same repository (else of any), drawn with --seed;
- per environment, its build seconds from the build records under the cache
  (swebench/env-builds.json), the median when it was built more than once; an environment
  never built here gets a build time drawn from those records.

The model of contention, stated so the check below can refute it:
- a node runs at most C instances at once, one per core; a step takes the time it was measured
  to take on this machine with nothing else of ours running (one worker);
- disk and memory are not separate resources: their contention shows only as far as the
  measured step times already hold it;
- an environment is built once per node that needs it, by the first instance there that needs
  it, on that instance's core; the node's other instances of that environment wait for it
  (the build lock); an instance image is built by its instance (cold) or found (warm).

Placement:
- affinity: what the driver does, with its own code (ray_cluster.place_groups and
  ray_queues.NodeQueues): the instances of one environment are a group; groups go to nodes
  largest first, each to the node with the fewest instances per core so far; a node that runs
  out of work takes an instance from the node with the most left (of an environment it already
  runs first), building that environment too;
- random: each instance goes to a node drawn at random (what placement without affinity gives).

Checked against measurement: every measured mode's mean wall is compared with the simulation of
the same instances on its nodes x cores, from the latest `local1` run's own step times (steps as
one worker takes them, the model's premise). The Lite prediction (300 instances) for 8 nodes x 16 cores is printed for warm
images (environment and instance images present on every node) and cold ones (none present),
with the environment builds summed over nodes.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LITE = ROOT.parent / "shared" / "data" / "swebench_lite_test.jsonl"
WARM_STEPS = ("start", "copy_in", "patches", "install", "disconnect", "test_patch", "tests", "grade", "prepare")


@dataclass(frozen=True)
class Task:
    instance_id: str
    env: str  # the (repo, version) key
    image_seconds: float  # building the instance image (cold)
    run_seconds: float  # everything after the instance image (warm and cold)


def read_reports(folders: list[Path]) -> dict[str, dict]:
    """instance id -> its report entry (the last one found), from every report.json under folders."""
    found: dict[str, dict] = {}
    for folder in folders:
        for path in sorted(folder.rglob("report.json")):
            try:
                report = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            for instance_id, entry in report.items():
                if isinstance(entry, dict) and isinstance(entry.get("step_seconds"), dict):
                    found[instance_id] = entry
    return found


def task_of(instance_id: str, env: str, entry: dict, warm_image_seconds: float) -> Task:
    steps = entry["step_seconds"]
    run = sum(float(steps.get(name, 0.0)) for name in WARM_STEPS)
    image = float(steps.get("instance_image", 0.0)) if entry.get("instance_image_built") else warm_image_seconds
    return Task(instance_id, env, image, run)


def env_key(row: dict) -> str:
    return f"{row['repo'].replace('/', '__')}-{row['version']}"


def build_seconds(records_path: Path) -> dict[str, float]:
    """environment key -> median build seconds of its successful builds on this machine."""
    try:
        records = json.loads(records_path.read_text())
    except (OSError, ValueError):
        return {}
    times: dict[str, list[float]] = defaultdict(list)
    for record in records.values():
        if record.get("built") and not record.get("cached") and record.get("seconds", 0) > 0:
            times[record["key"]].append(float(record["seconds"]))
    return {key: statistics.median(values) for key, values in times.items()}


def workload(rows: list[dict], reports: dict[str, dict], builds: dict[str, float], rng: random.Random
             ) -> tuple[list[Task], dict[str, float], int, int]:
    """The tasks of rows and each environment's build seconds; also how many tasks and builds
    came from real measurements (the rest are drawn from those)."""
    warm_images = [float(e["step_seconds"].get("instance_image", 0.0)) for e in reports.values() if not e.get("instance_image_built")]
    warm_image = statistics.median(warm_images) if warm_images else 0.0
    by_repo: dict[str, list[dict]] = defaultdict(list)
    for instance_id, entry in sorted(reports.items()):
        by_repo[instance_id.rsplit("-", 1)[0]].append(entry)
    measured_entries = [entry for _, entry in sorted(reports.items())]
    tasks, real_tasks = [], 0
    for row in rows:
        entry = reports.get(row["instance_id"])
        if entry is not None:
            real_tasks += 1
        else:
            pool = by_repo.get(row["instance_id"].rsplit("-", 1)[0]) or measured_entries
            entry = rng.choice(pool)
        tasks.append(task_of(row["instance_id"], env_key(row), entry, warm_image))
    env_build, real_builds = {}, 0
    measured_builds = sorted(builds.values())
    for env in sorted({t.env for t in tasks}):
        if env in builds:
            env_build[env], real_builds = builds[env], real_builds + 1
        else:
            env_build[env] = rng.choice(measured_builds) if measured_builds else 0.0
    return tasks, env_build, real_tasks, real_builds


def simulate(tasks: list[Task], env_build: dict[str, float], nodes: int, cores: int, cold: bool,
             placement: str, rng: random.Random) -> tuple[float, int]:
    """(wall seconds, environment builds summed over nodes) of running tasks on nodes x cores."""
    def work(task: Task) -> float:
        return task.run_seconds + (task.image_seconds if cold else 0.0)

    if placement == "affinity":  # the driver's own placement and per-node queues
        from patchsmith.swebench_runner.ray_cluster import Node, place_groups
        from patchsmith.swebench_runner.ray_queues import NodeQueues

        groups: dict[str, list[Task]] = defaultdict(list)
        for task in tasks:
            groups[task.env].append(task)
        cluster = [Node(str(n), float(cores), str(n)) for n in range(nodes)]
        plan = NodeQueues(dict(groups), place_groups({env: len(group) for env, group in groups.items()}, cluster),
                          {node.node_id: cores for node in cluster})

        def next_task(node: int) -> Task | None:
            picked = plan.next_for(str(node))
            return picked[1] if picked else None

        def work_left() -> bool:
            return any(plan.queues.values())
    else:
        queues: list[list[Task]] = [[] for _ in range(nodes)]
        for task in tasks:
            queues[rng.randrange(nodes)].append(task)

        def next_task(node: int) -> Task | None:
            queue = queues[node] or max(queues, key=len)  # an idle node takes from the busiest
            return queue.pop(0) if queue else None

        def work_left() -> bool:
            return any(queues)
    built: dict[tuple[int, str], float] = {}  # (node, env) -> time its build is done
    builds = 0
    free = [(0.0, node, core) for node in range(nodes) for core in range(cores)]
    heapq.heapify(free)
    wall = 0.0
    while True:
        now, node, core = heapq.heappop(free)
        task = next_task(node)
        if task is None:
            if not free or not work_left():  # nothing left anywhere
                break
            heapq.heappush(free, (now + 1.0, node, core))  # idle a second, then ask again
            continue
        start = now
        if cold:
            done = built.get((node, task.env))
            if done is None:
                builds += 1
                done = start + env_build[task.env]
                built[(node, task.env)] = done
            start = max(start, done)
        finish = start + work(task)
        wall = max(wall, finish)
        heapq.heappush(free, (finish, node, core))
    return wall, builds


def warm_instances(dataset_path: Path, repo_cache: Path, cache: Path, count: int, rng: random.Random) -> list[str]:
    """count Lite instances whose environment image and instance image both exist (drawn with rng
    from those that do, so the choice does not depend on how they run)."""
    from patchsmith.sandbox import image_exists
    from patchsmith.swebench_runner.dataset import load_instances
    from patchsmith.swebench_runner.environments import environment_for
    from patchsmith.swebench_runner.instances import instance_image_tag
    from patchsmith.swebench_runner.specs import spec_for

    dataset = load_instances(dataset_path)
    ready = []
    for instance in dataset:
        try:
            environment = environment_for(spec_for(instance.repo, instance.version), dataset, repo_cache, cache,
                                          cache / "scale-out-logs", build=False)
        except Exception:  # noqa: BLE001 - no mirror or no spec: not a candidate
            continue
        if environment.build.built and image_exists(instance_image_tag(instance, environment.build.image)):
            ready.append(instance.instance_id)
    rng.shuffle(ready)
    return sorted(ready[:count])


MODES = {"local1": (1, 1), "local2": (1, 2), "ray2x1": (2, 1)}  # mode -> (nodes, cores)


@contextlib.contextmanager
def ray_cluster(repo_cache: Path):
    """A head node (no CPU, no Docker) and two 1-CPU worker nodes that share this machine's
    engine, cache root and mirrors (tests/ray_nodes.py's cluster, its nodes given no dockerd of
    their own); yields the head's address."""
    sys.path.insert(0, str(ROOT / "tests"))
    from ray_nodes import LocalCluster

    from patchsmith.paths import cache_root

    shared = {"PATCHSMITH_CACHE_DIR": str(cache_root()), "PATCHSMITH_REPO_CACHE": str(repo_cache.resolve())}
    with LocalCluster(mirror_of=None, base_tarball=None, prefix="ray20b-bench-") as cluster:
        for name in ("ray20b-a", "ray20b-b"):
            cluster.add_node(name, cpus=1, docker=False, extra_env=shared)
        cluster.wait_for_nodes("ray20b-a", "ray20b-b")
        yield cluster.address


def measure(ids: list[str], mode: str, dataset: Path, repo_cache: Path, out: Path, ray_address: str | None) -> dict:
    """One timed `swebench eval` of ids with gold patches in mode; its record."""
    run_id = f"scale-out-{mode}-{int(time.time())}"
    extra = ["--workers", "2" if mode == "local2" else "1"] if ray_address is None else ["--ray", ray_address]
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "patchsmith.cli", "swebench", "eval", "--dataset", str(dataset), "--repo-cache",
                    str(repo_cache), "--predictions", "gold", "--run-id", run_id, "--out", str(out), *extra,
                    "--instances", *ids], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "RAY_AUTH_MODE": "disabled"})  # as the cluster's nodes (tests/ray_nodes.py)
    return {"ids": ids, "mode": mode, "wall": round(time.monotonic() - started, 1), "run": str(out / run_id)}


def report_measured(records: list[dict], rows: list[dict], builds: dict[str, float], seed: int) -> Path | None:
    """Print the measured walls, the target ratio and each mode's check against the simulation;
    returns the run folder whose step times the checks used (the latest local1 run)."""
    walls: dict[str, list[float]] = defaultdict(list)
    for record in records:
        walls[record["mode"]].append(record["wall"])
    print("  measured, in order: " + ", ".join(f"{r['mode']} {r['wall']:.1f} s" for r in records))
    mean = {mode: statistics.mean(values) for mode, values in walls.items()}
    if "ray2x1" in mean and "local2" in mean:
        ratio = mean["ray2x1"] / mean["local2"]
        print(f"  target: --ray on 2 nodes x 1 CPU / local --workers 2 = {mean['ray2x1']:.1f} s / {mean['local2']:.1f} s "
              f"= {ratio:.3f} (means of {len(walls['ray2x1'])} and {len(walls['local2'])} run(s); goal <= 1.15)")
    singles = [r for r in records if r["mode"] == "local1"]
    if not singles:
        print("  no local1 run: the simulation's checks need one worker's step times")
        return None
    run = Path(singles[-1]["run"])
    measured = read_reports([run])
    chosen = [row for row in rows if row["instance_id"] in measured]
    tasks, env_build, _, _ = workload(chosen, measured, builds, random.Random(seed))
    for mode in (m for m in MODES if m in mean):
        nodes, cores = MODES[mode]
        predicted, _ = simulate(tasks, env_build, nodes, cores, cold=False, placement="affinity", rng=random.Random(seed))
        print(f"  {nodes} node(s) x {cores} core(s) ({mode}): measured {mean[mode]:7.1f} s, predicted {predicted:7.1f} s "
              f"(predicted/measured {predicted / mean[mode]:.2f}; the measured wall includes the command's start-up)")
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=LITE)
    parser.add_argument("--repo-cache", type=Path, required=True)
    parser.add_argument("--reports", type=Path, nargs="*", default=[], help="folders whose report.json files drive the workload")
    parser.add_argument("--measure", type=int, default=12, help="instances evaluated per measured mode (0: none)")
    parser.add_argument("--modes", nargs="*", choices=sorted(MODES), default=["local1", "local2", "ray2x1"],
                        help="measured runs, in this order (a mode may repeat)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/patchsmith-scale-out"))
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--cores", type=int, default=16)
    args = parser.parse_args()
    from patchsmith.paths import cache_root

    rng = random.Random(args.seed)
    rows = [json.loads(line) for line in args.dataset.read_text().splitlines() if line.strip()]
    builds = build_seconds(cache_root() / "swebench" / "env-builds.json")
    folders = list(args.reports)
    if args.measure:
        ids = warm_instances(args.dataset, args.repo_cache, cache_root(), args.measure, random.Random(args.seed))
        print(f"measured: {len(ids)} warm Lite instance(s): {' '.join(ids)}")
        args.out.mkdir(parents=True, exist_ok=True)
        log = args.out / "walls.jsonl"
        with contextlib.ExitStack() as stack:
            address = stack.enter_context(ray_cluster(args.repo_cache)) if "ray2x1" in args.modes else None
            for mode in args.modes:
                record = measure(ids, mode, args.dataset, args.repo_cache, args.out, address if mode == "ray2x1" else None)
                with log.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
        records = [r for r in map(json.loads, log.read_text().splitlines()) if r["ids"] == ids]
        run_1 = report_measured(records, rows, builds, args.seed)
        if run_1 is not None:
            folders.append(run_1)
    reports = read_reports(folders)
    if not reports:
        print("\nno report.json under --reports or the local1 run: no Lite prediction")
        return 0
    tasks, env_build, real_tasks, real_builds = workload(rows, reports, builds, rng)
    print(f"\nLite workload: {len(tasks)} instances over {len(env_build)} environments; steps from {real_tasks} "
          f"instance(s) with their own report.json (the rest drawn per repository from {len(reports)} report(s)); "
          f"builds from {real_builds} environment(s) built here (the rest drawn from {len(builds)})")
    for nodes, cores in ((args.nodes, args.cores), (1, 2), (2, 1)):
        for placement in ("affinity", "random"):
            warm, _ = simulate(tasks, env_build, nodes, cores, cold=False, placement=placement, rng=random.Random(args.seed))
            cold, cold_builds = simulate(tasks, env_build, nodes, cores, cold=True, placement=placement, rng=random.Random(args.seed))
            print(f"  predicted {nodes:2d} x {cores:2d} {placement:8s}: warm {warm / 60:6.1f} min, cold {cold / 60:6.1f} min, "
                  f"environment builds {cold_builds} ({cold_builds / len(env_build):.2f} x {len(env_build)} distinct)")
    print("goals for 8 x 16: warm <= 10 min, cold <= 60 min, builds <= 1.2 x distinct environments")
    return 0


if __name__ == "__main__":
    sys.exit(main())
