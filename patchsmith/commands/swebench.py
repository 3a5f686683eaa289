"""`patchsmith swebench`: SWE-bench Lite environments and evaluation.

    patchsmith swebench eval --predictions FILE|gold|empty --dataset FILE [--instances IDS | --repo R]
                             --repo-cache DIR --workers N --run-id ID [--timeout S] [--out DIR]
    patchsmith swebench envs --dataset FILE --repo-cache DIR [--repo R] [--no-build]
    patchsmith swebench infer --model M --repo-cache DIR --run-id ID [--instances IDS | --repo R]
                              [--samples N] [--max-cost USD] [--max-total-cost USD] [--workers N]

Each action is a sub-subcommand with its own `add_*_arguments` and `run_*` pair, so that
further actions (inference) slot into ACTIONS without touching the others.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from patchsmith.commands.arguments import folder_name, positive_float, positive_int


def _add_selection(parser: argparse.ArgumentParser) -> None:
    from patchsmith.swebench_runner.dataset import DEFAULT_DATASET

    parser.add_argument("--dataset", default=DEFAULT_DATASET,
                        help="a JSON Lines (or JSON) file of instances, or a Hugging Face Hub name[:split] such as "
                             "SWE-bench/SWE-bench_Verified (needs the optional datasets package and a network; "
                             f"default: {DEFAULT_DATASET}, split test)")
    parser.add_argument("--repo-cache", type=Path, required=True,
                        help="folder of git mirrors named owner+name, owner__name or owner/name (absent ones are cloned)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--instances", nargs="+", metavar="ID",
                       help="instance ids: separate words, or one string with commas or blanks")
    group.add_argument("--repo", help="only this repository (owner/name)")


def _add_ray(parser: argparse.ArgumentParser) -> None:
    """--ray [ADDRESS] and the Ray settings' flags (swebench_runner/ray_cluster.RaySettings)."""
    from dataclasses import fields

    from patchsmith.swebench_runner.ray_cluster import RaySettings

    parser.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                        help="run each instance as a task on a Ray cluster: auto, ray://HOST:10001 or HOST:PORT; "
                             "no ADDRESS starts a local Ray (needs the ray extra)")
    for item in fields(RaySettings):
        if "flag" in item.metadata:
            parser.add_argument(item.metadata["flag"], dest=f"ray_{item.name}", type=type(item.default),
                                default=item.default, help=item.metadata["help"])


def _ray_settings(args: argparse.Namespace):
    """The RaySettings the flags give, or None without --ray."""
    from dataclasses import fields

    from patchsmith.swebench_runner.errors import SwebenchError
    from patchsmith.swebench_runner.ray_cluster import RaySettings, ray_module

    if args.ray is None:
        return None
    ray_module()  # says how to install it, before any work
    values = {item.name: getattr(args, f"ray_{item.name}") for item in fields(RaySettings) if "flag" in item.metadata}
    if values["cpus_per_instance"] <= 0 or values["memory_gb_per_instance"] <= 0:
        raise SwebenchError("--ray-cpus and --ray-memory-gb must be positive.")
    return RaySettings(address=args.ray or None, **values)


def _add_registry(parser: argparse.ArgumentParser, settings_class) -> None:
    registry = settings_class.__dataclass_fields__["image_registry"]
    parser.add_argument(registry.metadata["flag"], dest="image_registry", metavar="HOST:PORT", default=registry.default,
                        help=registry.metadata["help"])


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--predictions", required=True, help="predictions file (official JSON Lines), or gold, or empty")
    _add_selection(parser)
    _add_ray(parser)
    parser.add_argument("--workers", type=positive_int, default=1, help="instances evaluated at once (default 1)")
    parser.add_argument("--run-id", type=folder_name, required=True, help="names the run; rerunning it skips instances already graded")
    parser.add_argument("--timeout", type=positive_float, default=1800.0, help="seconds allowed for one instance's tests")
    from patchsmith.swebench_runner.evaluation import EvalSettings

    grader = EvalSettings.__dataclass_fields__["grader"]
    parser.add_argument("--grader", choices=("ours", "official"), default=grader.default, help=grader.metadata["help"])
    _add_registry(parser, EvalSettings)
    parser.add_argument("--out", type=Path, default=Path("patchsmith-runs") / "swebench",
                        help="folder that holds run folders (default: patchsmith-runs/swebench)")


def add_envs_arguments(parser: argparse.ArgumentParser) -> None:
    _add_selection(parser)
    parser.add_argument("--workers", type=positive_int, default=1, help="environments built at once (default 1)")
    parser.add_argument("--no-build", action="store_true", help="report only; build nothing")
    parser.add_argument("--log-dir", type=Path, default=Path("patchsmith-runs") / "swebench" / "env-logs")


