"""The GitHub Action bot: a labelled issue (or a comment with the trigger phrase) becomes a
draft pull request with a validated fix, or a comment that says honestly why there is none.

The parts: bot_events reads the runner's environment and the event, bot_access decides who may
start a run, bot_messages writes what is posted, bot_git commits and pushes. This module runs
them in order and keeps the rules that span them:
- a fix that changes CI configuration, workflows or the action's own files is refused twice:
  repair rejects such candidates (the protected paths reach it as a setting), and the chosen
  patch is checked again here before anything is pushed;
- on a GitHub-hosted runner, which reaches a registry but cannot debootstrap, the sandbox's base
  image defaults to a registry Python image of the repository's Python version;
- the step's outputs (outcome, pr-url, patch) go to GITHUB_OUTPUT; no secret is ever written.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from patchsmith import bot_messages as messages
from patchsmith.bot_access import refusal
from patchsmith.bot_events import BotError, GitHubEnv, Trigger, clean_text, has_trigger, read_trigger
from patchsmith.bot_git import commit_patch, free_branch_name, git_auth_env, push_new_branch
from patchsmith.github import GitHubClient, GitHubError
from patchsmith.settings import Settings, with_values

__all__ = ["BotError", "BotResult", "clean_text", "free_branch_name", "git_auth_env", "has_trigger", "run_bot"]

@dataclass
class BotResult:
    action: str  # "skipped", "pull_request", "failure_comment", "dry_run"
    reason: str
    issue_number: int | None = None
    branch: str | None = None
    commit: str | None = None
    pull_request_url: str | None = None
    patch: str | None = None  # the fix pushed (or, in a dry run, the one that would be)
    posted: list[dict] = field(default_factory=list)  # what was (or, in a dry run, would be) sent
    exit_code: int = 0


def log(message: str) -> None:
    print(f"patchsmith bot: {message}", file=sys.stderr, flush=True)


Solve = Callable[..., Any]  # solve(**SolveRequest fields) -> SolveOutcome


def solve_settings(settings: Settings, base_image: str | None, protected: tuple[str, ...] | None) -> Settings:
    """The settings tree a bot run solves with: its own, with the base image chosen for this
    runner and the protected paths this repository has."""
    values: dict[str, Any] = {"sandbox.base_image": base_image}
    if protected is not None:
        values["repair.edit.protected_paths"] = tuple(protected)
    return with_values(settings, values)


def pipeline_solve(**fields: Any) -> Any:
    from patchsmith.pipeline import SolveRequest, solve

    return solve(SolveRequest(**fields))


def run_bot(
    settings: Settings,
    env: Mapping[str, str],
    solve: Solve | None = None,
    client: GitHubClient | None = None,
) -> BotResult:
    """Answer the event the environment describes; `solve` defaults to patchsmith.pipeline's."""
    gh = GitHubEnv.from_env(env)
    client = client or GitHubClient(api_url=gh.api_url, token=gh.token, repository=gh.repository)
    try:
        event = json.loads(gh.event_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BotError(f"cannot read the event file {gh.event_path}: {error}") from None

    if not isinstance(event, dict):
        raise BotError(f"the event file {gh.event_path} does not hold a JSON object.")
    trigger = read_trigger(gh.event_name, event, settings.bot.label, settings.bot.trigger)
    if isinstance(trigger, str):
        return _finish(settings, gh, BotResult("skipped", f"nothing to do: {trigger}"))
    refused = refusal(trigger, settings.bot.allowed_associations, client)
    if refused:
        return _finish(settings, gh, BotResult("skipped", refused, trigger.issue_number))

    result = BotResult("dry_run" if settings.bot.dry_run else "pull_request", "", trigger.issue_number)
    _announce(settings, gh, client, trigger, result)
    try:
        _solve_and_answer(settings, gh, client, trigger, result, solve or pipeline_solve)
    except Exception as error:
        message = str(error) if getattr(error, "user_error", False) else f"{type(error).__name__}: {error}"
        if result.branch and not settings.bot.dry_run:
            message += f"\nThe fix itself was pushed to the branch {result.branch}."
        result.action, result.reason, result.exit_code = "failure_comment", message, 1
        _post(settings, result, "comment", lambda body: client.comment(trigger.issue_number, body),
              messages.error_comment(message, gh.run_url), tolerate=True)
        _finish(settings, gh, result)
        raise
    return _finish(settings, gh, result)


def protected_patterns(settings: Settings, gh: GitHubEnv) -> tuple[str, ...]:
    """The paths a fix may not change: repair's list, and this action's folder when the
    workflow runs it from inside the repository (`uses: ./`)."""
    from patchsmith.repair import PROTECTED_PATHS

    if settings.bot.allow_protected_paths:
        return ()
    patterns = PROTECTED_PATHS
    if gh.action_path is not None:
        try:
            inside = gh.action_path.resolve().relative_to(gh.workspace.resolve()).as_posix()
        except ValueError:
            inside = None  # the usual case: the runner keeps actions outside the checkout
        if inside is not None:
            patterns += ("*",) if inside == "." else (f"{inside}/*",)
    return patterns


def patch_paths(patch: str) -> set[str]:
    """Every path a unified diff names, before and after (renames and deletions included)."""
    from unidiff import PatchSet

    paths = set()
    for patched in PatchSet(patch):
        for name in (patched.source_file, patched.target_file):
            if name and name != "/dev/null":
                paths.add(name[2:] if name[:2] in ("a/", "b/") else name)
    return paths


def choose_base_image(settings: Settings, gh: GitHubEnv) -> str | None:
    """The sandbox's base image: the one asked for; on a GitHub-hosted runner a registry image of
    the repository's Python unless the repository names its own; else None (debootstrap)."""
    if settings.sandbox.base_image:
        return settings.sandbox.base_image
    if not gh.hosted:
        return None
    from patchsmith.sandbox import SUITE_PYTHON, infer_recipe, read_dependency_files, suite_for_python

    recipe = infer_recipe(read_dependency_files(gh.workspace, None))
    if recipe.base_image:
        return None  # its [tool.patchsmith.sandbox] image wins
    return settings.bot.hosted_base_image.format(python=recipe.python or SUITE_PYTHON[suite_for_python("")])


def _announce(settings: Settings, gh: GitHubEnv, client: GitHubClient, trigger: Trigger, result: BotResult) -> None:
    if trigger.comment_id is not None:
        react = lambda content: client.react_to_comment(trigger.comment_id, content)  # noqa: E731
    else:
        react = lambda content: client.react_to_issue(trigger.issue_number, content)  # noqa: E731
    _post(settings, result, "reaction", react, "eyes", tolerate=True)
    _post(settings, result, "comment", lambda body: client.comment(trigger.issue_number, body), messages.start_comment(gh.run_url))


def _solve_and_answer(
    settings: Settings, gh: GitHubEnv, client: GitHubClient, trigger: Trigger, result: BotResult, solve: Solve
) -> None:
    import git
    from patchsmith.repair import protected_path

    try:
        repo = git.Repo(gh.workspace)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise BotError(f"{gh.workspace} is not a git checkout; run actions/checkout first.") from None
    parent = repo.head.commit.hexsha  # what solve sees; read before it runs
    protected = protected_patterns(settings, gh)
    base_image = choose_base_image(settings, gh)
    log(f"solving issue #{trigger.issue_number} at {parent[:12]} with {settings.model.model}"
        + (f" on the base image {base_image}" if base_image else ""))
    outcome = solve(
        repo=gh.workspace.resolve(),
        issue_title=trigger.title,
        issue_body=trigger.body,
        settings=solve_settings(settings, base_image, protected),
        out_dir=settings.bot.out_dir.resolve(),
    )
    touched = sorted(p for p in patch_paths(outcome.patch or "") if protected_path(p, protected))
    if touched and not outcome.failure:  # repair should have refused it; never push it regardless
        outcome = replace(outcome, failure="protected_path", failure_detail="the patch changes " + ", ".join(touched))
    if outcome.failure or not (outcome.patch or "").strip():
        failure = outcome.failure or "no_candidates"  # no patch and no reason: nothing was proposed
        result.action, result.exit_code = "failure_comment", 1
        result.reason = messages.FAILURE_REASONS.get(failure, failure)
        _post(settings, result, "comment", lambda body: client.comment(trigger.issue_number, body),
              messages.failure_comment(outcome, failure, settings, gh.run_url))
        return

    base = settings.bot.base_branch or trigger.default_branch
    remote = settings.bot.remote or f"{gh.server_url.rstrip('/')}/{gh.repository}.git"
    auth = git_auth_env(gh.server_url, gh.token)
    title = messages.pull_request_title(trigger.issue_number, trigger.title)
    result.patch = outcome.patch
    result.commit = commit_patch(repo, parent, outcome.patch, f"{title}\n\n{outcome.explanation.strip()}\n")
    body = messages.pull_request_body(trigger.issue_number, trigger.title, outcome, settings, gh.run_url)
    result.branch = push_new_branch(repo, remote, result.commit, trigger.issue_number, auth,
                                    (base, trigger.default_branch), log, dry_run=settings.bot.dry_run)
    if settings.bot.dry_run:
        print(f"would push {result.commit} to {result.branch} on {remote}:\n{outcome.patch}")
        log("dry run: nothing pushed")
    else:
        log(f"pushed {result.commit[:12]} to {result.branch}")
    pull = _post(
        settings, result, "pull_request",
        lambda text: _open_pull_request(client, title, result.branch, base, text, settings.bot.draft),
        body, title=title, head=result.branch, base=base, draft=settings.bot.draft,
    )
    result.pull_request_url = (pull or {}).get("html_url")
    result.reason = f"opened {result.pull_request_url}" if pull else "dry run"


def _open_pull_request(client: GitHubClient, title: str, head: str, base: str, body: str, draft: bool) -> dict:
    try:
        return client.open_pull_request(title, head, base, body, draft)
    except GitHubError as error:
        # Plans without draft pull requests answer 422; a ready one is better than none.
        if not (draft and error.status == 422 and "draft" in str(error).lower()):
            raise
        log("this repository does not allow draft pull requests; opening a ready one")
        return client.open_pull_request(title, head, base, body, False)


def _post(
    settings: Settings, result: BotResult, kind: str, send: Callable[[str], Any], text: str,
    tolerate: bool = False, **extra: Any,
) -> Any:
    """Send one write to GitHub, or print it in a dry run; record it either way."""
    result.posted.append({"kind": kind, "body": text, **extra})
    if settings.bot.dry_run:
        print(f"would post {kind}{' ' + json.dumps(extra) if extra else ''}:\n{text}\n")
        return None
    try:
        return send(text)
    except GitHubError as error:
        if not tolerate:
            raise
        log(f"could not post the {kind}: {error}")
        return None


# GitHub caps a job's outputs at 1 MiB; a longer patch is left to patch.diff in the run folder.
OUTPUT_PATCH_CHARS = 500_000


def write_outputs(path: Path, outputs: Mapping[str, str]) -> None:
    """Append step outputs in GITHUB_OUTPUT's heredoc form, with a delimiter no value holds."""
    with path.open("a", encoding="utf-8") as out:
        for name, value in outputs.items():
            delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
            out.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def _finish(settings: Settings, gh: GitHubEnv, result: BotResult) -> BotResult:
    log(result.reason if result.action != "pull_request" else f"done: {result.reason}")
    settings.bot.out_dir.mkdir(parents=True, exist_ok=True)
    record = {"recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **asdict(result)}
    (settings.bot.out_dir / "bot.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if gh.output_path is not None:
        patch = result.patch or ""
        if len(patch) > OUTPUT_PATCH_CHARS:
            log(f"the patch is {len(patch)} characters, too long for a step output; it is in patch.diff of the run folder")
            patch = ""
        write_outputs(gh.output_path, {"outcome": result.action, "pr-url": result.pull_request_url or "", "patch": patch})
    return result
