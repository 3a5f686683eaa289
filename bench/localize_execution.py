"""Localization from execution on SWE-bench Lite: retrieval only, execution only, and both fused.

The set (chosen before any result was seen; `choose`): SWE-bench Lite without the three
repositories whose environments compile large extensions (astropy, matplotlib, scikit-learn:
slow to build on a 2-core machine, and several of their builds fail). For each remaining
repository, the pool is its instances of the versions whose environment image was already built on
this machine when the set was fixed (BUILT_AT_START, 17 versions of 7 repositories, by the
project's builder); a repository with none (seaborn, sphinx) gets its version with the most
instances, which the bench builds. From each pool, up to 24 instances are drawn with
random.Random(19) from the pool sorted by instance id: 73 instances over 9 repositories, about
two thirds of them django and sympy, as in Lite itself (191 of 300). An instance whose version has
an image of an earlier revision of the recipe (the tag's hash differs) runs in that image, and the
row names it.

For each instance whose environment builds: the test patch is applied; the FAIL_TO_PASS tests are
the failing runs and up to 30 PASS_TO_PASS tests, drawn with random.Random(0) (never by looking at
the gold patch), the passing runs. pytest-run repositories run them in one pytest process with a
plugin that gives each test its own coverage context; Django and sympy run the official test
command limited to those tests (`selected_command`) under coverage with one context per test
function (patchsmith.sandbox.coverage_command). The failing tests run last, as in the pipeline
(sympy's runner keeps its file's order). A test command that runs past --run-timeout leaves the
instance not measured. The gold FAIL_TO_PASS tests stand in for a good failing
test: this measures `--failing-test` directly.

Two phases. Measuring (the containers, the expensive part) appends one line per instance to the
state file (--state); a rerun skips what is there, so a stopped run resumes, and --hours caps the
time spent measuring. Ranking then runs on every measured instance with the current code, so every
signal of the report comes from one run of the same ranking code:
- function recall@1/5/10: the definitions enclosing the gold patch's changed lines (as in
  bench/localize_retrieval.py) among the ranked elements;
- file recall@1/5 of the gold patch's files;
each for retrieval only (localize --no-model without runs), execution only (the Ochiai ranking,
ties by retrieval), the two file-only signals (traceability; failure output, the source files the
failing runs' output names, read from the last 30,000 characters of the test command's output that
each row keeps), test names (the executed definitions the failing tests are named after,
localize.traceability.named_after) and fused (localize --no-model with the runs; rows
"fused w=.. t=.. o=.. n=.. k=.." for other execution, traceability, failure-output and test-name
weights, and other rank-fusion constants);
- the cost of coverage (for every instance, or with --cost-every N for every Nth of the set, which
  spares the others two of their three test runs): the same tests' wall time under coverage over
  without it (median; both
  runs select the same tests, only coverage differs; an untimed run of the failing tests alone warms
  the container first).

Against tuning (fixed before any per-half result was seen; `halves`): the measured instances (rows
with runs) are split into a development half and a held-out half, stratified by repository: each
repository's measured instance ids, sorted, are shuffled with one random.Random(SPLIT_SEED = 1919)
taken over the repositories in sorted order; the first n // 2 of each go to the held-out half, the
rest (the odd one included) to the development half. Methods are developed on the development half
only; every signal is reported on both halves and the whole in the same run, and a method is
adopted only if it also helps on the held-out half.

    python bench/localize_execution.py --repo-cache /work/mirrors [--instances ID,ID | --beyond-set] [--hours H]
        [--passing 30] [--weights 4,2,1] [--trace-weights 1,0] [--output-weights 1,0] [--name-weights 1,0]
        [--rrf-ks 3,60] [--half development]
        [--cost-every N] [--run-timeout 900] [--no-build]
        [--state bench/out/localize_execution.jsonl]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shlex
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from localize_retrieval import enclosing_definitions, gold_files, gold_lines, recall  # noqa: E402

from patchsmith.localize import LocalizeSettings  # noqa: E402

# ../shared beside the main work tree, ../../shared beside a helper's (wt/NAME)
DATASETS = [up / "shared" / "data" / "swebench_lite_test.jsonl" for up in (ROOT.parent, ROOT.parent.parent)]
DEFAULT_DATASET = next((path for path in DATASETS if path.is_file()), DATASETS[0])
EXCLUDED_REPOS = ("astropy/astropy", "matplotlib/matplotlib", "scikit-learn/scikit-learn")
BUILT_AT_START = {("django/django", v) for v in ("3.0", "3.1", "3.2", "4.0", "4.2", "5.0")} | {
    ("sympy/sympy", v) for v in ("1.1", "1.5", "1.6", "1.11")} | {
    ("pallets/flask", "2.3"), ("psf/requests", "2.4"), ("pydata/xarray", "0.12"), ("pylint-dev/pylint", "2.14"),
    ("pylint-dev/pylint", "2.15"), ("pytest-dev/pytest", "5.2"), ("pytest-dev/pytest", "5.4")}
SEED, PER_REPO = 19, 24
SPLIT_SEED = 1919  # the development / held-out split (`halves`)
COMMAND_RUNNERS = ("django", "sympy")  # measured through their own test command, not the pytest plugin
FUNCTION_KS, FILE_KS = (1, 5, 10), (1, 5)


def choose(dataset: list) -> list:
    """The benchmark's set, by the rule in the module docstring."""
    by_repo: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for instance in dataset:
        if instance.repo not in EXCLUDED_REPOS:
            by_repo[instance.repo][instance.version].append(instance)
    chosen = []
    for repo in sorted(by_repo):
        versions = by_repo[repo]
        built = [v for v in versions if (repo, v) in BUILT_AT_START]
        pool = [i for v in built or [min(versions, key=lambda v: (-len(versions[v]), v))] for i in versions[v]]
        pool.sort(key=lambda i: i.instance_id)
        chosen += random.Random(SEED).sample(pool, min(PER_REPO, len(pool)))
    return chosen


