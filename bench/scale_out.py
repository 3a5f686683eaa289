"""Scale-out: `swebench eval` measured locally and on a local Ray cluster, and a discrete-event
simulation of it on K nodes x C cores, driven by the step times that real runs recorded and
checked against the runs measured here.

    python bench/scale_out.py --repo-cache MIRRORS [--reports DIR ...] [--measure 12] [--modes local1 local2 ray2x1] [--seed 20]

Measured (--measure N, --modes): N SWE-bench Lite instances whose environment and instance images
exist are evaluated with their gold patches by `patchsmith swebench eval`, once per mode, in the
order given: `local1` and `local2` are the local runner with --workers 1 and 2 (1 node x 1 and
x 2 slots); `ray2x1` is `--ray ADDRESS` on a local Ray cluster of a head node (no CPU, no Docker)
and 2 worker nodes of 1 CPU each, started before the timed runs; its nodes share this machine's
cores, Docker engine, cache root and mirrors. Each run's wall (the whole command) and span (its
first line, printed once the run is set up, to its last instance's line) go to OUT/walls.jsonl,
so runs of several invocations on the same instances are reported together. The target ratio is
the mean `ray2x1` wall over the mean `local2` wall (goal <= 1.15).

What drives the simulation (nothing made up; what is missing is drawn from what was measured):
per instance, the seconds of each step from its report.json (`step_seconds`; every report.json
under --reports and the latest local1 run; an instance without one gets the steps of a measured
instance of its repository, else of any, drawn with --seed); per environment, its build seconds
from the build records under the cache (swebench/env-builds.json; the median; one never built
here gets one drawn from those).

The model of contention (the simulation advances every running step at its rate until the next
one ends):
- a node runs at most `slots` instances at once; nodes live on hosts (one host per node, except
  for the measured ray2x1, whose two nodes are this one machine);
- core-bound steps (tests, grading, installs, image builds) share their host's cores: with n of
  them running, each advances at min(1, (C - overhead) / n) of the speed it had with one worker,
  where C is the host's cores and `overhead` the cores' worth the Docker engine, the driver and
  Ray take. overhead is the one fitted parameter: calibrated (bisection) on one measured mode's
  mean span (--calibrate-on, local2) and checked, not refitted, on the others;
- engine-bound steps (container start, copies, patches) share their host's one Docker engine and
  disk: with m of them running, each advances at 1/m;
- each instance also spends the seconds per instance that the local1 run spent outside its
  recorded steps (its span less its steps' sum, over its instances: measured, not fitted);
- cold: an environment is built once per node that needs it, by the first instance there, as a
  core-bound step; the node's other instances of it wait; an instance image is built by its
  instance.

Schedules: local (what the local runner does: one environment at a time, the next once all of
the current one are done; measured modes local1 and local2); affinity (the Ray driver's own code,
ray_cluster.place_groups and ray_queues.NodeQueues: environments placed on nodes largest first, a
node out of work taking from the busiest); random (each instance on a node drawn at random). The
Lite prediction (300 instances) for 8 nodes x 16 cores is printed for warm images (environment
and instance images on every node) and cold ones, with the environment builds summed over nodes.
"""

from __future__ import annotations

import argparse
import contextlib
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
CORES = os.cpu_count() or 1  # this machine's, where the step times were measured
# Steps the Docker engine and its disk serve (container start, copies, patches); the rest
# (tests, grading, installs, image builds) run on the node's cores.
ENGINE_STEPS = ("start", "copy_in", "patches", "disconnect", "prepare")
CORE_STEPS = ("install", "test_patch", "tests", "grade")


@dataclass(frozen=True)
class Task:
    instance_id: str
    env: str  # the (repo, version) key
    image_seconds: float  # building the instance image (cold), on the cores
    engine_seconds: float  # the engine's steps, one worker running
    core_seconds: float  # the cores' steps, one worker running


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
    image = float(steps.get("instance_image", 0.0)) if entry.get("instance_image_built") else warm_image_seconds
    return Task(instance_id, env, image, sum(float(steps.get(name, 0.0)) for name in ENGINE_STEPS),
                sum(float(steps.get(name, 0.0)) for name in CORE_STEPS))


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


@dataclass(frozen=True)
class Machine:
    """Where the simulated nodes run: nodes x slots (instances at once per node); hosts of
    host_cores cores each, nodes_per_host nodes to a host (2 on this machine for ray2x1)."""
    nodes: int
    slots: int
    host_cores: int
    nodes_per_host: int = 1


def core_rate(running: int, cores: int, overhead: float) -> float:
    """How fast each of `running` core-bound steps on a host advances (1: as fast as one worker's
    measured step): the host's cores less the overhead, shared equally, at most one core each."""
    return min(1.0, (cores - overhead) / running) if running else 1.0


