"""`patchsmith swebench`: SWE-bench environments, evaluation and inference.

    patchsmith swebench eval --predictions FILE|gold|empty [--dataset D] --repo-cache DIR --run-id ID
                             [--instances IDS | --repo R] [--workers N] [--timeout S] [--ray [ADDRESS]]
    patchsmith swebench envs [--dataset D] --repo-cache DIR [--repo R] [--workers N] [--no-build]
    patchsmith swebench infer --model M --repo-cache DIR --run-id ID [--instances IDS | --repo R]
                              [--max-cost USD] [--max-total-cost USD] [--workers N] [--ray [ADDRESS]]

What a run runs on (dataset, instances, mirrors, run id) are this command's arguments; how it runs
is the settings tree's swebench part (swebench_runner/settings.py), with the shortcut flags above,
`--set swebench.KEY=VALUE` and the user's config file. A run folder keeps its settings.json, so a
rerun of the run id goes on with the same settings. Each action is an `add_*_arguments` and
`run_*` pair in ACTIONS.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from patchsmith.commands.arguments import folder_name


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


# The settings each action takes flags for (patchsmith/settings.py; swebench_runner/settings.py holds
# the swebench part); every other setting is still reached with --set or the config file.
EVAL_FLAGS = ("swebench.workers", "swebench.timeout", "swebench.grader", "swebench.image_registry", "swebench.ray")
INFER_FLAGS = ("model", "localize", "reproduce", "repair", "swebench.workers", "swebench.max_total_cost",
               "swebench.image_registry", "swebench.ray")
ENVS_FLAGS = ("swebench.workers",)


def _run_settings(args: argparse.Namespace, folder: Path):
    """The run's settings tree. A run id used before keeps what its settings.json saved, and only
    the flags given now change it (as `solve --resume` does); a new run layers the defaults, the
    config file, the environment and the flags."""
    import json

    from patchsmith.settings import resumed, load
    from patchsmith.swebench_runner.errors import SwebenchError

    path = folder / "settings.json"
    if not path.is_file():
        return load(args)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))["settings"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SwebenchError(f"cannot read the run's settings {path} ({exc}); remove it to take this command's "
                            "settings instead.") from None
    return resumed(saved, args)


def _settings_json(tree) -> str:
    """settings.json: the whole tree a run uses, written by the runner when the run starts and read
    back when the run id is used again."""
    import json

    from patchsmith import __version__
    from patchsmith.settings import to_dict

    return json.dumps({"patchsmith_version": __version__, "settings": to_dict(tree)}, indent=2) + "\n"


def _ray(part):
    """The Ray settings when the run goes to Ray (--ray, or swebench.ray.address set), else None."""
    from patchsmith.swebench_runner.ray_cluster import ray_module

    if part.ray.address is None:
        return None
    ray_module()  # says how to install it, before any work
    return part.ray


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    from patchsmith.settings import add_flags

    parser.add_argument("--predictions", required=True, help="predictions file (official JSON Lines), or gold, or empty")
    _add_selection(parser)
    add_flags(parser, EVAL_FLAGS)
    parser.add_argument("--run-id", type=folder_name, required=True,
                        help="names the run; rerunning it skips instances already graded and keeps the run's settings")
    parser.add_argument("--out", type=Path, default=Path("patchsmith-runs") / "swebench",
                        help="folder that holds run folders (default: patchsmith-runs/swebench)")


def add_envs_arguments(parser: argparse.ArgumentParser) -> None:
    from patchsmith.settings import add_flags

    _add_selection(parser)
    add_flags(parser, ENVS_FLAGS)
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

    run_dir = args.out / args.run_id
    tree = _run_settings(args, run_dir)
    part = tree.swebench
    ray_settings = _ray(part)
    instances, everything = _selected(args)
    predictions = load_predictions(args.predictions, instances)
    install_signal_handlers()
    settings = EvalSettings(run_dir=run_dir, repo_cache=args.repo_cache, cache_dir=cache_root(),
                            timeout=part.timeout, workers=part.workers, grader=part.grader, image_registry=part.image_registry,
                            settings_json=_settings_json(tree))
    from patchsmith.sandbox import registry

    registry.configure(settings.image_registry)  # checked before any work
    if ray_settings is not None:
        from patchsmith.swebench_runner.ray_eval import evaluate_on_ray

        summary = evaluate_on_ray(instances, predictions, settings, ray_settings, node_cache=cache_root, dataset=everything)
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
    from patchsmith.settings import load
    from patchsmith.swebench_runner.environments import environment_for
    from patchsmith.swebench_runner.specs import spec_for

    workers = load(args).swebench.workers
    instances, everything = _selected(args)
    keys = sorted({(i.repo, i.version) for i in instances}, key=lambda k: (k[0], [int(p) for p in k[1].split(".")]))
    install_signal_handlers()

    def one(key):
        spec = spec_for(*key)
        return spec, environment_for(spec, everything, args.repo_cache, cache_root(), args.log_dir,
                                     build=not args.no_build).build

    with ThreadPoolExecutor(max_workers=workers) as pool:
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
    add_flags(parser, INFER_FLAGS)  # --max-cost: dollars one instance may spend; --max-total-cost: the whole run
    parser.add_argument("--run-id", type=folder_name, required=True,
                        help="names the run; rerunning it skips instances already predicted and keeps the run's settings")
    parser.add_argument("--out", type=Path, default=Path("patchsmith-runs") / "swebench",
                        help="folder that holds run folders (default: patchsmith-runs/swebench)")


def run_infer(args: argparse.Namespace) -> int:
    from patchsmith.commands.solve import MODEL_HINT
    from patchsmith.instance_solver import instance_solver
    from patchsmith.paths import cache_root
    from patchsmith.swebench_runner.errors import SwebenchError
    from patchsmith.swebench_runner.inference import InferSettings, infer

    run_dir = args.out / args.run_id / "infer"
    solve_settings = _run_settings(args, run_dir)
    part = solve_settings.swebench
    if not solve_settings.model.model:
        raise SwebenchError(MODEL_HINT)
    from patchsmith.preflight import PreflightError, check_model

    _check_folders(args)  # the cheap checks first: the model's needs litellm loaded
    problems = check_model(solve_settings.model)  # before any environment is built or instance started
    if problems:
        raise PreflightError(problems)
    ray_settings = _ray(part)
    instances, everything = _selected(args)
    settings = InferSettings(
        run_dir=run_dir, repo_cache=args.repo_cache, cache_dir=cache_root(),
        model_name=solve_settings.model.model, max_total_cost=part.max_total_cost, workers=part.workers,
        image_registry=part.image_registry, settings_json=_settings_json(solve_settings),
    )
    from patchsmith.sandbox import registry

    registry.configure(settings.image_registry)  # checked before any work
    solver = instance_solver(solve_settings)  # refuses a cap on an unpriced model before anything starts
    if ray_settings is not None:
        from patchsmith.swebench_runner.ray_infer import infer_on_ray

        summary = infer_on_ray(instances, settings, functools.partial(instance_solver, solve_settings), ray_settings,
                               key_env=solve_settings.model.api_key_env, node_cache=cache_root, dataset=everything)
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
