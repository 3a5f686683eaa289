"""Localization from execution on SWE-bench Lite: retrieval only, execution only, and both fused.

For each instance whose environment builds (the instance image of `patchsmith swebench`): the
test patch is applied; the FAIL_TO_PASS tests are the failing runs and up to 30 PASS_TO_PASS tests,
chosen with a fixed seed (never by looking at the gold patch), the passing runs. They run in one
pytest process under coverage.py, one context per test (patchsmith.sandbox.coverage). The gold
FAIL_TO_PASS tests stand in for a good failing test: this measures `--failing-test` directly.

Reported in the same run, with no model (`localize --no-model`; no model can be reached here):
- function recall@1/5/10: the definitions enclosing the gold patch's changed lines (as in
  bench/localize_retrieval.py) among the ranked elements;
- file recall@1/5 of the gold patch's files;
each for retrieval only (localize without runs), execution only (the Ochiai ranking, ties by
retrieval) and fused (localize with the runs);
- the cost of coverage: the same tests' wall time under coverage over without it (median; both
  runs select the tests with the same small plugin, so only coverage differs; an untimed run
  warms the container first).

    python bench/localize_execution.py --repo-cache /work/mirrors [--instances ID,ID | --repos a/b,c/d]
        [--count N] [--passing 30] [--no-build] [--out bench/out/localize_execution.json]

Only pytest-run repositories are measured (django and sympy use their own runners).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from dataclasses import replace  # noqa: E402

from localize_retrieval import enclosing_definitions, gold_files, gold_lines, recall  # noqa: E402

from patchsmith.localize import LocalizeSettings  # noqa: E402

# ../shared beside the main work tree, ../../shared beside a helper's (wt/NAME)
DATASETS = [up / "shared" / "data" / "swebench_lite_test.jsonl" for up in (ROOT.parent, ROOT.parent.parent)]
DEFAULT_DATASET = next((path for path in DATASETS if path.is_file()), DATASETS[0])
PYTEST_REPOS = ("pallets/flask", "psf/requests", "pytest-dev/pytest", "mwaskom/seaborn", "pydata/xarray",
                "pylint-dev/pylint", "astropy/astropy", "matplotlib/matplotlib", "scikit-learn/scikit-learn",
                "sphinx-doc/sphinx")
FUNCTION_KS, FILE_KS = (1, 5, 10), (1, 5)


def fused_name(weight: float) -> str:
    return "fused" if weight == LocalizeSettings.execution_weight else f"fused w={weight:g}"


def passing_sample(instance, limit: int) -> list[str]:
    tests = list(instance.pass_to_pass)
    return sorted(random.Random(0).sample(tests, min(limit, len(tests))))


def measure(instance, dataset, args, cache: Path, log_dir: Path) -> dict:
    from patchsmith import repo_index
    from patchsmith.llm import DryRunModel
    from patchsmith.localize import LocalizeSettings, localize
    from patchsmith.sandbox.coverage import bring_coverage, run_tests_covered
    from patchsmith.swebench_runner.environments import environment_for
    from patchsmith.swebench_runner.inference import InstanceWorkspace
    from patchsmith.swebench_runner.specs import spec_for

    row: dict = {"instance_id": instance.instance_id, "repo": instance.repo, "version": instance.version}
    spec = spec_for(instance.repo, instance.version)
    environment = environment_for(spec, dataset, args.repo_cache, cache, log_dir, build=not args.no_build)
    env = environment.build
    row["env_built"] = env.built
    if not env.built:
        row["error"] = (env.error.strip().splitlines() or ["not built"])[-1][:300]
        return row
    index = repo_index.build_index(environment.git_dir, commit=instance.base_commit, cache_dir=cache / "index")
    issue = instance.problem_statement
    failing = list(instance.fail_to_pass)
    passing = passing_sample(instance, args.passing)
    workspace = InstanceWorkspace(instance, spec, env.image, environment.commit, args.repo_cache, cache)
    with workspace.start(log_dir) as box:
        applied = box.apply_diff(instance.test_patch)
        if not applied.applied:
            row["error"] = f"test patch does not apply: {applied.message[:200]}"
            return row
        box.disconnect_network()
        bring_coverage(box, cache / "sandbox")
        # An untimed run first: the first run of a fresh container also compiles bytecode and fills
        # the page cache, which would be charged to whichever run came first.
        run_tests_covered(box, failing + passing, measure=False)
        plain_seconds = run_tests_covered(box, failing + passing, measure=False).seconds
        covered = run_tests_covered(box, failing + passing)
    runs = [r for r in covered.runs.values() if (r.name in failing and r.failed) or (r.name in passing and r.status == "passed")]
    row.update(failing_runs=sum(r.failed for r in runs), passing_runs=sum(not r.failed for r in runs),
               plain_seconds=round(plain_seconds, 2), covered_seconds=covered.seconds,
               cost=round(covered.seconds / plain_seconds, 3) if plain_seconds else None)
    if not row["failing_runs"]:
        statuses = {t: covered.runs[t].status for t in failing}
        row["error"] = f"no FAIL_TO_PASS test failed under coverage at base: {statuses}; {covered.log[-300:]}"
        return row
    model = DryRunModel("openai/no-model", context_window=128_000)
    settings = LocalizeSettings(max_elements=30)
    plain = localize(index, issue, model, settings)
    key = lambda e: (e.path, e.qualname)  # noqa: E731
    rankings = {"retrieval": ([key(e) for e in plain.elements.elements], list(plain.files.paths))}
    for weight in args.weights:
        fused = localize(index, issue, model, replace(settings, execution_weight=weight), runs=runs)
        rankings["execution"] = ([key(s.element) for s in fused.execution.elements], fused.execution.file_ranking)
        rankings[fused_name(weight)] = ([key(e) for e in fused.elements.elements], list(fused.files.paths))
    gold = gold_files(instance.patch)
    functions = set()
    for path, lines in gold_lines(instance.patch).items():
        functions |= enclosing_definitions(index, path, lines)
    row["gold_files"], row["gold_functions"] = gold, sorted(functions)
    for signal, (elements, files) in rankings.items():
        row[signal] = {f"file@{k}": recall(files, gold, k) for k in FILE_KS}
        if functions:
            row[signal].update({f"function@{k}": len(set(elements[:k]) & functions) / len(functions) for k in FUNCTION_KS})
        row[signal]["top"] = ["::".join(e) for e in elements[:5]]
    return row


def report(rows: list[dict], signals: list[str]) -> None:
    done = [r for r in rows if r.get("env_built") and "error" not in r]
    with_functions = [r for r in done if r["gold_functions"]]
    print(f"\ninstances measured: {len(done)} (of {len(rows)} tried; repositories: "
          f"{len({r['repo'] for r in done})}); with gold functions: {len(with_functions)}")
    print("the gold FAIL_TO_PASS tests stand in for a good failing test")
    print(f"{'signal':<12} " + " ".join(f"fn@{k:<3}" for k in FUNCTION_KS) + " " + " ".join(f"file@{k:<2}" for k in FILE_KS))
    for signal in signals:
        fn = [statistics.mean(r[signal][f"function@{k}"] for r in with_functions) if with_functions else float("nan") for k in FUNCTION_KS]
        fl = [statistics.mean(r[signal][f"file@{k}"] for r in done) if done else float("nan") for k in FILE_KS]
        print(f"{signal:<12} " + " ".join(f"{v:<6.2f}" for v in fn) + " " + " ".join(f"{v:<7.2f}" for v in fl))
    costs = [r["cost"] for r in done if r.get("cost")]
    if costs:
        print(f"coverage cost (covered / plain wall time of the same tests): median {statistics.median(costs):.2f}x, "
              f"min {min(costs):.2f}x, max {max(costs):.2f}x over {len(costs)} instances")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--repo-cache", type=Path, required=True)
    parser.add_argument("--instances", default="", help="comma-separated instance ids")
    parser.add_argument("--repos", default="", help="comma-separated repositories (default: every pytest-run one)")
    parser.add_argument("--count", type=int, default=60, help="stop after this many measured instances")
    parser.add_argument("--passing", type=int, default=30, help="PASS_TO_PASS tests run as passing runs")
    parser.add_argument("--weights", default=str(LocalizeSettings.execution_weight),
                        help="execution_weight values to fuse with, comma-separated (the default's row is 'fused')")
    parser.add_argument("--no-build", action="store_true", help="use only environment images that already exist")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "localize_execution.json")
    args = parser.parse_args()
    args.weights = [float(w) for w in args.weights.split(",")]
    signals = ["retrieval", "execution", *(fused_name(w) for w in args.weights)]

    from patchsmith.paths import cache_root
    from patchsmith.swebench_runner.dataset import load_instances

    cache = cache_root()
    log_dir = args.out.parent / "logs"
    dataset = load_instances(args.dataset)
    repos = set(args.repos.split(",")) if args.repos else set(PYTEST_REPOS)
    wanted = set(args.instances.split(",")) if args.instances else None
    chosen = [i for i in dataset if (i.instance_id in wanted if wanted else i.repo in repos)]
    rows: list[dict] = []
    print(f"{'instance':<30} {'F':>3} {'P':>3} {'cost':>6}  {' / '.join(signals)}: fn@5 file@1")
    for instance in chosen:
        if sum("error" not in r and r.get("env_built") for r in rows) >= args.count:
            break
        try:
            row = measure(instance, dataset, args, cache, log_dir)
        except Exception as exc:  # noqa: BLE001 - one instance's failure is reported, the run goes on
            row = {"instance_id": instance.instance_id, "repo": instance.repo, "env_built": True, "error": f"{type(exc).__name__}: {exc}"[:300]}
        rows.append(row)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))  # after each instance: a long run loses nothing
        if "error" in row:
            print(f"{instance.instance_id:<30} error: {row['error'][:100]}", flush=True)
            continue
        figures = " / ".join(f"{row[s].get('function@5', float('nan')):.2f} {row[s]['file@1']:.2f}" for s in signals)
        print(f"{instance.instance_id:<30} {row['failing_runs']:>3} {row['passing_runs']:>3} {row['cost']:>6.2f}  {figures}", flush=True)
    report(rows, signals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
