"""The GitHub Action bot: a labelled issue (or a comment with the trigger phrase) becomes a
draft pull request with a validated fix, or a comment that says honestly why there is none.

Safety rules this module keeps:
- Only a trusted user can start a paid run: the commenter's author_association, or for a label
  the labeller's repository role, must be in `allowed_associations`. Anyone else gets no run
  and the log says why.
- Issue text is data. It travels from the event file to `solve` as Python strings, never
  through a shell; HTML comments and invisible characters (zero-width, bidi controls, tag
  characters, variation selectors) are removed first, since a reader cannot see them but a
  model would.
- The push goes to a new `patchsmith/issue-N[-k]` branch, never forced, never the default
  branch. The token reaches git through environment-only configuration (an http.extraHeader),
  so it is in no command line, no log and no file on disk.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from patchsmith.github import GitHubClient, GitHubError

DEFAULT_ASSOCIATIONS = ("OWNER", "MEMBER", "COLLABORATOR")
BRANCH_PREFIX = "patchsmith/issue-"
COMMIT_AUTHOR = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")
# Repository roles that may add a label; a labeller holding one counts as a COLLABORATOR.
LABELLING_ROLES = {"admin", "maintain", "write", "triage"}
EVIDENCE_CHARS = 4000
REPRO_GLOSS = {
    "reproduced": ": a script written for this issue showed the bug on the base commit.",
    "not reproduced": ": no script showed the bug on the base commit; the fix rests on the tests and the issue text.",
    "none": ": no reproduction was attempted.",
}
REPORT_CHARS = 30000

FAILURE_REASONS = {
    "no_reproduction": "no reproduction: patchsmith could not write a script that shows the bug at the base commit",
    "no_candidate_passed": "no candidate passed: every fix the model proposed failed the reproduction or the regression tests",
    "no_candidates": "no candidate: the model proposed no edit that applies to the repository",
    "cost_cap": "cost cap reached: the run stopped at the configured maximum cost before finding a fix",
    "env_build_failed": "environment build failed: patchsmith could not build a Docker image in which the repository's tests run",
    "error": "internal error: patchsmith stopped on an unexpected error",
}


class BotError(Exception):
    """A problem with the bot's inputs or environment that the user can fix."""

    user_error = True


@dataclass(frozen=True)
class BotOptions:
    model: str
    samples: int = 4
    max_cost: float | None = None
    label: str = "patchsmith"
    trigger: str = "/patchsmith"
    base_branch: str | None = None  # None: the repository's default branch
    draft: bool = True
    allowed_associations: tuple[str, ...] = DEFAULT_ASSOCIATIONS
    out_dir: Path = Path("patchsmith-run")
    dry_run: bool = False
    remote: str | None = None  # None: GITHUB_SERVER_URL/GITHUB_REPOSITORY.git
    base_image: str | None = None


