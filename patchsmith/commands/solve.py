"""`patchsmith solve`: one repository, one issue, one validated diff (or the reason there is none)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

MODEL_HINT = (
    "no model is configured: pass --model (any litellm model string, e.g. anthropic/claude-sonnet-4-5) "
    "or set PATCHSMITH_MODEL, and set the provider's key variable (e.g. ANTHROPIC_API_KEY or OPENAI_API_KEY)"
)


class SolveCommandError(Exception):
    user_error = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", help="a repository: a local path, or a git URL to clone")
    parser.add_argument("--issue", help="the issue: a file, its text, or a GitHub issue URL")
    parser.add_argument("--model", default=None, help="a litellm model string (default: $PATCHSMITH_MODEL)")
    parser.add_argument("--api-base", default=os.environ.get("PATCHSMITH_API_BASE"),
                        help="an OpenAI-compatible server for the model (default: $PATCHSMITH_API_BASE)")
    parser.add_argument("--commit", default=None, help="a commit to fix instead of the working tree")
    parser.add_argument("--samples", type=int, default=4, help="repair candidates per location set (default 4)")
    parser.add_argument("--max-cost", type=float, default=None, help="stop once this many dollars are spent")
    parser.add_argument("--base-image", default=None, help="a registry image (e.g. python:3.11-slim) instead of a debootstrap base")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--apply", action="store_true", help="apply the chosen diff to the repository's working tree")
    target.add_argument("--branch", default=None, help="commit the chosen diff on a new branch of this name")
    parser.add_argument("--out", type=Path, default=None, help="the run folder (default ./patchsmith-runs/<run-id>)")
    parser.add_argument("--resume", type=Path, default=None, metavar="DIR", help="continue a stopped run from its folder")
    # Issue 19: the named tests are the reproduction (no model-written script) and feed localization.
    parser.add_argument("--failing-test", action="append", default=[], metavar="NODEID",
                        help="a test that shows the bug (repeatable); the fix must make it pass and may not edit it")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(stderr=True)
    request = _request(args)
    from patchsmith.pipeline import solve

    def progress(stage: str, message: str) -> None:
        console.print(f"[bold cyan]{stage:>11}[/] {message}", highlight=False)

    outcome = solve(request, progress)
    out = Console()
    if outcome.patch:
        out.print(outcome.patch, markup=False, highlight=False, end="")
        _deliver(args, request.repo, outcome.patch)
    cost = "unknown" if outcome.cost_usd is None else f"${outcome.cost_usd:.4f}"
    console.print(
        f"\n[bold]{'fixed' if outcome.patch else 'no fix: ' + str(outcome.failure)}[/] "
        f"files: {', '.join(outcome.files_touched) or '-'}; "
        f"regression tests: {outcome.tests_passed}/{outcome.tests_run} passed; "
        f"reproduction: {outcome.repro_verdict}; cost: {cost}; time: {outcome.seconds:.0f} s",
        highlight=False,
    )
    if outcome.failure_detail:
        console.print(outcome.failure_detail, markup=False, highlight=False)
    console.print(f"run folder: {outcome.out_dir} (report.md)", highlight=False)
    return 0 if outcome.patch else 1


def _request(args: argparse.Namespace):  # noqa: ANN202 - patchsmith.pipeline.SolveRequest
    import json

    from patchsmith.pipeline import SolveRequest

    model = args.model or os.environ.get("PATCHSMITH_MODEL")
    if args.resume:
        settings_file = args.resume / "settings.json"
        if not settings_file.is_file():
            raise SolveCommandError(f"{args.resume} is not a run folder (it has no settings.json)")
        saved = json.loads(settings_file.read_text(encoding="utf-8"))
        issue = (args.resume / "issue.md").read_text(encoding="utf-8")
        fields = {k: v for k, v in saved.items() if k in SolveRequest.__dataclass_fields__}
        fields.update(repo=Path(saved["repo"]), out_dir=args.resume, issue_title="", issue_body=issue, resume=True)
        if model:
            fields["model"] = model
        return SolveRequest(**fields)
    if not args.repo or not args.issue:
        raise SolveCommandError("give --repo and --issue (or --resume DIR)")
    if not model:
        raise SolveCommandError(MODEL_HINT)
    if args.samples < 1:
        raise SolveCommandError("--samples must be at least 1")
    from patchsmith.issue_source import read_issue

    title, body = read_issue(args.issue)
    return SolveRequest(
        repo=_local_repo(args.repo),
        issue_title=title,
        issue_body=body,
        model=model,
        samples=args.samples,
        max_cost=args.max_cost,
        out_dir=args.out,
        base_image=args.base_image,
        api_base=args.api_base,
        commit=args.commit,
        failing_tests=tuple(args.failing_test),
    )


def _local_repo(value: str) -> Path:
    """A local folder as it is; a URL cloned into the cache (once; later runs fetch)."""
    if "://" not in value and not value.startswith("git@"):
        path = Path(value).expanduser()
        if not path.is_dir():
            raise SolveCommandError(f"{value} is not a folder")
        return path.resolve()
    import hashlib

    import git

    from patchsmith.settings import cache_root

    dest = cache_root() / "repos" / hashlib.sha256(value.encode()).hexdigest()[:16]
    try:
        if (dest / ".git").is_dir():
            git.Repo(dest).remotes.origin.pull()
        else:
            git.Repo.clone_from(value, dest)
    except git.GitCommandError as exc:
        raise SolveCommandError(f"could not clone {value}: {exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else exc}") from None
    return dest


def _deliver(args: argparse.Namespace, repo: Path, patch: str) -> None:
    """--apply: the diff applied to the working tree; --branch: committed on a new branch."""
    if not (args.apply or args.branch):
        return
    import tempfile

    import git

    try:
        repository = git.Repo(repo, search_parent_directories=True)
    except git.InvalidGitRepositoryError:
        raise SolveCommandError(f"{repo} is not a git repository, so the diff cannot be applied; it is in the run folder") from None
    prefix = os.path.relpath(repo, repository.working_tree_dir)
    with tempfile.NamedTemporaryFile("w", suffix=".diff", delete=False) as handle:
        handle.write(patch)
    try:
        extra = [] if prefix == "." else [f"--directory={prefix}"]
        if args.branch:
            repository.git.checkout("-b", args.branch)
        repository.git.apply(*extra, handle.name)
        if args.branch:
            repository.git.add("-A", "--", "." if prefix == "." else prefix)
            repository.index.commit(f"patchsmith: fix for {args.issue[:60]}")
    except git.GitCommandError as exc:
        raise SolveCommandError(f"the chosen diff could not be applied to {repo}: {exc.stderr.strip()}") from None
    finally:
        os.unlink(handle.name)
