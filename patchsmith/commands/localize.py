"""`patchsmith localize`: where an issue should be fixed in a repository, and what finding it cost."""

from __future__ import annotations

import argparse
from pathlib import Path


class LocalizeCommandError(Exception):
    user_error = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", required=True, help="a working tree or git directory")
    parser.add_argument("--commit", default=None, help="a revision to read without checking it out")
    parser.add_argument("--issue", required=True, help="a file holding the issue, its text, or a GitHub issue URL")
    parser.add_argument("--model", default=None, help="a litellm model string, e.g. anthropic/claude-sonnet-4-5")
    parser.add_argument("--api-base", default=None, help="the server of a self-hosted model (hosted_vllm, ollama, ...)")
    parser.add_argument("--samples", type=int, default=None, help="answers asked for at the line step (default 4)")
    parser.add_argument("--cost-cap", type=float, default=None, help="stop when this many dollars are spent")
    parser.add_argument("--price", default=None, metavar="IN,OUT",
                        help="dollars per million input and output tokens, for a model litellm has no price for")
    parser.add_argument("--context-window", type=int, default=None, help="the model's context window, when litellm does not know it")
    parser.add_argument("--out", type=Path, default=None, help="the run folder (default ./patchsmith-runs/<run-id>)")
    parser.add_argument("--dry-run", action="store_true", help="count each prompt's tokens; call no model")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_failing_test_arguments(parser)


def add_failing_test_arguments(parser: argparse.ArgumentParser) -> None:
    """--failing-test and --no-model (issue 19): kept apart so they move to the settings tree as one hunk."""
    parser.add_argument("--failing-test", action="append", default=[], metavar="NODEID",
                        help="a test that shows the bug (repeatable): run under coverage in the sandbox, it ranks "
                             "what it executed")
    parser.add_argument("--no-model", action="store_true",
                        help="call no model: retrieval alone, fused with execution when --failing-test is given")


def read_issue(value: str) -> str:
    """The issue's text from a file, the text itself or a GitHub issue URL (patchsmith.issue_source)."""
    from patchsmith.issue_source import read_issue as read_source

    title, body = read_source(value)
    return f"{title}\n\n{body}" if title else body


def parse_price(value: str | None) -> tuple[float, float] | None:
    """'3,15' (dollars per million input, output tokens) as dollars per token."""
    if value is None:
        return None
    try:
        price_in, price_out = (float(part) / 1_000_000 for part in value.split(","))
    except ValueError:
        raise LocalizeCommandError(f"--price takes two numbers, IN,OUT in dollars per million tokens, not {value!r}") from None
    return price_in, price_out


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict, replace

    from patchsmith import repo_index
    from patchsmith.localize import LocalizeSettings, localize
    from patchsmith import __version__
    from patchsmith.llm import DryRunModel, Model, ModelSettings
    from patchsmith.runs import RunFolder
    from patchsmith.settings import cache_root

    if not args.model and not args.no_model:
        raise LocalizeCommandError("give --model M (a litellm model string), or --no-model for retrieval and execution alone")
    issue = read_issue(args.issue)
    price = parse_price(args.price)
    settings = LocalizeSettings()
    if args.samples is not None:
        if args.samples < 1:
            raise LocalizeCommandError("--samples must be at least 1")
        settings = replace(settings, line_samples=args.samples)
    index = repo_index.build_index(args.repo, commit=args.commit, cache_dir=cache_root() / "index")

    if args.no_model:
        print_no_model(args, index, issue, settings)
        return 0
    if args.dry_run:
        model = DryRunModel(args.model, context_window=args.context_window)
        result = localize(index, issue, model, settings)
        print_dry_run(result, model, as_json=args.json)
        return 0

    run_folder = RunFolder.create(args.out)
    run_folder.write_text("issue.md", issue)
    model_settings = ModelSettings(
        model=args.model, api_base=args.api_base, context_window=args.context_window, price_per_token=price
    )
    run_folder.write_json(
        "settings.json",
        {"patchsmith": __version__, "repo": args.repo, "commit": args.commit, "model": asdict(model_settings),
         "cost_cap": args.cost_cap, "localize": asdict(settings)},
    )
    model = Model(model_settings, ledger_path=run_folder.ledger_path, cost_cap=args.cost_cap)
    result = localize_maybe_executed(args, index, issue, model, settings, run_folder.path / "logs")
    run_folder.save_stage("localize", result)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_result(result)
    prompt, completion = model.ledger.tokens()
    unknown = model.ledger.unknown_cost_calls
    cost = f"${model.spent:.4f}" + (f" (+ {unknown} calls of unknown price)" if unknown else "")
    print(f"cost: {cost}; tokens: {prompt} prompt, {completion} completion; run folder: {run_folder.path}")
    if unknown and args.cost_cap is not None:
        print("note: litellm has no price for this model, so --cost-cap cannot count it; give --price IN,OUT")
    return 0


