"""`patchsmith solve`: one repository, one issue, one validated diff (or the reason there is none).

The diff goes to standard output byte for byte (so `patchsmith solve ... | git apply` works);
progress and the summary go to standard error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

MODEL_HINT = (
    "no model is configured: pass --model (any litellm model string, e.g. anthropic/claude-sonnet-4-5) "
    "or set PATCHSMITH_MODEL, and set the provider's key variable (e.g. ANTHROPIC_API_KEY or OPENAI_API_KEY)"
)
PARTS = ("model", "localize", "reproduce", "repair", "sandbox")


class SolveCommandError(Exception):
    user_error = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from patchsmith.settings import add_flags

    parser.add_argument("--repo", help="a repository: a local path, or a git URL to clone")
    parser.add_argument("--issue", help="the issue: a file, its text, - for standard input, or a GitHub issue URL")
    parser.add_argument("--commit", default=None, help="a commit to fix instead of the working tree")
    add_flags(parser, PARTS)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--apply", action="store_true", help="apply the chosen diff to the repository's working tree")
    target.add_argument("--branch", default=None, help="commit the chosen diff on a new branch of this name")
    parser.add_argument("--out", type=Path, default=None, help="the run folder (default ./patchsmith-runs/<run-id>)")
    parser.add_argument("--resume", type=Path, default=None, metavar="DIR", help="continue a stopped run from its folder")
    # The named tests are the reproduction (no model-written script) and feed localization.
    parser.add_argument("--failing-test", action="append", default=[], metavar="NODEID",
                        help="a test that shows the bug (repeatable); the fix must make it pass and may not edit it")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(stderr=True, soft_wrap=True)  # a piped log keeps whole lines

    def progress(stage: str, message: str) -> None:
        console.print(f"[bold cyan]{stage:>11}[/] {message}", highlight=False)

    from patchsmith.pipeline import read_outcome, solve
    from patchsmith.runs import RunFolder

    if args.resume is not None:
        request = _resumed_request(args)
        finished = read_outcome(RunFolder(args.resume))
        if finished is not None:
            console.print(f"{args.resume} is a finished run; its result:", highlight=False)
            return _report(args, request, finished, console)
    else:
        request = _new_request(args, progress)
    return _report(args, request, solve(request, progress), console)


def _report(args: argparse.Namespace, request, outcome, console) -> int:  # noqa: ANN001 - SolveRequest, SolveOutcome, rich Console
    if outcome.patch:
        write_diff(outcome.patch)
        _deliver(args, request, outcome)
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


def write_diff(patch: str) -> None:
    """The diff exactly as made: on a terminal too, rich would wrap it at the terminal's width."""
    sys.stdout.write(patch)
    sys.stdout.flush()


def _new_request(args: argparse.Namespace, progress):  # noqa: ANN001, ANN202 - (stage, message) -> None; SolveRequest
    from patchsmith.head_start import prepare
    from patchsmith.issue_source import read_issue
    from patchsmith.pipeline import SolveRequest
    from patchsmith.settings import ignored_repository_tables, load

    if not args.repo or not args.issue:
        raise SolveCommandError("give --repo and --issue (or --resume DIR)")
    settings = load(args)
    if not settings.model.model:
        raise SolveCommandError(MODEL_HINT)
    title, body = read_issue(args.issue)
    repo = _local_repo(args.repo)
    ignored = ignored_repository_tables(repo)
    if ignored:
        print(f"patchsmith: ignoring [{', '.join(ignored)}] in {repo}'s patchsmith config: a repository being fixed "
              "may set only its sandbox recipe", file=sys.stderr)
    commit = args.commit
    if args.branch and commit is None:
        commit = _head(repo)  # the branch is made on HEAD, so the fix is found and validated there
    # Before anything is paid for; the repository is indexed while litellm loads.
    prepare(settings, repo=repo, out_dir=args.out, commit=commit, say=progress)
    return SolveRequest(repo=repo, issue_title=title, issue_body=body, settings=settings, commit=commit, out_dir=args.out,
                        failing_tests=tuple(args.failing_test))


def _head(repo: Path) -> str:
    import git

    try:
        return git.Repo(repo, search_parent_directories=True).head.commit.hexsha
    except (git.InvalidGitRepositoryError, ValueError):
        raise SolveCommandError(f"--branch needs a git repository with a commit, and {repo} is not one") from None


