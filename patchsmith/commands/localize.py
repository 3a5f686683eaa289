"""`patchsmith localize`: where an issue should be fixed in a repository, and what finding it cost."""

from __future__ import annotations

import argparse
from pathlib import Path


class LocalizeCommandError(Exception):
    user_error = True


PARTS = ("model", "localize")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from patchsmith.settings import add_flags

    parser.add_argument("--repo", required=True, help="a working tree or git directory")
    parser.add_argument("--commit", default=None, help="a revision to read without checking it out")
    parser.add_argument("--issue", required=True, help="a file holding the issue, its text, - for standard input, or a GitHub issue URL")
    add_flags(parser, PARTS)
    parser.add_argument("--out", type=Path, default=None, help="the run folder (default ./patchsmith-runs/<run-id>)")
    parser.add_argument("--dry-run", action="store_true",
                        help="count each prompt's tokens (with the model's tokenizer when one is named); call no model")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
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


DRY_RUN_TOKENIZER = "openai/gpt-4o"  # counts prompt tokens when a dry run names no model


def run(args: argparse.Namespace) -> int:
    import json

    from patchsmith.commands.solve import MODEL_HINT
    from patchsmith.llm import DryRunModel
    from patchsmith.localize.elements import element_key
    from patchsmith.pipeline import SolveRequest, start_run
    from patchsmith.preflight import check_run_folder
    from patchsmith.settings import load

    settings = load(args)
    issue = read_issue(args.issue)
    if not settings.model.model and not (args.no_model or args.dry_run):
        raise LocalizeCommandError(MODEL_HINT + ", or give --no-model for retrieval (and execution) alone")
    request = SolveRequest(repo=Path(args.repo), issue_title="", issue_body=issue, settings=settings, commit=args.commit,
                           out_dir=args.out, failing_tests=tuple(args.failing_test))
    # --no-model and --dry-run: prompts are still built (and budgeted: for the named model's window,
    # or as for a 128k-token model) and answered by nothing, so every step falls back to retrieval
    # (fused with execution); a dry run reports each prompt's tokens.
    window = settings.model.context_window or (None if args.dry_run and settings.model.model else 128_000)
    dry = DryRunModel(settings.model.model or DRY_RUN_TOKENIZER, context_window=window) \
        if args.no_model or args.dry_run else None
    check_run_folder(args.out)  # one sentence, not a traceback from the first mkdir
    pipeline = start_run(request, model=dry)
    pipeline.execute(until="localize")
    result, model = pipeline.localization, pipeline.model
    if args.dry_run:
        print_dry_run(result, model, as_json=args.json, run_dir=pipeline.run.path)
        return 0
    if args.json:  # standard output is the JSON alone, for a pipe
        print(json.dumps(result.to_json(), indent=2))
        return 0
    print_result(result)
    if result.execution is not None:
        print("executed by the failing tests (Ochiai):")
        for scored in result.execution.elements[:10]:
            print(f"  {scored.score:.3f}  {element_key(scored.element)}")
        if result.execution.named:
            print("named in the failing tests' output: " + ", ".join(f.path for f in result.execution.named[:5]))
        if result.execution.named_after:
            print("the failing tests are named after: "
                  + ", ".join(element_key(s.element) for s in result.execution.named_after[:5]))
    prompt, completion = model.ledger.tokens()
    print(f"cost: {model.cost_text}; tokens: {prompt} prompt, {completion} completion; run folder: {pipeline.run.path}")
    return 0


def print_result(result) -> None:  # noqa: ANN001 - localize.Localization, imported lazily
    from rich.console import Console
    from rich.table import Table

    from patchsmith.localize.elements import element_key

    console = Console()
    files = Table(title="files", show_edge=False)
    for column in ("#", "path", "from", "score"):
        files.add_column(column)
    for rank, ranked in enumerate(result.files.files[:10], start=1):
        files.add_row(str(rank), ranked.path, "+".join(ranked.sources), f"{ranked.score:.4f}")
    console.print(files)
    if result.files.dropped:
        console.print(f"paths the model invented (dropped): {', '.join(result.files.dropped)}")
    console.print("elements: " + (", ".join(element_key(e) for e in result.elements.elements) or "none"))
    console.print(f"edit locations ({len(result.edits.samples)} sample sets, union shown):")
    for location in result.edits.union:
        name = f"  {location.element}" if location.element else ""
        console.print(f"  {location.path}:{location.start}-{location.end}{name}")
    for report in result.reports:
        how = f"fell back to retrieval: {report.fallback}" if report.fallback else "model answer used"
        console.print(f"step {report.step}: {report.prompt_tokens} prompt tokens, {how}")


def print_dry_run(result, model, *, as_json: bool, run_dir: Path) -> None:  # noqa: ANN001 - lazily imported types
    import json

    steps = {r.step: r.prompt_tokens for r in result.reports}
    if as_json:
        print(json.dumps({"model": model.name, "context_window": model.context_window, "prompt_tokens": steps,
                          "total": result.prompt_tokens, "run_folder": str(run_dir)}))
        return
    print(f"dry run for {model.name} (context window {model.context_window}): no model called")
    for step, tokens in steps.items():
        print(f"  {step:<9} {tokens:>7} prompt tokens")
    print(f"  {'total':<9} {result.prompt_tokens:>7} prompt tokens")
    print(f"run folder: {run_dir}")