def beyond_the_set(dataset: list, the_set: list) -> list:
    """Every instance of the set's repository versions that the set did not draw (so their images
    exist): data no method was developed on, for checking a method the halves already saw."""
    drawn, versions = {i.instance_id for i in the_set}, {(i.repo, i.version) for i in the_set}
    return sorted((i for i in dataset if i.instance_id not in drawn and (i.repo, i.version) in versions),
                  key=lambda i: i.instance_id)


def halves(measured: list[dict]) -> dict[str, str]:
    """{instance id: "development" | "held-out"} by the rule in the module docstring."""
    by_repo: dict[str, list[str]] = defaultdict(list)
    for row in measured:
        by_repo[row["repo"]].append(row["instance_id"])
    shuffle = random.Random(SPLIT_SEED)
    half = {}
    for repo in sorted(by_repo):
        ids = sorted(by_repo[repo])
        shuffle.shuffle(ids)
        half.update({i: "held-out" if n < len(ids) // 2 else "development" for n, i in enumerate(ids)})
    return half


def fused_name(weight: float, trace: float, output: float, names: float, rrf_k: float) -> str:
    """"fused" for the settings' defaults, else the values that differ: w execution, t traceability,
    o failure output, n test names (their weights), k the rank fusion's constant."""
    differ = [f"{name}={value:g}" for name, value, default in (
        ("w", weight, LocalizeSettings.execution_weight), ("t", trace, LocalizeSettings.traceability_weight),
        ("o", output, LocalizeSettings.failure_output_weight), ("n", names, LocalizeSettings.test_name_weight),
        ("k", rrf_k, LocalizeSettings.rrf_k)) if value != default]
    return " ".join(["fused", *differ])


def nearest(tests: list[str], failing: Sequence[str], limit: int) -> list[str]:
    """At most `limit` of `tests`, those whose place (file, then class) shares most with a failing
    test's, in their own order; among equals, a fixed-seed sample. The idea: a passing test beside
    the failing one runs the code they share, so the spectrum would clear that and leave the fault.
    Measured in session 14, it did worse than a random sample: such a test often runs the faulty
    code too, on an input that does not trip it, and clears the fault as well."""
    if len(tests) <= limit:
        return list(tests)
    places = [place_of(test) for test in failing]
    shared = [max((len(os.path.commonprefix([own, place])) for place in places), default=0)
              for own in map(place_of, tests)]
    shuffled = random.Random(0).sample(range(len(tests)), len(tests))
    chosen = set(sorted(shuffled, key=lambda position: -shared[position])[:limit])
    return [test for position, test in enumerate(tests) if position in chosen]


def place_of(test_id: str) -> tuple[str, ...]:
    """Where a test is, outermost first: a pytest node id's file path parts and classes, a unittest
    id's module parts and class; () for a bare name (sympy's), which says nothing of its place."""
    from patchsmith.sandbox.coverage_command import context_name

    if "::" in test_id:
        path, *owners = test_id.split("[", 1)[0].split("::")[:-1]
        return (*path.removesuffix(".py").split("/"), *owners)
    dotted = context_name(test_id)
    return tuple(dotted.split(".")[:-1]) if dotted != test_id else ()


def passing_sample(instance, limit: int, choice: str) -> list[str]:
    """The PASS_TO_PASS tests run as passing runs: a fixed-seed random sample, or those nearest the
    failing tests (session 14's experiment, not adopted: README)."""
    tests = list(instance.pass_to_pass)
    if choice == "nearest":
        return sorted(nearest(tests, instance.fail_to_pass, limit))
    return sorted(random.Random(0).sample(tests, min(limit, len(tests))))


def earlier_image(key: str) -> str:
    """The newest environment image of (repo, version) `key` that any revision of the recipe built."""
    from patchsmith.sandbox import engine
    from patchsmith.swebench_runner.environments import LABEL_SWEBENCH

    images = engine.client().images.list(filters={"label": f"{LABEL_SWEBENCH}={key}"})
    images = [i for i in images if i.tags]
    return max(images, key=lambda i: i.attrs["Created"]).tags[0] if images else ""


def selected_command(test_run: str, runner: str, directives: list[str], tests: list[str], docstrings: dict | None = None) -> str:
    """The suite's test command limited to `tests`, as the pytest plugin limits pytest: Django takes
    `module.Class.test_name` labels (an id that is a docstring's first line is named by
    `docstrings`; one it does not name brings its whole modules back); sympy's bin/test takes names
    after -k (it matches them as substrings, so a few more tests run; only the asked-for ones are kept)."""
    from patchsmith.sandbox.coverage_command import context_name

    if runner == "sympy":
        return " ".join([test_run, *directives, "-k", *tests])
    labels = [context_name(test, docstrings) for test in tests]
    if any(label == test for label, test in zip(labels, tests)):
        return " ".join([test_run, *directives])
    return " ".join([test_run, *(shlex.quote(label) for label in dict.fromkeys(labels))])


class NotYet(Exception):
    """The instance cannot be measured in this run (its environment is not built yet): no row."""


def measure(instance, dataset, args, cache: Path, log_dir: Path, with_cost: bool = True) -> dict:
    """Run the instance's tests under coverage (and, `with_cost`, without it too, for the cost);
    the row keeps the runs' lines."""
    from patchsmith.repo_index.search import is_non_source
    from patchsmith.sandbox.coverage import bring_coverage, run_tests_covered
    from patchsmith.sandbox.coverage_command import docstring_names, run_command_covered
    from patchsmith.swebench_runner.environments import environment_for
    from patchsmith.swebench_runner.inference import InstanceWorkspace
    from patchsmith.swebench_runner.specs import directives_of, spec_for

    row: dict = {"instance_id": instance.instance_id, "repo": instance.repo, "version": instance.version}
    spec = spec_for(instance.repo, instance.version)
    environment = environment_for(spec, dataset, args.repo_cache, cache, log_dir, build=not args.no_build)
    env = environment.build
    image = env.image if env.built else earlier_image(spec.key)
    if not image:
        if args.no_build and not env.error:
            raise NotYet("environment not built yet")
        row["error"] = "environment does not build: " + (env.error.strip().splitlines() or ["?"])[-1][:300]
        return row
    row["env_image"] = image
    row["passing_choice"] = args.passing_choice
    failing = list(instance.fail_to_pass)
    passing = passing_sample(instance, args.passing, args.passing_choice)
    workspace = InstanceWorkspace(instance, spec, image, environment.commit, args.repo_cache, cache)
    with workspace.start(log_dir) as box:
        applied = box.apply_diff(instance.test_patch)
        if not applied.applied:
            row["error"] = f"test patch does not apply: {applied.message[:200]}"
            return row
        box.disconnect_network()
        bring_coverage(box, cache / "sandbox")
        # The failing tests last, as the pipeline runs them (sandbox.coverage.run_tests_covered):
        # work done once per process (a URLconf or model metadata loaded lazily, a cache filled) is
        # charged to whichever test runs first. Django runs its labels in the order given (grouped
        # by class); sympy's bin/test keeps its files' order whatever the command says.
        everything = passing + failing
        if spec.parser in COMMAND_RUNNERS:
            directives = directives_of(instance.repo, instance.test_patch)
            docstrings = docstring_names(box, directives, "/testbed/tests") if spec.parser == "django" else {}

            def run(measure: bool, tests: list[str] = everything):
                command = selected_command(spec.test_run, spec.parser, directives, tests, docstrings)
                return run_command_covered(box, command, spec.parser, tests, measure=measure, docstrings=docstrings,
                                           timeout=args.run_timeout)
        else:
            def run(measure: bool, tests: list[str] = everything):
                return run_tests_covered(box, tests, measure=measure, run_last=failing, timeout=args.run_timeout)
        # An untimed run of the failing tests alone first: a fresh container's first run also
        # compiles bytecode and fills the page cache (the same modules, since the tests share their
        # files), which would be charged to whichever timed run came first. Then plain, then covered.
        plain_seconds = None
        if with_cost:
            run(False, failing)
            plain = run(False)
            plain_seconds = None if plain.timed_out else plain.seconds
        covered = run(True)
    if covered.timed_out:
        row["error"] = f"the tests ran past --run-timeout ({args.run_timeout:g} s) under coverage"
        return row
    # A FAIL_TO_PASS test that ran but that the log does not name fails as the grader sees it.
    runs = [replace(r, failed=r.name in failing) for r in covered.runs.values()
            if (r.name in failing and r.status in ("failed", "unreported")) or (r.name in passing and r.status == "passed")]
    row.update(failing_runs=sum(r.failed for r in runs), passing_runs=sum(not r.failed for r in runs),
               plain_seconds=round(plain_seconds, 2) if plain_seconds else None, covered_seconds=covered.seconds,
               cost=round(covered.seconds / plain_seconds, 3) if plain_seconds else None)
    if not row["failing_runs"]:
        statuses = {t: covered.runs[t].status for t in failing if t in covered.runs}
        row["error"] = f"no FAIL_TO_PASS test failed under coverage at base: {statuses}"[:300] + "; " + covered.log[-300:]
        return row
    # The log's end keeps the failing tests' tracebacks, for signals read from them.
    row["log_tail"] = covered.log[-30000:]
    row["runs"] = [{"name": r.name, "failed": r.failed,
                    "lines": {path: list(lines) for path, lines in r.lines.items() if not is_non_source(path)}} for r in runs]
    return row


def rank(row: dict, instance, args, cache: Path) -> dict:
    """Each signal's recall for a measured row, with the current ranking code."""
    from patchsmith import repo_index
    from patchsmith.llm import DryRunModel
    from patchsmith.localize import localize
    from patchsmith.localize.traceability import subject
    from patchsmith.sandbox.coverage import CoveredRun
    from patchsmith.swebench_runner.specs import patched_files
    from patchsmith.swebench_runner.repos import find_mirror

    index = repo_index.build_index(find_mirror(instance.repo, args.repo_cache), commit=instance.base_commit,
                                   cache_dir=cache / "index")
    # The failing tests ran in one process: each failing run's output is that process's (its tail).
    runs = [CoveredRun(r["name"], r["failed"], {p: tuple(lines) for p, lines in r["lines"].items()},
                       output=row.get("log_tail", "") if r["failed"] else "") for r in row["runs"]]
    model = DryRunModel("openai/no-model", context_window=128_000)
    settings = LocalizeSettings(max_elements=30)
    plain = localize(index, instance.problem_statement, model, settings)
    key = lambda e: (e.path, e.qualname)  # noqa: E731
    rankings = {"retrieval": ([key(e) for e in plain.elements.elements], list(plain.files.paths))}
    # The failing tests' files, for traceability: pytest node ids name them (localize reads them
    # there); the test commands' names do not, so the test patch's files named like test modules.
    names_files = any("::" in r.name for r in runs if r.failed)
    test_files = [] if names_files else [p for p in patched_files(instance.test_patch) if subject(p)]
    for weight, trace, output, names, rrf_k in args.weight_grid:
        chosen = replace(settings, execution_weight=weight, traceability_weight=trace,
                         failure_output_weight=output, test_name_weight=names, rrf_k=int(rrf_k))
        fused = localize(index, instance.problem_statement, model, chosen, runs=runs, test_files=test_files)
        rankings[fused_name(weight, trace, output, names, rrf_k)] = ([key(e) for e in fused.elements.elements],
                                                              list(fused.files.paths))
    # None when the failing runs neither executed nor named a source file (django-14382's test runs
    # the code in a subprocess): fused is then retrieval alone.
    signal = fused.execution
    rankings["execution"] = ([key(s.element) for s in signal.elements], signal.file_ranking) if signal else ([], [])
    rankings["traceability"] = ([], [f.path for f in signal.traced] if signal else [])
    rankings["failure output"] = ([], [f.path for f in signal.named] if signal else [])
    named_after = signal.named_after_scores if signal else {}
    rankings["test names"] = ([key(s.element) for s in signal.named_after] if signal else [],
                              sorted(named_after, key=lambda path: -named_after[path]))
    gold = gold_files(instance.patch)
    functions = set()
    for path, lines in gold_lines(instance.patch).items():
        functions |= enclosing_definitions(index, path, lines)
    ranked = {"gold_functions": sorted(functions)}
    for signal, (elements, files) in rankings.items():
        ranked[signal] = {f"file@{k}": recall(files, gold, k) for k in FILE_KS}
        if functions and signal not in ("traceability", "failure output"):  # these rank files only
            ranked[signal].update({f"function@{k}": len(set(elements[:k]) & functions) / len(functions) for k in FUNCTION_KS})
        ranked[signal]["top"] = ["::".join(e) for e in elements[:5]]
    return ranked


def table(done: list[dict], ranked: dict[str, dict], signals: list[str], part: str) -> None:
    """Each signal's mean recall over `done` (function recall over the rows with gold functions)."""
    with_functions = [r for r in done if ranked[r["instance_id"]]["gold_functions"]]
    print(f"{part} ({len(done)} instances, {len(with_functions)} with gold functions)")
    print(f"{'signal':<22} " + " ".join(f"fn@{k:<3}" for k in FUNCTION_KS) + " " + " ".join(f"file@{k:<2}" for k in FILE_KS))
    for signal in signals:
        fn = [statistics.mean(values) if (values := [ranked[r["instance_id"]][signal][f"function@{k}"] for r in with_functions
                                                      if f"function@{k}" in ranked[r["instance_id"]][signal]]) else float("nan")
              for k in FUNCTION_KS]
        fl = [statistics.mean(ranked[r["instance_id"]][signal][f"file@{k}"] for r in done) if done else float("nan") for k in FILE_KS]
        print(f"{signal:<22} " + " ".join(f"{v:<6.2f}" for v in fn) + " " + " ".join(f"{v:<7.2f}" for v in fl))


def report(rows: list[dict], ranked: dict[str, dict], signals: list[str], tried: int, half: dict[str, str]) -> None:
    """The figures over all measured rows and over each half (`half`: `halves` of the rows)."""
    done = [r for r in rows if r["instance_id"] in ranked]
    with_functions = [r for r in done if ranked[r["instance_id"]]["gold_functions"]]
    repos = sorted({r["repo"] for r in done})
    print(f"\ninstances measured: {len(done)} of {tried} in the set (repositories: {len(repos)}: "
          + ", ".join(f"{repo.split('/')[1]} {sum(r['repo'] == repo for r in done)}" for repo in repos)
          + f"); with gold functions: {len(with_functions)}")
    if tried > len(rows):
        print(f"  not reached before the time cap: {tried - len(rows)}")
    for row in rows:
        if "error" in row:
            print(f"  not measured: {row['instance_id']}: {row['error'][:140]}")
    print("the gold FAIL_TO_PASS tests stand in for a good failing test")
    for part in ("all", "development", "held-out"):
        rows_of = [r for r in done if part == "all" or half[r["instance_id"]] == part]
        table(rows_of, ranked, signals, part)
    costs = [r["cost"] for r in done if r.get("cost")]
    if costs:
        print(f"coverage cost (covered / plain wall time of the same tests): median {statistics.median(costs):.2f}x, "
              f"min {min(costs):.2f}x, max {max(costs):.2f}x over {len(costs)} instances")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--repo-cache", type=Path, required=True)
    parser.add_argument("--instances", default="", help="comma-separated instance ids instead of the set")
    parser.add_argument("--beyond-set", action="store_true",
                        help="the instances of the set's versions that the set did not draw, instead of the set")
    parser.add_argument("--passing", type=int, default=30, help="PASS_TO_PASS tests run as passing runs")
    parser.add_argument("--passing-choice", choices=("random", "nearest"), default="random",
                        help="which PASS_TO_PASS tests: at random (fixed seed), or nearest the failing tests")
    parser.add_argument("--weights", default=str(LocalizeSettings.execution_weight),
                        help="execution_weight values to fuse with, comma-separated (the default's row is 'fused')")
    parser.add_argument("--trace-weights", default=str(LocalizeSettings.traceability_weight),
                        help="traceability_weight values to fuse with, comma-separated (0: without traceability)")
    parser.add_argument("--output-weights", default=str(LocalizeSettings.failure_output_weight),
                        help="failure_output_weight values to fuse with, comma-separated (0: without the failure output)")
    parser.add_argument("--name-weights", default=str(LocalizeSettings.test_name_weight),
                        help="test_name_weight values to fuse with, comma-separated (0: without the test names)")
    parser.add_argument("--rrf-ks", default=str(LocalizeSettings.rrf_k),
                        help="rrf_k values to fuse with, comma-separated (60: the usual constant, before session 13)")
    parser.add_argument("--half", choices=("development", "held-out"), default=None,
                        help="rank only this half's instances (developing a method: the development half)")
    parser.add_argument("--no-build", action="store_true", help="use only environment images that already exist")
    parser.add_argument("--cost-every", type=int, default=1,
                        help="time the tests without coverage too (the cost) for every Nth instance of the set only")
    parser.add_argument("--hours", type=float, default=None, help="start no new measurement after this long")
    parser.add_argument("--run-timeout", type=float, default=900,
                        help="seconds one test command may run; an instance whose tests run longer is reported as not measured")
    parser.add_argument("--state", type=Path, default=ROOT / "bench" / "out" / "localize_execution.jsonl",
                        help="one line per measured instance; a rerun measures only what is missing")
    parser.add_argument("--out", type=Path, default=None, help="the ranked rows as JSON (default: beside --state)")
    args = parser.parse_args()
    # Every combination of the four signals' weights and the fusion's constant is one fused ranking.
    args.weight_grid = list(itertools.product(*([float(w) for w in weights.split(",")] for weights in (
        args.weights, args.trace_weights, args.output_weights, args.name_weights, args.rrf_ks))))
    signals = ["retrieval", "execution", "traceability", "failure output", "test names",
               *(fused_name(*weights) for weights in args.weight_grid)]

    from patchsmith.paths import cache_root
    from patchsmith.swebench_runner.dataset import load_instances

    cache = cache_root()
    log_dir = args.state.parent / "logs"
    dataset = load_instances(args.dataset)
    wanted = set(args.instances.split(",")) if args.instances else None
    the_set = choose(dataset)
    if wanted:
        chosen = [i for i in dataset if i.instance_id in wanted]
    elif args.beyond_set:
        chosen = beyond_the_set(dataset, the_set)
    else:
        chosen = the_set
    # An instance's place in the set decides whether its cost is timed, however the run is split.
    position = {i.instance_id: n for n, i in enumerate(chosen)} | {i.instance_id: n for n, i in enumerate(the_set)}
    args.state.parent.mkdir(parents=True, exist_ok=True)
    stored = {}
    if args.state.exists():
        for line in args.state.read_text().splitlines():
            row = json.loads(line)
            stored[row["instance_id"]] = row
    # Rows measured before session 14 have no choice recorded: theirs was random.
    other = sorted({row.get("passing_choice", "random") for row in stored.values() if "runs" in row} - {args.passing_choice})
    if other:
        parser.exit(2, f"{args.state} holds passing runs chosen {other[0]}; use --passing-choice {other[0]} or another --state.\n")
    deadline = time.monotonic() + args.hours * 3600 if args.hours is not None else None
    for instance in chosen:
        if instance.instance_id in stored:
            continue
        if deadline is not None and time.monotonic() >= deadline:
            print("time cap reached: the rest is measured by the next run", flush=True)
            break
        started = time.monotonic()
        try:
            row = measure(instance, dataset, args, cache, log_dir, with_cost=position[instance.instance_id] % args.cost_every == 0)
        except NotYet as exc:
            print(f"{instance.instance_id:<30} skipped: {exc}", flush=True)
            continue
        except Exception as exc:  # noqa: BLE001 - one instance's failure is reported, the run goes on
            row = {"instance_id": instance.instance_id, "repo": instance.repo, "error": f"{type(exc).__name__}: {exc}"[:300]}
        stored[instance.instance_id] = row
        with args.state.open("a") as handle:  # one line per instance: a stopped run loses nothing
            handle.write(json.dumps(row) + "\n")
        outcome = row["error"][:100] if "error" in row else f"F {row['failing_runs']} P {row['passing_runs']} cost {row['cost']}"
        print(f"{instance.instance_id:<30} {time.monotonic() - started:6.0f}s  {outcome}", flush=True)
    rows = [stored[i.instance_id] for i in chosen if i.instance_id in stored]
    by_id = {i.instance_id: i for i in chosen}
    ranked = {}
    half = halves([r for r in rows if "error" not in r])
    for row in rows:
        if "error" not in row and (args.half is None or half[row["instance_id"]] == args.half):
            ranked[row["instance_id"]] = rank(row, by_id[row["instance_id"]], args, cache)
            figures = " / ".join(f"{ranked[row['instance_id']][s].get('function@5', float('nan')):.2f} "
                                 f"{ranked[row['instance_id']][s]['file@1']:.2f}" for s in signals)
            print(f"{row['instance_id']:<30} {' / '.join(signals)} fn@5 file@1: {figures}", flush=True)
    out = args.out or args.state.with_suffix(".ranked.json")
    out.write_text(json.dumps({r["instance_id"]: {"repo": r["repo"], "half": half[r["instance_id"]], "cost": r.get("cost"), **ranked[r["instance_id"]]}
                               for r in rows if r["instance_id"] in ranked}, indent=1))
    report(rows, ranked, signals, len(chosen), half)
    return 0


if __name__ == "__main__":
    sys.exit(main())