def _check_folders(args: argparse.Namespace) -> None:
    """The folders a run writes can be written, and --repo-cache is no file: one sentence each,
    before a dataset is loaded. A read-only --repo-cache is fine (shared mirrors): it is written
    only to clone a missing repository."""
    from patchsmith.preflight import check_run_folder
    from patchsmith.swebench_runner.errors import SwebenchError

    if args.repo_cache.exists() and not args.repo_cache.is_dir():
        raise SwebenchError(f"--repo-cache {args.repo_cache} is a file; give the folder that holds the git mirrors.")
    if getattr(args, "run_id", None):
        check_run_folder(args.out / args.run_id, "the run folder (--out/--run-id)")
    if getattr(args, "log_dir", None) and not args.no_build:
        check_run_folder(args.log_dir, "the --log-dir folder")


def _selected(args: argparse.Namespace):
    from patchsmith.swebench_runner.dataset import load_instances
    from patchsmith.swebench_runner.errors import SwebenchError

    _check_folders(args)
    wanted = " ".join(args.instances).replace(",", " ").split() if args.instances else []
    if args.instances and not wanted:  # checked before a dataset is loaded, which may take a while
        raise SwebenchError(f"--instances names no instance id ({' '.join(args.instances)!r}); give ids such as "
                            "django__django-11099, or leave it out for every instance.")
    instances = everything = load_instances(args.dataset)
    if wanted:
        known = {i.instance_id for i in instances}
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise SwebenchError(f"{', '.join(unknown[:5])} not in {args.dataset}.")
        instances = [i for i in instances if i.instance_id in set(wanted)]
    elif args.repo:
        instances = [i for i in instances if i.repo == args.repo]
        if not instances:
            raise SwebenchError(f"no instance of {args.repo} in {args.dataset}.")
    return instances, everything


def run_eval(args: argparse.Namespace) -> int:
    from patchsmith.paths import cache_root
    from patchsmith.sandbox.engine import install_signal_handlers
    from patchsmith.swebench_runner.evaluation import EvalSettings, evaluate
    from patchsmith.swebench_runner.predictions import load_predictions

    ray_settings = _ray_settings(args)
    instances, everything = _selected(args)
    predictions = load_predictions(args.predictions, instances)
    install_signal_handlers()
    settings = EvalSettings(run_dir=args.out / args.run_id, repo_cache=args.repo_cache, cache_dir=cache_root(),
                            timeout=args.timeout, workers=args.workers, grader=args.grader, image_registry=args.image_registry)
    from patchsmith.sandbox import registry

    registry.configure(settings.image_registry)  # checked before any work
    if ray_settings is not None:
        from patchsmith.swebench_runner.ray_eval import evaluate_on_ray

        summary = evaluate_on_ray(instances, predictions, settings, ray_settings, node_cache=cache_root,
                                  progress=lambda line: print(line, flush=True), dataset=everything)
    else:
        summary = evaluate(instances, predictions, settings, progress=lambda line: print(line, flush=True), dataset=everything)
    ours = summary["patchsmith"]
    print(
        f"total {summary['total_instances']}, submitted {summary['submitted_instances']}, "
        f"completed {summary['completed_instances']}, resolved {summary['resolved_instances']}, "
        f"unresolved {summary['unresolved_instances']}, empty patch {summary['empty_patch_instances']} "
        f"(graded {len(ours['empty_patch_graded_ids'])}, resolved {len(ours['empty_patch_resolved_ids'])}), "
        f"error {summary['error_instances']} (environment build failures {ours['environment_build_failures']}); "
        f"grading rules: {ours['grading_rules']}"
    )
    print(f"reports: {settings.run_dir}")
    if settings.grader == "official":
        return _official_regrade(settings, everything)
    return 0


def _official_regrade(settings, instances) -> int:
    from patchsmith.swebench_runner.official_grades import describe, regrade

    result = regrade(settings.run_dir, {i.instance_id: i for i in instances}, lambda i: settings.spec(i.repo, i.version).parser)
    for difference in result["differences"]:
        print(describe(difference))
    print(f"official grader (swebench {result['version']}): {result['graded']} instance(s) re-graded, "
          f"{len(result['differences'])} difference(s)")
    return 1 if result["differences"] else 0


