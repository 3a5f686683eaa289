"""`patchsmith sandbox`: build a repository's environment image, or remove what runs left behind."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    prune = sub.add_parser("prune", help="remove containers and temporary images that crashed runs left behind")
    prune.add_argument("--live", action="store_true", help="also remove containers of patchsmith processes still running")
    prune.add_argument("--images", action="store_true", help="also remove every image patchsmith built (base, environment, SWE-bench instance)")
    prune.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    build = sub.add_parser("build", help="build (or find) the environment image of a repository and print its tag")
    build.add_argument("repo", nargs="?", default=".", help="the repository (a work tree or a git directory); default: .")
    build.add_argument("--commit", default=None, help="build from this commit (default: the work tree as it is)")
    build.add_argument("--base-image", default=None, help="a registry image to start from, e.g. python:3.11-slim")
    build.add_argument("--python", default=None, help="the Python version (3.9, 3.11 or 3.13 from Debian)")
    build.add_argument("--log", default=None, help="write the build log here")
    build.add_argument("--explain", action="store_true",
                       help="print the recipe: Python and why, the date, install commands, dropped requirements, test command")
    build.add_argument("--write-config", default=None, metavar="FILE",
                       help="write the recipe as an editable [tool.patchsmith.sandbox] table to FILE (refuses to overwrite)")
    build.add_argument("--no-build", action="store_true", help="with --explain or --write-config: infer the recipe only")
    build.add_argument("--inference", choices=("dated", "legacy"), default="dated",
                       help="how to infer the recipe: dated (the package world of the commit) or legacy (today's releases)")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from patchsmith import sandbox
    from patchsmith.paths import cache_root
    from patchsmith.sandbox.explain import explain, recipe_table

    if args.action == "prune":
        report = sandbox.prune(include_live=args.live, images=args.images, dry_run=args.dry_run)
        verb = "would remove" if args.dry_run else "removed"
        print(f"{verb} {len(report.containers)} container(s), {len(report.images)} image(s)")
        for name in report.containers + report.images:
            print(f"  {name}")
        return 0
    repo = Path(args.repo)
    if not repo.exists():
        raise sandbox.SandboxError(f"{repo} does not exist; name a repository folder.")
    commit = args.commit
    if commit is None and not (repo / ".git").exists() and (repo / "HEAD").is_file():
        commit = "HEAD"  # a bare git directory has no work tree to copy
    recipe = sandbox.infer_recipe(sandbox.read_dependency_files(repo, commit), mode=args.inference)
    if args.base_image:
        recipe = replace(recipe, base_image=args.base_image)
    if args.python:
        recipe = replace(recipe, python=args.python)
    if args.write_config:
        target = Path(args.write_config)
        if target.exists():
            raise sandbox.SandboxError(f"{target} exists; name a new file (the table goes under [tool.patchsmith.sandbox]).")
        target.write_text(recipe_table(recipe))
    if args.no_build and (args.explain or args.write_config):
        if args.explain:
            print(explain(recipe))
        return 0
    sandbox.install_signal_handlers()
    image = sandbox.build_env_image(repo, commit, recipe, cache_dir=cache_root() / "sandbox", log_path=args.log)
    if args.explain:
        print(explain(recipe, image.notes))
    print(image.tag)
    return 0
