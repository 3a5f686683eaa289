"""Regression-test selection on SWE-bench Lite: does it keep the tests that guard the fix?

For the first N instances of the dataset, in file order, whose environment image builds: the
gold patch's files are the localization, the model's removal step is off, and the selection runs
the related test files at the base commit in the instance's environment container. Its figure:
of the instance's PASS_TO_PASS tests that live in the test files the selection ran, the share the
selection kept (target: at least 90% on every instance). Also printed: how many of the instance's
PASS_TO_PASS test files the selection found at all, and the time each selection took.

    python bench/regression_selection.py [--count 20] [--repo-cache /work/repo-cache]
        [--dataset ../shared/data/swebench_lite_test.jsonl] [--budget 120] [--max-files 10]

Environment images are those of `patchsmith swebench envs` (built here when missing). Results go
to bench/out/regression_selection.json as well.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from patchsmith.reproduce import RegressionSettings, select_regression_tests  # noqa: E402

DEFAULT_DATASET = ROOT.parent / "shared" / "data" / "swebench_lite_test.jsonl"
DEFAULT_REPO_CACHE = ROOT.parent / "repo-cache"


def index_at_base(instance, git_dir: Path, cache: Path):
    from patchsmith import repo_index

    return repo_index.build_index(git_dir, commit=instance.base_commit, cache_dir=cache / "index")


def test_file_of(test_id: str, repo: str, ran_files: list[str], defined: dict[str, set[str]]) -> str | None:
    """The test file a SWE-bench test id lives in, or None when the id does not say."""
    if repo == "django/django":
        # "test_name (module.Class)" -> tests/module.py (Python 3.11 adds ".test_name")
        if not test_id.endswith(")") or " (" not in test_id:
            return None
        dotted = test_id.rsplit(" (", 1)[1][:-1]
        name = test_id.split(" (", 1)[0]
        parts = dotted.split(".")
        if parts[-1] == name:
            parts = parts[:-1]
        return "tests/" + "/".join(parts[:-1]) + ".py" if len(parts) > 1 else None
    if repo == "sympy/sympy":
        # bare function names: the ran file that defines it
        owners = [path for path in ran_files if test_id in defined.get(path, set())]
        return owners[0] if owners else None
    return test_id.split("::", 1)[0] if "::" in test_id else None


def measure(instance, dataset: list, args, cache: Path, log_dir: Path) -> dict:
    from patchsmith.swebench_runner.environments import environment_for
    from patchsmith.swebench_runner.specs import patched_files, spec_for

    row: dict = {"instance_id": instance.instance_id, "repo": instance.repo, "version": instance.version}
    spec = spec_for(instance.repo, instance.version)
    environment = environment_for(spec, dataset, args.repo_cache, cache, log_dir, build=not args.no_build)
    env, env_commit, git_dir = environment.build, environment.commit, environment.git_dir
    row["env_image"], row["env_built"], row["env_seconds"] = env.image, env.built, round(env.seconds, 1)
    if not env.built:
        row["error"] = env.error.strip().splitlines()[-1][:300] if env.error.strip() else "not built"
        return row
    started = time.monotonic()
    index = index_at_base(instance, git_dir, cache)
    row["index_seconds"] = round(time.monotonic() - started, 2)
    gold_files = [path for path in patched_files(instance.patch) if path.endswith(".py")]
    row["gold_files"] = gold_files
    settings = RegressionSettings(budget_seconds=args.budget, max_files=args.max_files, ask_model=False)
    from patchsmith.swebench_runner.inference import InstanceWorkspace

    workspace = InstanceWorkspace(instance, spec, env.image, env_commit, args.repo_cache, cache)
    with workspace.start(log_dir) as box:
        runner = workspace.test_runner(box)
        started = time.monotonic()
        selection = select_regression_tests(index, gold_files, runner, settings=settings)
        row["selection_seconds"] = round(time.monotonic() - started, 2)
    ran = [path for path, _ in selection.file_seconds]
    left_out = set(selection.dropped_for_budget)
    defined = {path: {d.name for d in index.files[path].definitions} for path in ran if path in index.files}
    selected = set(selection.tests)
    in_ran, kept, unmapped = [], [], 0
    failing = set(selection.failing_at_base)
    why_missed: dict[str, str] = {}
    p2p_files: set[str] = set()
    for test in instance.pass_to_pass:
        owner = test_file_of(test, instance.repo, ran, defined)
        if owner is None:
            unmapped += 1
        else:
            p2p_files.add(owner)
        if owner in ran:
            in_ran.append(test)
            if test in selected:
                kept.append(test)
            elif test in failing:
                why_missed[test] = "not passing at base"
            elif owner in left_out:
                why_missed[test] = "its file was left out for the budget"
            else:
                # in no status line of its file's run at base: the test patch adds it (new
                # parameters renumber parametrized ids), or the log did not name it
                why_missed[test] = "absent from the base run"
    row.update(
        candidates=list(selection.candidates),
        files_ran=ran,
        files_selected=list(selection.test_files),
        dropped_for_budget=list(selection.dropped_for_budget),
        tests_selected=len(selection.tests),
        failing_at_base=len(selection.failing_at_base),
        p2p=len(instance.pass_to_pass),
        p2p_unmapped=unmapped,
        p2p_in_ran_files=len(in_ran),
        p2p_kept=len(kept),
        p2p_missed=[f"{t} ({why})" for t, why in why_missed.items()][:30],
        # missed because they did not pass at base in our environment (its Python or pins differ
        # from the official harness's), not because the selection left them out
        p2p_missed_failing_at_base=sum(why == "not passing at base" for why in why_missed.values()),
        p2p_absent_at_base=sum(why == "absent from the base run" for why in why_missed.values()),
        p2p_files_found=f"{len(p2p_files & set(ran))}/{len(p2p_files)}",
        seconds_at_base=selection.seconds_at_base,
    )
    row["share_kept"] = round(len(kept) / len(in_ran), 4) if in_ran else None
    existing = len(in_ran) - row["p2p_absent_at_base"]
    row["share_kept_existing"] = round(len(kept) / existing, 4) if existing else None
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--repo-cache", type=Path, default=DEFAULT_REPO_CACHE)
    parser.add_argument("--count", type=int, default=20, help="instances whose environment builds")
    parser.add_argument("--budget", type=float, default=RegressionSettings.budget_seconds)
    parser.add_argument("--max-files", type=int, default=RegressionSettings.max_files)
    parser.add_argument("--no-build", action="store_true", help="use only environment images that already exist")
    parser.add_argument("--instances", default="", help="comma-separated ids instead of the first --count")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "regression_selection.json")
    args = parser.parse_args()

    from patchsmith.paths import cache_root
    from patchsmith.swebench_runner.dataset import load_instances

    cache = cache_root()
    log_dir = args.out.parent / "logs"
    dataset = instances = load_instances(args.dataset)
    if args.instances:
        wanted = set(args.instances.split(","))
        instances = [i for i in instances if i.instance_id in wanted]
    rows: list[dict] = []
    measured = 0
    print(f"{'instance':<28} {'env':>5} {'files':>9} {'tests':>6} {'P2P in ran':>10} {'kept':>6} {'share':>6} {'absent':>6} {'share*':>6} {'fail@base':>9} {'P2P files':>9} {'select s':>8}")
    for instance in instances:
        if measured >= args.count:
            break
        try:
            row = measure(instance, dataset, args, cache, log_dir)
        except Exception as exc:  # noqa: BLE001 - one instance's failure is reported, the run goes on
            row = {"instance_id": instance.instance_id, "env_built": True, "error": f"{type(exc).__name__}: {exc}"[:300]}
        rows.append(row)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))  # after each instance: a long run loses nothing
        if not row.get("env_built"):
            print(f"{instance.instance_id:<28} {'no':>5}  environment did not build: {row.get('error', '')[:80]}")
            continue
        measured += 1
        if "error" in row:
            print(f"{instance.instance_id:<28} {'yes':>5}  error: {row['error'][:100]}")
            continue
        share = "n/a" if row["share_kept"] is None else f"{row['share_kept']:.0%}"
        share_existing = "n/a" if row["share_kept_existing"] is None else f"{row['share_kept_existing']:.0%}"
        files = f"{len(row['files_selected'])}/{len(row['files_ran'])}"
        print(f"{instance.instance_id:<28} {'yes':>5} {files:>9} {row['tests_selected']:>6} {row['p2p_in_ran_files']:>10} "
              f"{row['p2p_kept']:>6} {share:>6} {row['p2p_absent_at_base']:>6} {share_existing:>6} {row['p2p_missed_failing_at_base']:>9} {row['p2p_files_found']:>9} {row['selection_seconds']:>8.1f}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    done = [r for r in rows if r.get("env_built") and "error" not in r]
    times = [r["selection_seconds"] for r in done]
    print()
    print(f"environments built: {measured} of {len(rows)} instances tried; measured without error: {len(done)}")
    print("share: PASS_TO_PASS tests in the files ran that the selection kept; share*: the same over those that exist at")
    print("the base commit (absent: in no status line of the base run, e.g. parameters the test patch adds)")
    for key, label in (("share_kept", "share"), ("share_kept_existing", "share*")):
        shares = [r[key] for r in done if r[key] is not None]
        if shares:
            meeting = sum(share >= 0.9 for share in shares)
            print(f"{label}: {meeting} of {len(shares)} instances at >= 90% (n/a: {len(done) - len(shares)}); "
                  f"min {min(shares):.0%}, median {statistics.median(shares):.0%}")
    missed = sum(r["p2p_in_ran_files"] - r["p2p_kept"] for r in done)
    at_base = sum(r["p2p_missed_failing_at_base"] for r in done)
    absent = sum(r["p2p_absent_at_base"] for r in done)
    print(f"PASS_TO_PASS tests in the files ran but not kept: {missed}: {absent} absent from the base run, {at_base} not "
          "passing at base in our environment (fail@base: its Python or pins differ from the official harness's), "
          f"{missed - absent - at_base} left out otherwise")
    if times:
        print(f"selection time: median {statistics.median(times):.1f} s, max {max(times):.1f} s "
              f"(budget {args.budget:g} s for the selected files, {args.max_files} files tried at most)")
    print(f"per-instance details: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
