"""Scale-out, simulated: a discrete-event simulation of a Lite evaluation on K nodes x C cores,
driven by per-instance step times from real report.json files and environment build times from
the cache's env-builds.json. Every figure it prints is PREDICTED, none measured.

    python bench/scale_out.py --reports DIR [DIR ...] --dataset lite.jsonl [--builds env-builds.json]

Model of contention: a node runs at most C steps at once, each on one core (an environment
build, an instance-image build, one instance's tests); steps do not slow each other below that,
and disk and network are not modelled (a real node's builds share its disk, so cold figures are
optimistic). An environment is built once per node that runs one of its instances; instances of
that environment on the node wait for the build, each holding the core it was given (a node
runs its queue in order). Placement: "affinity" is
the driver's (swebench_runner.ray_cluster.place_groups: each environment on one node, largest
first, onto the node with the least work per core; a node runs its queue in order); "random" puts
each instance on a node drawn at random (seed 0). Warm: every image exists. Cold: none does.

Times per Lite instance: its own report when one was read, else the median of its repository's
reports, else of all reports. Builds: the recorded build of its (repo, version), else the median
of its repository's, else of all.

Not done: the check against measurement (part (a) of the target, 12 gold instances, local
--workers 2 against --ray on 2 nodes x 1 CPU) was not run, so the model is not validated.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

@dataclass(frozen=True)
class Work:
    instance_id: str
    env: str  # "repo@version"
    tests: float  # warm seconds: everything but the instance image
    instance_image: float  # seconds to build the instance image
    env_build: float  # seconds to build the environment image


def read_reports(folders: list[Path]) -> dict[str, dict]:
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("report.json")):
            try:
                for instance_id, report in json.loads(path.read_text()).items():
                    if isinstance(report, dict) and report.get("step_seconds"):
                        found[instance_id] = report
            except (OSError, ValueError):
                continue
    return found


def workload(dataset: Path, reports: dict[str, dict], builds: dict[str, dict]) -> list[Work]:
    rows = [json.loads(line) for line in dataset.read_text().splitlines() if line.strip()]
    by_repo: dict[str, list[dict]] = {}
    for instance_id, report in reports.items():
        by_repo.setdefault(instance_id.rsplit("-", 1)[0], []).append(report)
    build_of: dict[str, float] = {}  # "owner__name-version" -> seconds
    for tag, record in builds.items():
        if record.get("built") and record.get("seconds", 0) > 1:
            build_of[record["key"]] = max(build_of.get(record["key"], 0.0), record["seconds"])

    def warm(report: dict) -> float:
        return sum(v for k, v in report["step_seconds"].items() if k != "instance_image")

    def image(report: dict) -> float | None:
        return report["step_seconds"].get("instance_image") if report.get("instance_image_built") else None

    def median(values: list, fallback: list) -> float:
        values = [v for v in values if v is not None] or [v for v in fallback if v is not None]
        return statistics.median(values)

    everything = list(reports.values())
    work = []
    for row in rows:
        repo_key = row["instance_id"].rsplit("-", 1)[0]
        own = reports.get(row["instance_id"])
        same_repo = by_repo.get(repo_key, [])
        env_key = f"{repo_key}-{row['version']}"
        repo_builds = [s for k, s in build_of.items() if k.startswith(repo_key + "-")]
        work.append(Work(
            row["instance_id"], f"{row['repo']}@{row['version']}",
            warm(own) if own else median([warm(r) for r in same_repo], [warm(r) for r in everything]),
            (image(own) if own and image(own) else None) or median([image(r) for r in same_repo], [image(r) for r in everything]),
            build_of.get(env_key) or median(repo_builds, list(build_of.values())),
        ))
    return work


def place(work: list[Work], nodes: int, cores: int, affinity: bool) -> list[list[Work]]:
    """Each node's queue."""
    from patchsmith.swebench_runner.ray_cluster import Node, place_groups

    queues: list[list[Work]] = [[] for _ in range(nodes)]
    if affinity:
        sizes: dict[str, int] = {}
        for item in work:
            sizes[item.env] = sizes.get(item.env, 0) + 1
        ray_nodes = [Node(f"{n:04d}", float(cores), f"n{n}") for n in range(nodes)]
        placed = place_groups(sizes, ray_nodes)
        for item in work:
            queues[int(placed[item.env].node_id)].append(item)
    else:
        draw = random.Random(0)
        for item in work:
            queues[draw.randrange(nodes)].append(item)
    return queues


def simulate_node(queue: list[Work], cores: int, cold: bool) -> tuple[float, int]:
    """(the node's finishing time, environment builds) for its queue run in order on `cores` cores."""
    free_at = [0.0] * cores  # when each core is next free
    heapq.heapify(free_at)
    env_ready: dict[str, float] = {}
    finish = 0.0
    for item in queue:
        start = heapq.heappop(free_at)
        if cold and item.env not in env_ready:
            env_ready[item.env] = start + item.env_build  # the build holds this core
            heapq.heappush(free_at, env_ready[item.env])
            start = heapq.heappop(free_at)
        begin = max(start, env_ready.get(item.env, 0.0))
        end = begin + item.tests + (item.instance_image if cold else 0.0)
        heapq.heappush(free_at, end)
        finish = max(finish, end)
    return finish, len(env_ready)


def simulate(work: list[Work], nodes: int, cores: int, affinity: bool, cold: bool) -> tuple[float, int]:
    results = [simulate_node(queue, cores, cold) for queue in place(work, nodes, cores, affinity)]
    return max(r[0] for r in results), sum(r[1] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, nargs="+", required=True, help="folders searched for report.json files")
    parser.add_argument("--dataset", type=Path, required=True, help="the Lite test split (JSON Lines): the workload")
    parser.add_argument("--builds", type=Path, default=Path.home() / ".cache" / "patchsmith" / "swebench" / "env-builds.json")
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--cores", type=int, default=16)
    args = parser.parse_args()
    reports = read_reports(args.reports)
    builds = json.loads(args.builds.read_text()) if args.builds.is_file() else {}
    if not reports:
        print("no report.json with step_seconds under the given folders", file=sys.stderr)
        return 2
    work = workload(args.dataset, reports, builds)
    envs = len({item.env for item in work})
    print(f"driven by {len(reports)} real report(s) ({sum(1 for w in work if w.instance_id in reports)} of the "
          f"{len(work)} workload instances have their own) and {sum(1 for b in builds.values() if b.get('built'))} recorded "
          f"environment build(s); {envs} distinct environments")
    print("contention model: C steps at once per node, one core each; disk and network not modelled")
    print("check against measurement: NOT DONE (no measured 1x2 / 2x1 run); figures below are unvalidated")
    for nodes, cores in ((1, 2), (2, 1), (args.nodes, args.cores)):
        for affinity in (True, False):
            warm, _ = simulate(work, nodes, cores, affinity, cold=False)
            cold, built = simulate(work, nodes, cores, affinity, cold=True)
            print(f"predicted {nodes}x{cores} {'affinity' if affinity else 'random  '}: warm {warm / 60:7.1f} min, "
                  f"cold {cold / 60:7.1f} min, environment builds {built} ({built / envs:.2f} x distinct)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
