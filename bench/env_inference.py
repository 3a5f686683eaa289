"""Specs off: do inferred environments grade SWE-bench Lite as the hand-written specs do?

For a sample of Lite instances, the install part of each hand-written spec (Python, packages,
pins, setup commands, shims) is replaced by inference (swebench_runner/inferred.py); the
harness part stays (test command, log parser, test-id form, test directives) and so do the
per-repository resources no inference could know (printed below). Two inferences run on the
same instances in the same run:
  dated   the package world of the version's environment commit (sandbox.infer_recipe)
  legacy  the inference before dates: today's releases, root files only (the baseline)

An instance agrees when its environment builds, every FAIL_TO_PASS test fails with the empty
patch, and every FAIL_TO_PASS and PASS_TO_PASS test passes with the gold patch. A build failure
is a disagreement.

The sample: --count instances (default 60) drawn per repository in proportion to its share of
the 300 (largest remainders), with SEED below, fixed before any result was seen; they run in
an order shuffled with the same seed, so a run cut short by --time-limit is itself a random
subsample. State (one JSON line per instance and inference) lives in --state and a rerun
resumes from it.

    python bench/env_inference.py --repo-cache /work/mirrors --state DIR [--time-limit 3600] [--remove-images]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

SEED = 13
MODES = ("dated", "legacy")
# ../shared/data next to the checkout (the main tree), or next to the folder of work trees.
_CANDIDATES = [Path(__file__).resolve().parents[n].parent / "shared" / "data" / "swebench_lite_test.jsonl" for n in (1, 2)]
DEFAULT_DATASET = next((p for p in _CANDIDATES if p.is_file()), _CANDIDATES[0])


def sample(instances: list, count: int, seed: int = SEED) -> list:
    """count instances, each repository's share proportional to its share of instances."""
    by_repo: dict[str, list] = {}
    for instance in sorted(instances, key=lambda i: i.instance_id):
        by_repo.setdefault(instance.repo, []).append(instance)
    exact = {repo: count * len(group) / len(instances) for repo, group in by_repo.items()}
    shares = {repo: int(value) for repo, value in exact.items()}
    for repo in sorted(exact, key=lambda r: (-(exact[r] - shares[r]), r))[: count - sum(shares.values())]:
        shares[repo] += 1
    rng = random.Random(seed)
    chosen = [i for repo in sorted(by_repo) for i in rng.sample(by_repo[repo], shares[repo])]
    rng.shuffle(chosen)
    return chosen


def staying_resources() -> list[str]:
    from patchsmith.swebench_runner.inferred import local_internet_servers
    from patchsmith.swebench_runner.specs import spec_for

    lines = []
    for repo, version in (("psf/requests", "2.3"), ("matplotlib/matplotlib", "3.5")):
        spec = spec_for(repo, version)
        if spec.local_internet:
            lines.append(f"{repo}: its local internet (swebench_runner/local_internet.py {' '.join(spec.local_internet)}), "
                         f"with {', '.join(local_internet_servers(spec))} and {', '.join(spec.system_packages)}")
        for vendored in spec.vendored_sources:
            lines.append(f"{repo}: {vendored.repo} at {vendored.ref} into {vendored.path}, with {', '.join(spec.system_packages)}")
        for line in spec.pre_install if spec.vendored_sources else ():
            lines.append(f"{repo}: before the install, {line} (its other download, from a host beyond the registries)")
    return lines


def judge(instance, gold: dict | None, empty: dict | None) -> tuple[bool, str]:
    if gold is None or empty is None:
        return False, "not graded"
    failing_after = [t for part in ("FAIL_TO_PASS", "PASS_TO_PASS") for t in gold.get("tests_status", {}).get(part, {}).get("failure", [])]
    passing_before = empty.get("tests_status", {}).get("FAIL_TO_PASS", {}).get("success", [])
    if not gold.get("tests_status"):
        return False, "gold: no tests graded"
    if failing_after:
        return False, f"gold: {len(failing_after)} test(s) fail, e.g. {failing_after[0][:80]}"
    if passing_before:
        return False, f"empty: FAIL_TO_PASS passes, e.g. {passing_before[0][:80]}"
    return True, ""


def code_version() -> str:
    """The commit of the checkout that produces the rows ("+dirty" with uncommitted changes), so a
    resumed state tells which code produced which row."""
    here = Path(__file__).resolve().parents[1]
    if (here / ".code_version").is_file():  # a frozen copy of a commit (no git there)
        return (here / ".code_version").read_text().strip()
    head = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    return (head or "unknown") + ("+dirty" if dirty else "")