def localize_maybe_executed(args: argparse.Namespace, index, issue: str, model, settings, logs: Path):  # noqa: ANN001, ANN201
    """localize(), or with --failing-test the pipeline up to localization with those tests measured."""
    from patchsmith.localize import localize

    if not args.failing_test:
        return localize(index, issue, model, settings)
    from patchsmith.measure import localize_with_failing_tests

    return localize_with_failing_tests(args.repo, args.commit, index, issue, model, settings, tuple(args.failing_test), logs)


def print_no_model(args: argparse.Namespace, index, issue: str, settings) -> None:  # noqa: ANN001 - lazily imported types
    """Retrieval alone, or fused with what the --failing-test tests executed: no model is called."""
    import json
    import tempfile

    from patchsmith.llm import DryRunModel

    # Prompts are still built (and budgeted) as for a 128k-token model: what they would show decides
    # which files the element step falls back to.
    model = DryRunModel(args.model or "openai/no-model", context_window=args.context_window or 128_000)
    logs = args.out / "logs" if args.out else Path(tempfile.mkdtemp(prefix="patchsmith-localize-"))
    result = localize_maybe_executed(args, index, issue, model, settings, logs)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return
    print_result(result)
    if result.execution is not None:
        print("executed by the failing tests (Ochiai):")
        for scored in result.execution.elements[:10]:
            print(f"  {scored.score:.3f}  {scored.element.path}::{scored.element.qualname}")


def print_result(result) -> None:  # noqa: ANN001 - localize.Localization, imported lazily
    from rich.console import Console
    from rich.table import Table

    console = Console()
    files = Table(title="files", show_edge=False)
    for column in ("#", "path", "from", "score"):
        files.add_column(column)
    for rank, ranked in enumerate(result.files.files[:10], start=1):
        files.add_row(str(rank), ranked.path, "+".join(ranked.sources), f"{ranked.score:.4f}")
    console.print(files)
    if result.files.dropped:
        console.print(f"paths the model invented (dropped): {', '.join(result.files.dropped)}")
    console.print("elements: " + (", ".join(f"{e.path}::{e.qualname}" for e in result.elements.elements) or "none"))
    console.print(f"edit locations ({len(result.edits.samples)} sample sets, union shown):")
    for location in result.edits.union:
        name = f"  {location.element}" if location.element else ""
        console.print(f"  {location.path}:{location.start}-{location.end}{name}")
    for report in result.reports:
        how = f"fell back to retrieval: {report.fallback}" if report.fallback else "model answer used"
        console.print(f"step {report.step}: {report.prompt_tokens} prompt tokens, {how}")


def print_dry_run(result, model, *, as_json: bool) -> None:  # noqa: ANN001 - lazily imported types
    import json

    steps = {r.step: r.prompt_tokens for r in result.reports}
    if as_json:
        print(json.dumps({"model": model.name, "context_window": model.context_window, "prompt_tokens": steps,
                          "total": result.prompt_tokens}))
        return
    print(f"dry run for {model.name} (context window {model.context_window}): no model called")
    for step, tokens in steps.items():
        print(f"  {step:<9} {tokens:>7} prompt tokens")
    print(f"  {'total':<9} {result.prompt_tokens:>7} prompt tokens")