def placement_of(tasks: list[Task], machine: Machine, placement: str, rng: random.Random):
    """next_task(node) -> Task | None: what a node with a free slot runs next, and whether tasks
    are left. affinity: the Ray driver's own placement and queues; random: a node drawn per
    instance, an idle node taking from the busiest; local: the local runner's order (one
    environment at a time, the next only when all of the current one are done)."""
    if placement == "affinity":
        from patchsmith.swebench_runner.ray_cluster import Node, place_groups
        from patchsmith.swebench_runner.ray_queues import NodeQueues

        groups: dict[str, list[Task]] = defaultdict(list)
        for task in tasks:
            groups[task.env].append(task)
        cluster = [Node(str(n), float(machine.slots), str(n)) for n in range(machine.nodes)]
        plan = NodeQueues(dict(groups), place_groups({env: len(group) for env, group in groups.items()}, cluster),
                          {node.node_id: machine.slots for node in cluster})

        def next_task(node: int, busy: set[str]) -> Task | None:
            picked = plan.next_for(str(node))
            return picked[1] if picked else None
        return next_task, lambda: any(plan.queues.values())
    if placement == "local":
        first = {}
        for index, task in enumerate(tasks):
            first.setdefault(task.env, index)
        waiting = sorted(tasks, key=lambda task: first[task.env])  # the runner's groups, in the order they first appear

        def next_task(node: int, busy: set[str]) -> Task | None:
            if waiting and (not busy or waiting[0].env in busy):
                return waiting.pop(0)
            return None
        return next_task, lambda: bool(waiting)
    queues: list[list[Task]] = [[] for _ in range(machine.nodes)]
    for task in tasks:
        queues[rng.randrange(machine.nodes)].append(task)

    def next_task(node: int, busy: set[str]) -> Task | None:
        queue = queues[node] or max(queues, key=len)
        return queue.pop(0) if queue else None
    return next_task, lambda: any(queues)


