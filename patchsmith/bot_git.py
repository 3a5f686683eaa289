"""The bot's git: a commit of the chosen patch made without touching the work tree, pushed to a
new `patchsmith/issue-N[-k]` branch, never forced, never the default branch.

The token reaches git through environment-only configuration (an http.extraHeader), so it is in
no command line, no log and no file on disk.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from patchsmith.bot_events import BotError

BRANCH_PREFIX = "patchsmith/issue-"
COMMIT_AUTHOR = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")
PUSH_ATTEMPTS = 3  # another run may take the name between listing and pushing


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


def push_new_branch(
    repo: Any, remote: str, commit: str, issue_number: int, auth: dict[str, str],
    protected: tuple[str, ...], log: Callable[[str], None], dry_run: bool = False,
) -> str:
    """Push `commit` to the first free patchsmith/issue-N[-k] branch and return its name (in a
    dry run, the name it would take). `protected` names branches never pushed to."""
    import git

    taken = remote_branches(repo, remote, f"{BRANCH_PREFIX}{issue_number}", auth)
    for _ in range(PUSH_ATTEMPTS):
        branch = free_branch_name(issue_number, taken)
        if not branch.startswith(BRANCH_PREFIX) or branch in protected:
            raise BotError(f"refusing to push to {branch!r}: patchsmith only creates {BRANCH_PREFIX}N branches.")
        if dry_run:
            return branch
        try:
            # A lease expecting "no such ref" makes the push create-only: a branch that appeared
            # since the listing is refused, even where a plain push would fast-forward it.
            ref = f"refs/heads/{branch}"
            repo.git.push(f"--force-with-lease={ref}:", remote, f"{commit}:{ref}", env=auth)
            return branch
        except git.GitCommandError as error:
            stderr = str(error.stderr).strip()
            if "[rejected]" not in stderr:  # not a name clash: auth, network, protected refs
                raise BotError(f"git push to {branch} failed: {stderr[-500:]}") from None
            log(f"{branch} appeared on the remote meanwhile; trying the next name")
            taken.add(branch)
    raise BotError(f"could not push a branch for issue #{issue_number}; the remote refused every name tried.")