def _resumed_request(args: argparse.Namespace):  # noqa: ANN202 - patchsmith.pipeline.SolveRequest
    """The stopped run's own request: its settings outrank the environment; only flags given now change them."""
    from patchsmith.pipeline import SolveRequest, saved_run
    from patchsmith.preflight import preflight
    from patchsmith.workspace import RecipeWorkspace
    from patchsmith.settings import resumed

    if args.repo or args.issue or args.commit or args.out:
        raise SolveCommandError("--resume continues a run as it was started: give it without --repo, --issue, --commit or --out")
    saved = saved_run(args.resume)
    workspace = saved.get("workspace") or {}
    if workspace.get("kind") != RecipeWorkspace.KIND:
        raise SolveCommandError(f"{args.resume} is a run of a SWE-bench inference; resume it with `patchsmith swebench infer` "
                                "and the same --run-id")
    settings = resumed(saved["settings"], args)
    issue_text = (args.resume / "issue.md").read_text(encoding="utf-8").strip()
    title = saved.get("issue_title") or ""
    body = issue_text[len(title):].strip() if title and issue_text.startswith(title) else issue_text
    repo = Path(saved["repo"])
    preflight(settings.model, repo=repo, out_dir=None, commit=saved.get("commit"))
    return SolveRequest(repo=repo, issue_title=title, issue_body=body, settings=settings, commit=saved.get("commit"),
                        out_dir=args.resume, resume=True, failing_tests=tuple(saved.get("failing_tests") or ()),
                        workspace=RecipeWorkspace(str(repo), saved.get("commit"), settings.sandbox.base_image))


def _local_repo(value: str) -> Path:
    """A local folder as it is; a URL cloned into the cache (once; later runs fetch)."""
    if "://" not in value and not value.startswith("git@"):
        path = Path(value).expanduser()
        if not path.is_dir():
            raise SolveCommandError(f"{value} is not a folder")
        return path.resolve()
    import hashlib

    import git

    from patchsmith.repo_index.git_errors import git_failure
    from patchsmith.paths import cache_root

    dest = cache_root() / "repos" / hashlib.sha256(value.encode()).hexdigest()[:16]
    try:
        if (dest / ".git").is_dir():
            git.Repo(dest).remotes.origin.pull()
        else:
            git.Repo.clone_from(value, dest, env={"GIT_TERMINAL_PROMPT": "0"})
    except git.GitCommandError as exc:
        raise SolveCommandError(f"could not clone {value}: {git_failure(exc.stderr or '')}") from None
    return dest


def _deliver(args: argparse.Namespace, request, outcome) -> None:  # noqa: ANN001 - SolveRequest, SolveOutcome
    """--apply: the diff applied to the working tree, touching only the fix's files; --branch: the fix
    committed on a new branch on top of HEAD, leaving the work tree, the index and the checked-out
    branch as they were (the user's own changes stay uncommitted; a run folder is never committed)."""
    if not (args.apply or args.branch):
        return
    import git

    try:
        repository = git.Repo(request.repo, search_parent_directories=True)
    except git.InvalidGitRepositoryError:
        raise SolveCommandError(f"{request.repo} is not a git repository, so the diff cannot be applied; "
                                "it is in the run folder") from None
    prefix = os.path.relpath(request.repo, repository.working_tree_dir)
    directory = [] if prefix == "." else [f"--directory={prefix}"]
    patch_file = Path(outcome.out_dir) / "patch.diff"
    try:
        if args.apply:
            paths = [p if prefix == "." else f"{prefix}/{p}" for p in outcome.files_touched]
            dirty = repository.git.status("--porcelain", "--", *paths).strip() if paths else ""
            if dirty:
                raise SolveCommandError("the fix touches files with uncommitted changes, so it was not applied "
                                        f"(it is in {patch_file}): " + ", ".join(line[3:] for line in dirty.splitlines()))
            repository.git.apply(*directory, str(patch_file))
            return
        commit = commit_on_new_branch(repository, args.branch, request.commit or "HEAD", patch_file, directory,
                                      commit_message(request))
        print(f"patchsmith: committed the fix on branch {args.branch} ({commit[:12]}); `git switch {args.branch}` to see it",
              file=sys.stderr)
    except git.GitCommandError as exc:
        raise SolveCommandError(f"the chosen diff could not be applied to {request.repo}: {exc.stderr.strip()}") from None


def commit_message(request) -> str:  # noqa: ANN001 - SolveRequest
    title = request.issue_title.strip() or request.issue_body.strip().splitlines()[0][:72]
    return f"Fix: {title}\n\nProposed and validated by patchsmith.\n"


def commit_on_new_branch(repository, branch: str, parent: str, patch_file: Path, directory: list[str], message: str) -> str:  # noqa: ANN001 - git.Repo
    """A commit of parent + the patch, made in a scratch index, and a new branch pointing at it."""
    import tempfile

    if branch in [head.name for head in repository.heads]:
        raise SolveCommandError(f"the branch {branch} exists already; name another with --branch")
    with tempfile.TemporaryDirectory() as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        repository.git.read_tree(parent, env=env)
        repository.git.apply("--cached", *directory, str(patch_file), env=env)
        tree = repository.git.write_tree(env=env)
        commit = repository.git.commit_tree(tree, "-p", repository.commit(parent).hexsha, "-m", message)
    repository.git.branch(branch, commit)
    return commit