def simulate(tasks: list[Task], env_build: dict[str, float], machine: Machine, cold: bool, placement: str,
             rng: random.Random, overhead: float, unrecorded: float = 0.0) -> tuple[float, int]:
    """(wall seconds, environment builds summed over nodes) of tasks on machine, under the
    contention model (module docstring); unrecorded: each instance's seconds outside its recorded
    steps (the runner's own work), run on the cores."""
    next_task, work_left = placement_of(tasks, machine, placement, rng)
    slots = [{"node": n, "phases": [], "env": None} for n in range(machine.nodes) for _ in range(machine.slots)]
    built: dict[tuple[int, str], bool] = {}  # (node, env) -> done (False: being built)
    now, builds = 0.0, 0
    while True:
        for slot in (s for s in slots if not s["phases"]):  # a free slot asks for work
            busy = {s["env"] for s in slots if s["node"] == slot["node"] and s["phases"]}
            task = next_task(slot["node"], busy)
            if task is None:
                slot["env"] = None
                continue
            phases = [["engine", task.engine_seconds], ["cores", task.core_seconds + unrecorded]]
            if cold:
                phases.insert(0, ["cores", task.image_seconds])
                if (slot["node"], task.env) not in built:  # the first instance there builds it; the others wait
                    builds += 1
                    built[(slot["node"], task.env)] = False
                    phases.insert(0, ["build", env_build[task.env], (slot["node"], task.env)])
                elif not built[(slot["node"], task.env)]:
                    phases.insert(0, ["wait", 0.0, (slot["node"], task.env)])
            slot.update(phases=phases, env=task.env)
        active = [s for s in slots if s["phases"]]
        if not active:
            if work_left():
                raise RuntimeError("tasks are left but no node takes one")
            return now, builds
        kinds = defaultdict(int)  # (host, kind of the step running) -> how many
        for slot in active:
            kinds[(slot["node"] // machine.nodes_per_host, slot["phases"][0][0])] += 1
        rates = {}
        for slot in active:
            kind, host = slot["phases"][0][0], slot["node"] // machine.nodes_per_host
            if kind == "wait":  # for the node's build of its environment
                rates[id(slot)] = 1.0 if built[slot["phases"][0][2]] else 0.0
            elif kind == "engine":  # one engine per host serves its steps in turn
                rates[id(slot)] = 1.0 / kinds[(host, "engine")]
            else:
                rates[id(slot)] = core_rate(kinds[(host, "cores")] + kinds[(host, "build")], machine.host_cores, overhead)
        step = min(s["phases"][0][1] / rates[id(s)] for s in active if rates[id(s)] > 0)
        now += step
        for slot in active:
            phase = slot["phases"][0]
            phase[1] -= step * rates[id(slot)]
            if phase[1] <= 1e-9 and rates[id(slot)] > 0:
                if phase[0] == "build":
                    built[phase[2]] = True
                slot["phases"].pop(0)


def calibrate(tasks: list[Task], env_build: dict[str, float], machine: Machine, placement: str, measured: float,
              seed: int, unrecorded: float) -> float:
    """The overhead (cores' worth of the engine, the driver and Ray per host, between none and all
    but one core) at which the simulation of machine takes the measured seconds (bisection: more
    overhead, a longer wall)."""
    low, high = 0.0, machine.host_cores - 1.0
    for _ in range(40):
        middle = (low + high) / 2
        wall, _ = simulate(tasks, env_build, machine, False, placement, random.Random(seed), middle, unrecorded)
        low, high = (middle, high) if wall < measured else (low, middle)
    return (low + high) / 2


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


# mode -> (the machine it measures, the schedule it runs). ray2x1's two nodes share this one host.
MODES = {"local1": (Machine(1, 1, CORES), "local"), "local2": (Machine(1, 2, CORES), "local"),
         "ray2x1": (Machine(2, 1, CORES, nodes_per_host=2), "affinity")}


@contextlib.contextmanager
def ray_cluster(repo_cache: Path):
    """A head node (no CPU, no Docker) and two 1-CPU worker nodes that share this machine's
    engine, cache root and mirrors (tests/ray_nodes.py's cluster, its nodes given no dockerd of
    their own); yields the head's address."""
    sys.path.insert(0, str(ROOT / "tests"))
    from ray_nodes import LocalCluster

    from patchsmith.paths import cache_root

    shared = {"PATCHSMITH_CACHE_DIR": str(cache_root()), "PATCHSMITH_REPO_CACHE": str(repo_cache.resolve())}
    with LocalCluster(mirror_of=None, base_tarball=None, prefix="ray20c-bench-") as cluster:
        for name in ("ray20c-a", "ray20c-b"):
            cluster.add_node(name, cpus=1, docker=False, extra_env=shared)
        cluster.wait_for_nodes("ray20c-a", "ray20c-b")
        yield cluster.address


def measure(ids: list[str], mode: str, dataset: Path, repo_cache: Path, out: Path, ray_address: str | None) -> dict:
    """One timed `swebench eval` of ids with gold patches in mode; its record: the whole command's
    wall, and its span, from its first line (printed once the run is set up: an environment found,
    or placed) to its last instance's line."""
    run_id = f"scale-out-{mode}-{int(time.time())}"
    extra = ["--workers", "2" if mode == "local2" else "1"] if ray_address is None else ["--ray", ray_address]
    started, first, last = time.monotonic(), None, None
    with subprocess.Popen([sys.executable, "-m", "patchsmith.cli", "swebench", "eval", "--dataset", str(dataset),
                           "--repo-cache", str(repo_cache), "--predictions", "gold", "--run-id", run_id, "--out", str(out),
                           *extra, "--instances", *ids], stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "RAY_AUTH_MODE": "disabled"}) as command:  # as tests/ray_nodes.py's nodes
        for line in command.stdout:
            first = first or time.monotonic()
            last = time.monotonic() if line.startswith("[") else last
    if command.returncode or first is None or last is None:
        raise SystemExit(f"the {mode} run {run_id} failed (exit {command.returncode})")
    return {"ids": ids, "mode": mode, "wall": round(time.monotonic() - started, 1), "span": round(last - first, 1),
            "run": str(out / run_id)}


def report_measured(records: list[dict], rows: list[dict], builds: dict[str, float], seed: int, calibrate_on: str
                    ) -> tuple[Path, float, float] | None:
    """Print the measured walls, the target ratio and the contention model: its overhead
    calibrated on one mode's mean span, checked on the others'; returns the run folder whose
    step times the model used (the latest local1 run), the overhead and the unrecorded seconds."""
    by_mode: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_mode[record["mode"]].append(record)
    print("  measured, in order (wall; span from the first line to the last instance's): "
          + ", ".join(f"{r['mode']} {r['wall']:.1f} s; {r['span']:.1f} s" for r in records))
    wall = {mode: statistics.mean(r["wall"] for r in runs) for mode, runs in by_mode.items()}
    span = {mode: statistics.mean(r["span"] for r in runs) for mode, runs in by_mode.items()}
    if "ray2x1" in wall and "local2" in wall:
        print(f"  target: --ray on 2 nodes x 1 CPU / local --workers 2 = {wall['ray2x1']:.1f} s / {wall['local2']:.1f} s "
              f"= {wall['ray2x1'] / wall['local2']:.3f} (mean walls of {len(by_mode['ray2x1'])} and "
              f"{len(by_mode['local2'])} run(s); goal <= 1.15)")
    if "local1" not in by_mode or calibrate_on not in by_mode:
        print(f"  no local1 or {calibrate_on} run: the contention model needs one worker's step times and a run to calibrate on")
        return None
    run = Path(by_mode["local1"][-1]["run"])
    measured = read_reports([run])
    chosen = [row for row in rows if row["instance_id"] in measured]
    tasks, env_build, _, _ = workload(chosen, measured, builds, random.Random(seed))
    # What one worker spends per instance outside the recorded steps, measured, not fitted.
    unrecorded = max(0.0, (by_mode["local1"][-1]["span"] - sum(t.engine_seconds + t.core_seconds for t in tasks)) / len(tasks))
    machine, placement = MODES[calibrate_on]
    overhead = calibrate(tasks, env_build, machine, placement, span[calibrate_on], seed, unrecorded)
    print(f"  contention model: steps from the latest local1 run ({len(tasks)} instance(s)), {unrecorded:.2f} s per instance "
          f"outside its recorded steps (measured there); overhead {overhead:.2f} core(s) per host, calibrated on "
          f"{calibrate_on}'s mean span")
    for mode in (m for m in MODES if m in span):
        machine, placement = MODES[mode]
        predicted, _ = simulate(tasks, env_build, machine, False, placement, random.Random(seed), overhead, unrecorded)
        role = "calibrated on" if mode == calibrate_on else "its own steps" if mode == "local1" else "checked"
        print(f"  {machine.nodes} node(s) x {machine.slots} slot(s) on one {machine.host_cores}-core host ({mode}, {role}): "
              f"measured span {span[mode]:7.1f} s, predicted {predicted:7.1f} s (predicted/measured {predicted / span[mode]:.2f})")
    return run, overhead, unrecorded


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
    parser.add_argument("--calibrate-on", choices=("local2", "ray2x1"), default="local2",
                        help="the measured mode whose span fixes the contention model's overhead")
    parser.add_argument("--overhead", type=float, default=None,
                        help="the model's overhead (cores per host) when nothing is measured to calibrate it on")
    args = parser.parse_args()
    from patchsmith.paths import cache_root

    rng = random.Random(args.seed)
    rows = [json.loads(line) for line in args.dataset.read_text().splitlines() if line.strip()]
    builds = build_seconds(cache_root() / "swebench" / "env-builds.json")
    folders, overhead, unrecorded = list(args.reports), args.overhead, 0.0
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
        records = [r for r in map(json.loads, log.read_text().splitlines()) if r["ids"] == ids and "span" in r]
        calibrated = report_measured(records, rows, builds, args.seed, args.calibrate_on)
        if calibrated is not None:
            folders.append(calibrated[0])
            overhead = calibrated[1] if args.overhead is None else args.overhead
            unrecorded = calibrated[2]
    if overhead is None:
        print("\nno overhead measured or given (--overhead): the prediction takes none (no contention beyond the cores)")
        overhead = 0.0
    reports = read_reports(folders)
    if not reports:
        print("\nno report.json under --reports or the local1 run: no Lite prediction")
        return 0
    tasks, env_build, real_tasks, real_builds = workload(rows, reports, builds, rng)
    print(f"\nLite workload: {len(tasks)} instances over {len(env_build)} environments; steps from {real_tasks} "
          f"instance(s) with their own report.json (the rest drawn per repository from {len(reports)} report(s)); "
          f"builds from {real_builds} environment(s) built here (the rest drawn from {len(builds)})")
    print(f"contention model: overhead {overhead:.2f} core(s) per node, {unrecorded:.2f} s per instance outside its "
          f"steps; each node its own host of its cores")
    for nodes, cores in ((args.nodes, args.cores), (1, 2), (2, 1)):
        machine = Machine(nodes, cores, cores)
        for placement in ("affinity", "random"):
            warm, _ = simulate(tasks, env_build, machine, False, placement, random.Random(args.seed), overhead, unrecorded)
            cold, cold_builds = simulate(tasks, env_build, machine, True, placement, random.Random(args.seed), overhead,
                                         unrecorded)
            print(f"  predicted {nodes:2d} x {cores:2d} {placement:8s}: warm {warm / 60:6.1f} min, cold {cold / 60:6.1f} min, "
                  f"environment builds {cold_builds} ({cold_builds / len(env_build):.2f} x {len(env_build)} distinct)")
    print("goals for 8 x 16: warm <= 10 min, cold <= 60 min, builds <= 1.2 x distinct environments")
    return 0


if __name__ == "__main__":
    sys.exit(main())