def run_one(instance, mode: str, dataset: list, args, state: Path) -> dict:
    from patchsmith.paths import cache_root
    from patchsmith.swebench_runner.environments import environment_for
    from patchsmith.swebench_runner.evaluation import EvalSettings, evaluate_instance
    from patchsmith.swebench_runner.inferred import inferred_spec
    from patchsmith.swebench_runner.predictions import load_predictions
    from patchsmith.swebench_runner.specs import spec_for

    row = {"instance_id": instance.instance_id, "mode": mode, "repo": instance.repo, "version": instance.version, "code": args.code}
    started = time.monotonic()
    harness = spec_for(instance.repo, instance.version)
    spec = inferred_spec(instance.repo, instance.version, dataset, args.repo_cache, mode=mode, harness=harness)
    row["python"] = spec.python
    environment = environment_for(spec, dataset, args.repo_cache, cache_root(), state / mode / "env-logs")
    if not environment.build.built and "Temporary failure in name resolution" in environment.build.error:
        time.sleep(30)  # the registry was unreachable: the machine's fault, not the inference's; once more
        environment = environment_for(spec, dataset, args.repo_cache, cache_root(), state / mode / "env-logs")
    build = environment.build
    row.update(image=build.image, build_seconds=round(build.seconds, 1), built_now=build.built and not build.cached)
    if not build.built:
        tail = [line for line in build.error.splitlines() if line.strip()]
        row.update(agree=False, cause="build failed: " + (tail[-1][:120] if tail else "unknown"))
        return row
    settings = EvalSettings(run_dir=state / mode, repo_cache=args.repo_cache, cache_dir=cache_root(), timeout=1800)
    reports = {}
    for kind in ("gold", "empty"):
        prediction = load_predictions(kind, [instance])[instance.instance_id]
        try:
            report = evaluate_instance(instance, prediction, spec, build.image, environment.commit, settings)
            reports[kind] = report[instance.instance_id]
        except Exception as exc:  # noqa: BLE001 - one instance's failure is its outcome
            reports[kind] = None
            row["error"] = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
    row["agree"], row["cause"] = judge(instance, reports.get("gold"), reports.get("empty"))
    if row.get("error") and not row["agree"]:
        row["cause"] = "error: " + row["error"]
    row["instance_image"] = (reports.get("gold") or {}).get("instance_image", "")
    row["seconds"] = round(time.monotonic() - started, 1)
    return row


