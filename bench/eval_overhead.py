"""Overhead of SWE-bench evaluation over the bare test command.

For each instance whose environment image already exists (or is built first, with --build),
the gold prediction is evaluated through swebench_runner twice. The first evaluation builds the
instance image (the environment image with /testbed moved to the base commit and installed
there, as the official harness's instance images); the second starts from it, as every later
evaluation of the instance does (a fresh container, gold and test patches applied, tests run,
log parsed, graded, report written). Then, in that container, the same test command is run bare
with `docker exec` from the docker CLI. The figure is evaluation time / bare test time with the
instance image present, median over the instances; the first evaluation's ratio is printed too.
Target: at most 1.5. Environment build times are printed too (from the build records).

    python bench/eval_overhead.py --repo-cache /work/repo-cache [--dataset FILE] [--instances IDS] [--limit N] [--build]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from patchsmith.paths import cache_root  # noqa: E402
from patchsmith.swebench_runner.dataset import load_instances  # noqa: E402
from patchsmith.swebench_runner.environments import BuildRecords, environment_for  # noqa: E402
from patchsmith.swebench_runner.evaluation import EvalSettings, evaluate_instance  # noqa: E402
from patchsmith.swebench_runner.instances import instance_image_tag  # noqa: E402
from patchsmith.swebench_runner.predictions import load_predictions  # noqa: E402
from patchsmith.swebench_runner.specs import spec_for  # noqa: E402

TARGET = 1.5


def main() -> int:
    default_dataset = Path(__file__).resolve().parents[2] / "shared" / "data" / "swebench_lite_test.jsonl"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=default_dataset)
    parser.add_argument("--repo-cache", type=Path, required=True)
    parser.add_argument("--instances", help="instance ids (commas); default: every instance whose image exists")
    parser.add_argument("--limit", type=int, default=12, help="at most this many instances (spread over environments)")
    parser.add_argument("--build", action="store_true", help="build missing environment images first")
    args = parser.parse_args()

    everything = load_instances(args.dataset)
    chosen = everything
    if args.instances:
        wanted = set(args.instances.replace(",", " ").split())
        chosen = [i for i in everything if i.instance_id in wanted]
    images: dict[tuple[str, str], tuple[str, str, float]] = {}
    for key in dict.fromkeys((i.repo, i.version) for i in chosen):
        environment = environment_for(spec_for(*key), everything, args.repo_cache, cache_root(),
                                      Path(tempfile.mkdtemp()) / "logs", build=args.build)
        build = environment.build
        if build.built:
            images[key] = (build.image, environment.commit, build.seconds)
    # Round-robin over environments, so that one repository does not fill the sample.
    queues = {key: [i for i in chosen if (i.repo, i.version) == key] for key in images}
    sample = []
    while len(sample) < args.limit and any(queues.values()):
        for key in list(queues):
            if queues[key] and len(sample) < args.limit:
                sample.append(queues[key].pop(0))
    if not sample:
        print("no instance has an environment image; build some with `patchsmith swebench envs` or pass --build")
        return 1

    run_dir = Path(tempfile.mkdtemp(prefix="eval-overhead-"))
    rows = []
    print(f"{'instance':<40} {'first s':>8} {'image s':>8} {'eval s':>8} {'bare s':>8} {'ratio':>6} {'first':>6}  resolved")
    for instance in sample:
        key = (instance.repo, instance.version)
        bare: dict[str, float] = {}

        def time_bare(container, test_command: str) -> None:
            # The baseline: the same command in the same container, straight from the docker CLI.
            started = time.monotonic()
            subprocess.run(["docker", "exec", "-w", "/testbed", container.id, "bash", "-c", test_command],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            bare["seconds"] = time.monotonic() - started

        # First without the instance image (the evaluation builds it), then with it, as every
        # later evaluation of the instance runs.
        subprocess.run(["docker", "rmi", "-f", instance_image_tag(instance, images[key][0])], capture_output=True)
        prediction = load_predictions("gold", [instance])[instance.instance_id]
        reports = []
        for round_ in ("first", "again"):
            settings = EvalSettings(run_dir=run_dir / round_, repo_cache=args.repo_cache, cache_dir=cache_root(), timeout=1800)
            reports.append(evaluate_instance(instance, prediction, spec_for(*key), images[key][0], images[key][1], settings,
                                             after_tests=time_bare if round_ == "again" else None)[instance.instance_id])
        first, report = reports
        if "seconds" not in bare:
            print(f"{instance.instance_id:<40} patch did not apply; skipped")
            continue
        ratio = report["eval_seconds"] / bare["seconds"]
        first_ratio = first["eval_seconds"] / bare["seconds"]
        image_s = first["step_seconds"].get("instance_image", 0.0)
        rows.append((instance.instance_id, report["eval_seconds"], bare["seconds"], ratio, first_ratio))
        print(f"{instance.instance_id:<40} {first['eval_seconds']:>8.2f} {image_s:>8.2f} {report['eval_seconds']:>8.2f} "
              f"{bare['seconds']:>8.2f} {ratio:>6.2f} {first_ratio:>6.2f}  {report['resolved']}")
    median = statistics.median(r[3] for r in rows)
    print(f"\nmedian evaluation time / bare test time over {len(rows)} instances: {median:.2f} "
          f"(target <= {TARGET}; instance image present; baseline = bare `docker exec` of the test command, same container, same run)")
    print(f"median evaluation time {statistics.median(r[1] for r in rows):.2f}s, median bare test time {statistics.median(r[2] for r in rows):.2f}s")
    print(f"first evaluation of each instance (builds its instance image): median ratio {statistics.median(r[4] for r in rows):.2f}")
    records = BuildRecords(cache_root() / "swebench" / "env-builds.json").read()
    print("\nenvironment build times (recorded when each image was built):")
    for key, (image, _, seconds) in images.items():
        recorded = records.get(image, {}).get("seconds", seconds)
        print(f"  {key[0]} {key[1]}: {recorded:.0f}s" if recorded else f"  {key[0]} {key[1]}: not recorded")
    return 0 if median <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
