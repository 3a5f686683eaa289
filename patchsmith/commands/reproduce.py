"""`patchsmith reproduce`: write and run a script that reproduces an issue, and pick the existing
tests that guard against regressions; print the chosen script, its output at the base commit,
and the regression set."""

from __future__ import annotations

import argparse
from pathlib import Path

from patchsmith.commands.localize import read_issue

PARTS = ("model", "localize", "reproduce", "sandbox")


class ReproduceCommandError(Exception):
    user_error = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from patchsmith.settings import add_flags

    parser.add_argument("--repo", required=True, help="a working tree or git directory")
    parser.add_argument("--commit", default=None, help="the base commit (default: the work tree, or HEAD)")
    parser.add_argument("--issue", required=True, help="a file holding the issue, its text, - for standard input, or a GitHub issue URL")
    add_flags(parser, PARTS)
    parser.add_argument("--files", default=None,
                        help="comma-separated paths to treat as the localization (skips `localize`)")
    parser.add_argument("--no-regression", action="store_true",
                        help="skip regression-test selection (the same as --set reproduce.select_tests=false)")
    parser.add_argument("--test-command", default=None, help="the repository's test command (default: its recipe's)")
    parser.add_argument("--parser", default=None, choices=("pytest", "unittest", "django", "sympy"),
                        help="how to read the test command's log (default: guessed from the command)")
    parser.add_argument("--out", type=Path, default=None, help="the run folder (default ./patchsmith-runs/<run-id>)")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from patchsmith.commands.solve import MODEL_HINT
    from patchsmith.pipeline import SolveRequest, start_run
    from patchsmith.preflight import check_run_folder
    from patchsmith.workspace import RecipeWorkspace
    from patchsmith.settings import load

    settings = load(args)
    if args.no_regression:
        settings = replace(settings, reproduce=replace(settings.reproduce, select_tests=False))
    if not settings.model.model:
        raise ReproduceCommandError(MODEL_HINT)
    issue = read_issue(args.issue)
    files = tuple(path.strip() for path in (args.files or "").split(",") if path.strip())
    workspace = RecipeWorkspace(args.repo, args.commit, settings.sandbox.base_image,
                                test_command=args.test_command or "", parser=args.parser or "")
    request = SolveRequest(repo=Path(args.repo), issue_title="", issue_body=issue, settings=settings, commit=args.commit,
                           out_dir=args.out, workspace=workspace, given_files=files)
    check_run_folder(args.out)  # one sentence, not a traceback from the first mkdir
    pipeline = start_run(request)
    pipeline.execute(until="reproduce")
    print_result(pipeline.repro, pipeline.regression)
    print(f"cost: {pipeline.model.cost_text}; run folder: {pipeline.run.path}")
    return 0


def print_result(report, selection) -> None:  # noqa: ANN001 - reproduce's records, imported lazily
    from rich.console import Console
    from rich.syntax import Syntax

    console = Console()
    verdicts = ", ".join(f"#{run.sample} {run.verdict}" + (f" ({run.reason})" if run.reason else "") for run in report.runs)
    console.print(f"[bold]samples at the base commit:[/bold] {verdicts}")
    console.print(report.note)
    if report.chosen is not None:
        console.print(f"[bold]chosen script[/bold] (sample {report.chosen.sample}, {report.chosen.votes} votes):")
        console.print(Syntax(report.chosen.script, "python", line_numbers=True))
        console.print("[bold]its output at the base commit:[/bold]")
        console.print(report.chosen.output_at_base.rstrip(), markup=False, highlight=False)
    if selection is None:
        return
    console.print(f"[bold]regression set:[/bold] {len(selection.tests)} tests in {len(selection.test_files)} files, "
                  f"{selection.seconds_at_base:.1f} s at base (budget {selection.budget_seconds:g} s)")
    for path in selection.test_files:
        console.print(f"  {path}", markup=False)
    if selection.removed_by_model:
        console.print("removed (the fix may change them): " + ", ".join(selection.removed_by_model), markup=False)
    if selection.failing_at_base:
        console.print(f"not passing at base (left out): {len(selection.failing_at_base)}")
    if selection.dropped_for_budget:
        console.print("left out for the budget: " + ", ".join(selection.dropped_for_budget), markup=False)