def remove_images(rows: list[dict], keep_env: str = "") -> None:
    """Images this bench built: instance images always, environment images except keep_env."""
    for row in rows:
        tags = [row.get("instance_image")] + ([row.get("image")] if row.get("built_now") and row.get("image") != keep_env else [])
        for tag in filter(None, tags):
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def report(rows: list[dict], planned: int, chosen: list | None = None) -> str:
    lines = [f"sample: {planned} Lite instances, seed {SEED}, proportional to each repository's share"]
    by_mode = {mode: {r["instance_id"]: r for r in rows if r["mode"] == mode} for mode in MODES}
    both = sorted(set(by_mode[MODES[0]]) & set(by_mode[MODES[1]]))
    lines.append(f"instances both modes finished: {len(both)}; there " + ", ".join(
        f"{mode} agree {sum(by_mode[mode][i]['agree'] for i in both)}/{len(both)}" for mode in MODES))
    for mode in MODES if chosen else ():
        missing = Counter(i.repo for i in chosen if i.instance_id not in by_mode[mode])
        if missing:
            lines.append(f"not run yet ({mode}): {sum(missing.values())}: " + ", ".join(f"{repo} {n}" for repo, n in sorted(missing.items())))
    for mode in MODES:
        mine = [r for r in rows if r["mode"] == mode]
        agree = sum(r["agree"] for r in mine)
        share = f"{agree / len(mine):.2f}" if mine else "n/a"
        # one figure per environment image; an image built by an earlier run carries the build time
        # recorded then, so a resumed or cached run still reports what a build costs
        built = {r["image"]: r for r in mine if r.get("build_seconds") and not r["cause"].startswith("build failed")}
        builds = [r["build_seconds"] for r in built.values()]
        # by image, not by the row kept: the first instance of a version builds it, the later ones find it
        now = len({r["image"] for r in mine if r.get("built_now") and r["image"] in built})
        median = (f"{statistics.median(builds):.0f} s over {len(builds)} image(s), {now} built in this run, "
                  "the others' times recorded at their build") if builds else "no image built"
        lines.append(f"{mode:7s} agree {agree}/{len(mine)} = {share}; median environment build {median}")
        causes = Counter(re.sub(r"\d+", "N", r["cause"].split(" e.g.")[0]).rstrip(",") for r in mine if not r["agree"])
        for cause, n in causes.most_common(5):
            lines.append(f"          {n} x {cause}")
    for mode in MODES:
        made_by = Counter(r.get("code", "unstamped") for r in rows if r["mode"] == mode)
        if made_by:  # rows made before the stamp came from the code before it
            lines.append(f"{mode} rows by the commit that made them: " + ", ".join(f"{c} {n}" for c, n in sorted(made_by.items())))
    by_repo: dict[str, list[int]] = {}
    for r in rows:
        cell = by_repo.setdefault(r["repo"], [0, 0, 0, 0])
        index = MODES.index(r["mode"]) * 2
        cell[index] += r["agree"]
        cell[index + 1] += 1
    lines.append("per repository (dated, legacy): " + "; ".join(f"{repo} {c[0]}/{c[1]}, {c[2]}/{c[3]}" for repo, c in sorted(by_repo.items())))
    lines.append("resources that stay (no inference could know them):")
    lines += [f"  {line}" for line in staying_resources()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--repo-cache", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True, help="folder for results.jsonl and run folders; a rerun resumes")
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--time-limit", type=float, default=3600, help="seconds; no new instance starts after it")
    parser.add_argument("--remove-images", action="store_true", help="remove the images this bench built once an instance is done")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--modes", default=",".join(MODES), help="the inferences to run, comma-separated (the report covers every row)")
    parser.add_argument("--repos", default="", help="comma-separated repositories (owner/name) to run now, the others "
                                                     "later (the sample and its order stay)")
    parser.add_argument("--instances", default="", help="comma-separated instance ids of the sample to run now, the others "
                                                         "later (the sample and its order stay)")
    parser.add_argument("--rerun", default="", help="comma-separated instance ids whose rows are dropped and run again "
                                                     "(their old rows stay in results.jsonl.replaced)")
    parser.add_argument("--shard", default="0/1", help="K/N: run only the sampled instances whose position is K modulo N "
                                                      "(N processes share one --state; the report covers every row)")
    args = parser.parse_args(argv)

    from patchsmith.sandbox.engine import install_signal_handlers
    from patchsmith.swebench_runner.dataset import load_instances

    dataset = load_instances(args.dataset)
    chosen = sample(dataset, args.count)
    args.state.mkdir(parents=True, exist_ok=True)
    results = args.state / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()] if results.exists() else []
    modes = [m for m in args.modes.split(",") if m]
    if unknown := [m for m in modes if m not in MODES]:
        parser.error(f"unknown mode {unknown[0]!r}; the modes are {', '.join(MODES)}")
    again = {i for i in args.rerun.split(",") if i}
    if again and not args.report_only:
        replaced = [r for r in rows if r["instance_id"] in again and r["mode"] in modes]
        rows = [r for r in rows if r not in replaced]
        with (args.state / "results.jsonl.replaced").open("a") as handle:
            handle.writelines(json.dumps(r) + "\n" for r in replaced)
        results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args.code = code_version()
    done = {(r["instance_id"], r["mode"]) for r in rows}
    started = time.monotonic()
    install_signal_handlers()
    shard, shards = (int(part) for part in args.shard.split("/"))
    for position, instance in enumerate([] if args.report_only else chosen):
        if (position % shards != shard or (args.repos and instance.repo not in args.repos.split(","))
                or (args.instances and instance.instance_id not in args.instances.split(","))):
            continue
        for mode in modes:
            if (instance.instance_id, mode) in done:
                continue
            if time.monotonic() - started > args.time_limit:
                print(f"time limit reached after {len(rows)} result(s)", flush=True)
                print(report(rows, len(chosen), chosen))
                return 0
            row = run_one(instance, mode, dataset, args, args.state)
            rows.append(row)
            with results.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(f"[{len(rows)}/{2 * len(chosen)}] {instance.instance_id} {mode}: "
                  f"{'agree' if row['agree'] else 'DISAGREE: ' + row['cause']}", flush=True)
            if args.remove_images:
                remove_images([row])
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()] if results.exists() else rows
    print(report(rows, len(chosen), chosen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