@dataclass(frozen=True)
class GitHubEnv:
    """What the Actions runner tells a step about where it runs."""

    event_name: str
    event_path: Path
    repository: str
    api_url: str
    server_url: str
    run_id: str
    token: str
    workspace: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "GitHubEnv":
        missing = [name for name in ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_REPOSITORY") if not env.get(name)]
        if missing:
            raise BotError(f"{', '.join(missing)} not set; `patchsmith bot` runs inside a GitHub Actions job.")
        return cls(
            event_name=env["GITHUB_EVENT_NAME"],
            event_path=Path(env["GITHUB_EVENT_PATH"]),
            repository=env["GITHUB_REPOSITORY"],
            api_url=env.get("GITHUB_API_URL") or "https://api.github.com",
            server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
            run_id=env.get("GITHUB_RUN_ID", ""),
            token=env.get("GITHUB_TOKEN", ""),
            workspace=Path(env.get("GITHUB_WORKSPACE") or "."),
        )

    @property
    def run_url(self) -> str | None:
        if not self.run_id:
            return None
        return f"{self.server_url.rstrip('/')}/{self.repository}/actions/runs/{self.run_id}"


@dataclass(frozen=True)
class Trigger:
    """An event the bot answers: which issue, its text, and who asked."""

    issue_number: int
    title: str
    body: str
    actor: str
    association: str | None  # None: a label event, looked up from the labeller's role
    comment_id: int | None
    default_branch: str
    repo_owner: str


@dataclass
class BotResult:
    action: str  # "skipped", "pull_request", "failure_comment", "dry_run"
    reason: str
    issue_number: int | None = None
    branch: str | None = None
    commit: str | None = None
    pull_request_url: str | None = None
    posted: list[dict] = field(default_factory=list)  # what was (or, in a dry run, would be) sent
    exit_code: int = 0


def log(message: str) -> None:
    print(f"patchsmith bot: {message}", file=sys.stderr, flush=True)


# --- reading the event -----------------------------------------------------------------------

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")


def clean_text(text: str) -> str:
    """Issue text as a reader sees it: no HTML comments, no invisible or direction-changing characters."""
    text = _HTML_COMMENT.sub("", text.replace("\r\n", "\n"))
    text = _VARIATION_SELECTORS.sub("", text)
    # Cf holds zero-width characters, bidi controls, the BOM and tag characters; Cc the
    # control characters. Newlines and tabs are the only ones a reader needs.
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cf", "Cc")).strip()


def has_trigger(comment: str, phrase: str) -> bool:
    """True when a line of the comment starts with the phrase (quoted lines start with '>')."""
    wanted = phrase.strip().casefold()
    for line in clean_text(comment).casefold().splitlines():
        line = line.strip()
        if line.startswith(wanted) and (len(line) == len(wanted) or line[len(wanted)].isspace()):
            return True
    return False


def read_trigger(event_name: str, event: dict, options: BotOptions) -> Trigger | str:
    """The Trigger this event carries, or the reason (a sentence) the bot does not act on it."""
    issue = event.get("issue") or {}
    repo = event.get("repository") or {}
    common = dict(
        issue_number=int(issue.get("number") or 0),
        title=clean_text(issue.get("title") or ""),
        body=clean_text(issue.get("body") or ""),
        default_branch=repo.get("default_branch") or "main",
        repo_owner=(repo.get("owner") or {}).get("login", ""),
    )
    if event_name in ("issues", "issue_comment") and not common["issue_number"]:
        return "the event names no issue"
    if event_name == "issues":
        if event.get("action") != "labeled":
            return f"the issues event is {event.get('action')!r}, not 'labeled'"
        label = (event.get("label") or {}).get("name", "")
        if label.casefold() != options.label.casefold():
            return f"the label added is {label!r}, not {options.label!r}"
        actor = (event.get("sender") or {}).get("login", "")
        return Trigger(actor=actor, association=None, comment_id=None, **common)
    if event_name == "issue_comment":
        comment = event.get("comment") or {}
        if event.get("action") != "created":
            return f"the comment was {event.get('action')!r}, not 'created'"
        if issue.get("pull_request"):
            return "the comment is on a pull request, not an issue"
        if issue.get("state") == "closed":
            return "the issue is closed"
        if not has_trigger(comment.get("body") or "", options.trigger):
            return f"the comment does not start a line with {options.trigger!r}"
        actor = (comment.get("user") or {}).get("login", "")
        association = comment.get("author_association") or "NONE"
        return Trigger(actor=actor, association=association, comment_id=comment.get("id"), **common)
    return f"the event {event_name!r} is not one the bot answers (issues, issue_comment)"


def labeller_association(trigger: Trigger, client: GitHubClient) -> str:
    """A label event carries no author_association for the labeller; derive one from their role."""
    if trigger.actor and trigger.actor == trigger.repo_owner:
        return "OWNER"
    try:
        answer = client.permission(trigger.actor)
    except GitHubError as error:
        if error.status == 404:
            return "NONE"
        raise
    roles = {str(answer.get("permission", "")), str(answer.get("role_name", ""))}
    return "COLLABORATOR" if roles & LABELLING_ROLES else "NONE"


# --- git ---------------------------------------------------------------------------------------


def git_auth_env(server_url: str, token: str) -> dict[str, str]:
    """Environment-only git configuration sending the token as an HTTP header to the server.

    An empty value first resets any header actions/checkout persisted for the same URL, so
    git never sends two Authorization headers.
    """
    if not token:
        return {"GIT_TERMINAL_PROMPT": "0"}
    key = f"http.{server_url.rstrip('/')}/.extraheader"
    secret = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": key,
        "GIT_CONFIG_VALUE_0": "",
        "GIT_CONFIG_KEY_1": key,
        "GIT_CONFIG_VALUE_1": f"AUTHORIZATION: basic {secret}",
    }


