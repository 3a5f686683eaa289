"""`patchsmith reproduce`: write and run a script that reproduces an issue, and pick the existing
tests that guard against regressions; print the chosen script, its output at the base commit,
and the regression set."""

from __future__ import annotations

import argparse
from pathlib import Path

from patchsmith.commands.localize import parse_price, read_issue


class ReproduceCommandError(Exception):
    user_error = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", required=True, help="a working tree or git directory")
    parser.add_argument("--commit", default=None, help="the base commit (default: the work tree, or HEAD)")
    parser.add_argument("--issue", required=True, help="a file holding the issue, or the issue's text")
    parser.add_argument("--model", required=True, help="a litellm model string, e.g. anthropic/claude-sonnet-4-5")
    parser.add_argument("--api-base", default=None, help="the server of a self-hosted model (hosted_vllm, ollama, ...)")
    parser.add_argument("--price", default=None, metavar="IN,OUT",
                        help="dollars per million input and output tokens, for a model litellm has no price for")
    parser.add_argument("--cost-cap", type=float, default=None, help="stop when this many dollars are spent")
    parser.add_argument("--files", default=None,
                        help="comma-separated paths to treat as the localization (skips `localize`)")
    parser.add_argument("--samples", type=int, default=4, help="reproduction scripts sampled (default 4)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds each script may run (default 60)")
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds the selected regression tests may take at the base commit (default 120)")
    parser.add_argument("--no-regression", action="store_true", help="skip regression-test selection")
    parser.add_argument("--test-command", default=None, help="the repository's test command (default: its recipe's)")
    parser.add_argument("--parser", default=None, choices=("pytest", "unittest", "django", "sympy"),
                        help="how to read the test command's log (default: guessed from the command)")
    parser.add_argument("--out", type=Path, default=None, help="the run folder (default ./patchsmith-runs/<run-id>)")


def run(args: argparse.Namespace) -> int:
    from patchsmith import repo_index
    from patchsmith.llm import Model, ModelSettings
    from patchsmith.pipeline import RecipeWorkspace, guess_parser
    from patchsmith.runs import RunFolder, new_run_id
    from patchsmith.settings import cache_root
    from patchsmith.reproduce import CommandTestRunner, RegressionSettings, ReproSettings, sample_and_run, select_regression_tests

    issue = read_issue(args.issue)
    if args.samples < 1:
        raise ReproduceCommandError("--samples must be at least 1")
    if args.timeout <= 0 or args.budget <= 0:
        raise ReproduceCommandError("--timeout and --budget must be positive numbers of seconds")
    index = repo_index.build_index(args.repo, commit=args.commit, cache_dir=cache_root() / "index")
    run_folder = RunFolder(args.out or Path("patchsmith-runs") / (new_run_id() + "-reproduce"))
    run_folder.write_text("issue.md", issue)
    model = Model(
        ModelSettings(model=args.model, api_base=args.api_base, price_per_token=parse_price(args.price)),
        ledger_path=run_folder.ledger_path,
        cost_cap=args.cost_cap,
    )
    if args.files:
        locations: object = [path.strip() for path in args.files.split(",") if path.strip()]
        unknown = [path for path in locations if path not in index.files]  # type: ignore[union-attr]
        if unknown:
            raise ReproduceCommandError(f"--files names paths the repository does not have: {', '.join(unknown)}")
    else:
        from patchsmith.localize import localize

        locations = localize(index, issue, model)
        run_folder.save_stage("localize", locations)

    workspace = RecipeWorkspace(args.repo, args.commit)
    with workspace.start(run_folder.path / "logs") as box:
        report = sample_and_run(issue, locations, box, model, ReproSettings(samples=args.samples, timeout=args.timeout),
                                index=index)
        selection = None
        if not args.no_regression:
            test_command = args.test_command or workspace.test_command
            tests = CommandTestRunner(box, test_command, args.parser or guess_parser(test_command))
            selection = select_regression_tests(index, locations, tests, model=model, issue_text=issue,
                                                 settings=RegressionSettings(budget_seconds=args.budget))
    run_folder.save_stage("reproduce", {"repro": report.to_dict(), "regression": selection.to_dict() if selection else None})
    print_result(report, selection)
    print(f"cost: {model.cost_text}; run folder: {run_folder.path}")
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