def run_envs(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from rich.console import Console
    from rich.table import Table

    from patchsmith.paths import cache_root
    from patchsmith.sandbox.engine import install_signal_handlers
    from patchsmith.swebench_runner.environments import environment_for
    from patchsmith.swebench_runner.specs import spec_for

    instances, everything = _selected(args)
    keys = sorted({(i.repo, i.version) for i in instances}, key=lambda k: (k[0], [int(p) for p in k[1].split(".")]))
    install_signal_handlers()

    def one(key):
        spec = spec_for(*key)
        return spec, environment_for(spec, everything, args.repo_cache, cache_root(), args.log_dir,
                                     build=not args.no_build).build

    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        results = list(pool.map(one, keys))
    table = Table(title="SWE-bench environment images")
    for column in ("repo", "version", "Python wanted", "Python used", "built", "build time", "size", "note"):
        table.add_column(column)
    for spec, build in results:
        note = "" if build.built else build.error.strip().splitlines()[-1][:80] if build.error else ""
        table.add_row(spec.repo, spec.version, spec.python_wanted, spec.python, "yes" if build.built else "no",
                      f"{build.seconds:.0f}s" if build.seconds else "-",
                      f"{build.size_bytes / 1e9:.2f} GB" if build.size_bytes else "-", note)
    Console(width=160).print(table)
    return 0 if all(build.built for _, build in results) or args.no_build else 1


def add_infer_arguments(parser: argparse.ArgumentParser) -> None:
    from patchsmith.settings import add_flags

    _add_selection(parser)
    _add_ray(parser)
    add_flags(parser, ("model", "localize", "reproduce", "repair"))  # --max-cost: dollars one instance may spend
    parser.add_argument("--max-total-cost", type=positive_float, default=None, help="dollars the run may spend; no instance starts past it")
    parser.add_argument("--workers", type=positive_int, default=1, help="instances solved at once (default 1)")
    from patchsmith.swebench_runner.inference import InferSettings

    _add_registry(parser, InferSettings)
    parser.add_argument("--run-id", type=folder_name, required=True, help="names the run; rerunning it skips instances already predicted")
    parser.add_argument("--out", type=Path, default=Path("patchsmith-runs") / "swebench",
                        help="folder that holds run folders (default: patchsmith-runs/swebench)")


def run_infer(args: argparse.Namespace) -> int:
    from patchsmith.commands.solve import MODEL_HINT
    from patchsmith.instance_solver import instance_solver
    from patchsmith.paths import cache_root
    from patchsmith.swebench_runner.errors import SwebenchError
    from patchsmith.swebench_runner.inference import InferSettings, infer

    from patchsmith.settings import load

    solve_settings = load(args)
    if not solve_settings.model.model:
        raise SwebenchError(MODEL_HINT)
    from patchsmith.preflight import PreflightError, check_model

    _check_folders(args)  # the cheap checks first: the model's needs litellm loaded
    problems = check_model(solve_settings.model)  # before any environment is built or instance started
    if problems:
        raise PreflightError(problems)
    ray_settings = _ray_settings(args)
    instances, everything = _selected(args)
    settings = InferSettings(
        run_dir=args.out / args.run_id / "infer", repo_cache=args.repo_cache, cache_dir=cache_root(),
        model_name=solve_settings.model.model, max_total_cost=args.max_total_cost, workers=args.workers,
        image_registry=args.image_registry,
    )
    from patchsmith.sandbox import registry

    registry.configure(settings.image_registry)  # checked before any work
    solver = instance_solver(solve_settings)  # refuses a cap on an unpriced model before anything starts
    if ray_settings is not None:
        from patchsmith.swebench_runner.ray_infer import infer_on_ray

        summary = infer_on_ray(instances, settings, functools.partial(instance_solver, solve_settings), ray_settings,
                               key_env=solve_settings.model.api_key_env, node_cache=cache_root,
                               progress=lambda line: print(line, flush=True), dataset=everything)
    else:
        summary = infer(instances, settings, solver, dataset=everything)
    print(f"{len(summary['with_patch'])} of {summary['total']} instances have a patch; cost ${summary['cost_usd']:.4f}; "
          f"predictions: {summary['predictions']}")
    return 0


ACTIONS = {
    "infer": (add_infer_arguments, run_infer, "solve instances and write predictions (official JSON Lines)"),
    "eval": (add_eval_arguments, run_eval, "evaluate predictions (a file, gold or empty) and grade them"),
    "envs": (add_envs_arguments, run_envs, "build or report the environment image of each (repo, version)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, (add, _, text) in ACTIONS.items():
        add(actions.add_parser(name, help=text, description=text))


def run(args: argparse.Namespace) -> int:
    return ACTIONS[args.action][1](args)