def remote_branches(repo: Any, remote: str, prefix: str, auth: dict[str, str]) -> set[str]:
    import git

    try:
        listing = repo.git.ls_remote("--heads", remote, f"refs/heads/{prefix}*", env=auth)
    except git.GitCommandError as error:
        raise BotError(f"git cannot list the branches of {remote}: {str(error.stderr).strip()[-500:]}") from None
    return {line.split("refs/heads/", 1)[1] for line in listing.splitlines() if "refs/heads/" in line}


def free_branch_name(issue_number: int, taken: set[str]) -> str:
    """patchsmith/issue-N, else the first of -2, -3, ... that the remote does not have."""
    base = f"{BRANCH_PREFIX}{issue_number}"
    if base not in taken:
        return base
    suffix = 2
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"


def commit_patch(repo: Any, parent: str, patch: str, message: str) -> str:
    """A commit of `patch` on top of `parent`, built in a private index: the work tree is untouched."""
    import git

    with tempfile.TemporaryDirectory(prefix="patchsmith-bot-") as scratch:
        patch_file = Path(scratch) / "fix.diff"
        patch_file.write_text(patch if patch.endswith("\n") else patch + "\n", encoding="utf-8")
        index_env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        repo.git.read_tree(parent, env=index_env)
        try:
            repo.git.apply("--cached", "--whitespace=nowarn", str(patch_file), env=index_env)
        except git.GitCommandError as error:  # its stderr names the hunk that failed
            raise BotError(f"the chosen patch does not apply to {parent[:12]}: {str(error.stderr).strip()}") from None
        tree = repo.git.write_tree(env=index_env)
        name, email = COMMIT_AUTHOR
        author_env = {
            "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
        }
        return repo.git.commit_tree(tree, "-p", parent, "-m", message, env=author_env)


# --- messages ----------------------------------------------------------------------------------


def _fence(text: str) -> str:
    """A code block that the text cannot close early, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{text}\n{ticks}"


def _evidence(detail: str) -> str:
    detail = detail.strip()
    if len(detail) > EVIDENCE_CHARS:  # the end of a log is where the error is
        detail = "[... earlier output cut ...]\n" + detail[-EVIDENCE_CHARS:]
    return detail


def _cost_line(outcome: Any, options: BotOptions) -> str:
    cost = "unknown" if outcome.cost_usd is None else f"${outcome.cost_usd:.2f}"
    cap = "" if options.max_cost is None else f" (cap ${options.max_cost:.2f})"
    return f"{cost}{cap} in {outcome.seconds:.0f} s, model `{options.model}`, {options.samples} samples"


def start_comment(run_url: str | None) -> str:
    where = f"Follow the run here: {run_url}" if run_url else "The run's log is in this workflow run."
    return f"patchsmith is looking into this issue. {where}"


def pull_request_title(trigger: Trigger) -> str:
    title = " ".join(trigger.title.split())
    return f"Fix #{trigger.issue_number}: {title[:200]}"


def pull_request_body(trigger: Trigger, outcome: Any, options: BotOptions, run_url: str | None) -> str:
    files = ", ".join(f"`{path}`" for path in outcome.files_touched) or "(none listed)"
    failed = outcome.tests_run - outcome.tests_passed
    tests = f"{outcome.tests_passed} of {outcome.tests_run} tests passed" + (f", {failed} failed" if failed else "")
    lines = [
        f"Fixes #{trigger.issue_number}",
        "",
        "## What changed and why",
        outcome.explanation.strip() or "(no explanation given)",
        "",
        f"Files: {files}",
        "",
        "## Tests",
        tests + " with this change applied.",
        "",
        "## Reproduction",
        f"Verdict: **{outcome.repro_verdict}**" + REPRO_GLOSS.get(outcome.repro_verdict, "."),
        "",
        "## Cost",
        _cost_line(outcome, options),
        "",
        "This pull request was written by patchsmith; review it as you would any contribution.",
    ]
    if run_url:
        lines.append(f"Run: {run_url} (the run folder is attached to it as an artifact).")
    report = outcome.report_md.strip()
    if report:
        if len(report) > REPORT_CHARS:  # GitHub refuses bodies over 65536 characters
            report = report[:REPORT_CHARS] + "\n\n[... cut; the whole report.md is in the run folder ...]"
        lines += ["", "<details><summary>Full report</summary>", "", report, "", "</details>"]
    return "\n".join(lines)


def failure_comment(outcome: Any, failure: str, options: BotOptions, run_url: str | None) -> str:
    reason = FAILURE_REASONS.get(failure, failure)
    lines = [f"patchsmith found no fix it can stand behind. Reason: {reason}."]
    if outcome.failure_detail.strip():
        lines += ["", "The most useful evidence:", "", _fence(_evidence(outcome.failure_detail))]
    lines += ["", f"Reproduction verdict: {outcome.repro_verdict}. Cost: {_cost_line(outcome, options)}."]
    if run_url:
        lines.append(f"Run and full records: {run_url}")
    return "\n".join(lines)


def error_comment(message: str, run_url: str | None) -> str:
    lines = ["patchsmith stopped before it could answer this issue:", "", _fence(_evidence(message))]
    if run_url:
        lines += ["", f"Run: {run_url}"]
    return "\n".join(lines)


# --- the bot -----------------------------------------------------------------------------------

Solve = Callable[..., Any]  # solve(**SolveRequest fields) -> SolveOutcome


def solve_settings(options: BotOptions) -> Any:
    """The settings tree a bot run solves with (the action's inputs over the defaults)."""
    from dataclasses import replace

    from patchsmith.settings import Settings

    tree = Settings()
    return replace(tree, model=replace(tree.model, model=options.model, max_cost=options.max_cost),
                   repair=replace(tree.repair, samples=options.samples),
                   sandbox=replace(tree.sandbox, base_image=options.base_image))


def pipeline_solve(**fields: Any) -> Any:
    from patchsmith.pipeline import SolveRequest, solve

    return solve(SolveRequest(**fields))


def run_bot(
    options: BotOptions,
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
    trigger = read_trigger(gh.event_name, event, options)
    if isinstance(trigger, str):
        return _finish(options, BotResult("skipped", f"nothing to do: {trigger}"))
    association = trigger.association or labeller_association(trigger, client)
    if association not in options.allowed_associations:
        reason = (
            f"not running: @{trigger.actor} is {association}, and only "
            f"{', '.join(options.allowed_associations)} may start a run"
        )
        return _finish(options, BotResult("skipped", reason, trigger.issue_number))

    result = BotResult("dry_run" if options.dry_run else "pull_request", "", trigger.issue_number)
    _announce(options, gh, client, trigger, result)
    try:
        _solve_and_answer(options, gh, client, trigger, result, solve or pipeline_solve)
    except Exception as error:
        message = str(error) if getattr(error, "user_error", False) else f"{type(error).__name__}: {error}"
        if result.branch and not options.dry_run:
            message += f"\nThe fix itself was pushed to the branch {result.branch}."
        result.action, result.reason, result.exit_code = "failure_comment", message, 1
        _post(options, result, "comment", lambda body: client.comment(trigger.issue_number, body),
              error_comment(message, gh.run_url), tolerate=True)
        _finish(options, result)
        raise
    return _finish(options, result)


def _announce(options: BotOptions, gh: GitHubEnv, client: GitHubClient, trigger: Trigger, result: BotResult) -> None:
    if trigger.comment_id is not None:
        react = lambda content: client.react_to_comment(trigger.comment_id, content)  # noqa: E731
    else:
        react = lambda content: client.react_to_issue(trigger.issue_number, content)  # noqa: E731
    _post(options, result, "reaction", react, "eyes", tolerate=True)
    _post(options, result, "comment", lambda body: client.comment(trigger.issue_number, body), start_comment(gh.run_url))


def _solve_and_answer(
    options: BotOptions, gh: GitHubEnv, client: GitHubClient, trigger: Trigger, result: BotResult, solve: Solve
) -> None:
    import git

    try:
        repo = git.Repo(gh.workspace)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise BotError(f"{gh.workspace} is not a git checkout; run actions/checkout first.") from None
    parent = repo.head.commit.hexsha  # what solve sees; read before it runs
    log(f"solving issue #{trigger.issue_number} at {parent[:12]} with {options.model}")
    outcome = solve(
        repo=gh.workspace.resolve(),
        issue_title=trigger.title,
        issue_body=trigger.body,
        settings=solve_settings(options),
        out_dir=options.out_dir.resolve(),
    )
    if outcome.failure or not (outcome.patch or "").strip():
        failure = outcome.failure or "no_candidates"  # no patch and no reason: nothing was proposed
        result.action, result.exit_code = "failure_comment", 1
        result.reason = FAILURE_REASONS.get(failure, failure)
        _post(options, result, "comment", lambda body: client.comment(trigger.issue_number, body),
              failure_comment(outcome, failure, options, gh.run_url))
        return

    base = options.base_branch or trigger.default_branch
    remote = options.remote or f"{gh.server_url.rstrip('/')}/{gh.repository}.git"
    auth = git_auth_env(gh.server_url, gh.token)
    title = pull_request_title(trigger)
    message = f"{title}\n\n{outcome.explanation.strip()}\n"
    result.commit = commit_patch(repo, parent, outcome.patch, message)
    body = pull_request_body(trigger, outcome, options, gh.run_url)

    taken = remote_branches(repo, remote, f"{BRANCH_PREFIX}{trigger.issue_number}", auth)
    for _ in range(3):  # another run may take the name between listing and pushing
        branch = free_branch_name(trigger.issue_number, taken)
        if not branch.startswith(BRANCH_PREFIX) or branch in (base, trigger.default_branch):
            raise BotError(f"refusing to push to {branch!r}: patchsmith only creates {BRANCH_PREFIX}N branches.")
        if options.dry_run:
            result.branch = branch
            print(f"would push {result.commit} to {branch} on {remote}:\n{outcome.patch}")
            break
        try:
            # A lease expecting "no such ref" makes the push create-only: a branch that appeared
            # since the listing is refused, even where a plain push would fast-forward it.
            ref = f"refs/heads/{branch}"
            repo.git.push(f"--force-with-lease={ref}:", remote, f"{result.commit}:{ref}", env=auth)
            result.branch = branch
            break
        except git.GitCommandError as error:
            stderr = str(error.stderr).strip()
            if "[rejected]" not in stderr:  # not a name clash: auth, network, protected refs
                raise BotError(f"git push to {branch} failed: {stderr[-500:]}") from None
            log(f"{branch} appeared on the remote meanwhile; trying the next name")
            taken.add(branch)
    if result.branch is None:
        raise BotError(f"could not push a branch for issue #{trigger.issue_number}; the remote refused every name tried.")

    log(f"pushed {result.commit[:12]} to {result.branch}" if not options.dry_run else "dry run: nothing pushed")
    pull = _post(
        options, result, "pull_request",
        lambda text: _open_pull_request(client, title, result.branch, base, text, options.draft),
        body, title=title, head=result.branch, base=base, draft=options.draft,
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
    options: BotOptions, result: BotResult, kind: str, send: Callable[[str], Any], text: str,
    tolerate: bool = False, **extra: Any,
) -> Any:
    """Send one write to GitHub, or print it in a dry run; record it either way."""
    result.posted.append({"kind": kind, "body": text, **extra})
    if options.dry_run:
        print(f"would post {kind}{' ' + json.dumps(extra) if extra else ''}:\n{text}\n")
        return None
    try:
        return send(text)
    except GitHubError as error:
        if not tolerate:
            raise
        log(f"could not post the {kind}: {error}")
        return None


def _finish(options: BotOptions, result: BotResult) -> BotResult:
    log(result.reason if result.action != "pull_request" else f"done: {result.reason}")
    options.out_dir.mkdir(parents=True, exist_ok=True)
    record = {"recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **asdict(result)}
    (options.out_dir / "bot.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return result
