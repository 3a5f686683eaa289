"""Who may start a run: a paid run that pushes a branch, so only a person who could push it.

Three rules, each enough to refuse:
- an account of type Bot never starts one (apps that label issues on their own, the bot itself);
- a commenter's author_association must be one of `allowed` (OWNER, MEMBER, COLLABORATOR by
  default): a cheap first filter that needs no API call;
- the person must have write access (write, maintain or admin), asked of the collaborator
  permission API. An association alone is not enough: a MEMBER of the organisation, or a
  labeller with the triage role, may have no right to push.
"""

from __future__ import annotations

from collections.abc import Sequence

from patchsmith.bot_events import Trigger
from patchsmith.github import GitHubClient, GitHubError

# `permission` is GitHub's coarse answer (triage reads as "read", maintain as "write");
# `role_name` the fine one, custom roles included.
WRITE_PERMISSIONS = frozenset({"admin", "write"})
WRITE_ROLES = frozenset({"admin", "maintain", "write"})


def repository_role(client: GitHubClient, login: str) -> tuple[str, bool]:
    """The user's role on the repository as GitHub names it, and whether it may push."""
    try:
        answer = client.permission(login)
    except GitHubError as error:
        if error.status == 404:  # not a collaborator (or no such user)
            return "none", False
        raise
    permission = str((answer or {}).get("permission") or "none")
    role = str((answer or {}).get("role_name") or permission)
    return role, permission in WRITE_PERMISSIONS or role in WRITE_ROLES


def refusal(trigger: Trigger, allowed: Sequence[str], client: GitHubClient) -> str | None:
    """Why this person may not start a run (a sentence), or None when they may."""
    who = f"@{trigger.actor}" if trigger.actor else "the sender"
    only = f"only {', '.join(allowed)} with write access may start a run"
    if trigger.actor_is_bot or not trigger.actor:
        return f"not running: {who} is a bot account, and bots never start a run"
    if trigger.association is not None and trigger.association not in allowed:
        return f"not running: {who} is {trigger.association}, and {only}"
    role, can_push = repository_role(client, trigger.actor)
    if not can_push:
        return f"not running: {who} has the {role!r} role on the repository, and {only}"
    # A label event names no association; a labeller who can push is the owner or a collaborator.
    owner = trigger.actor.casefold() == trigger.repo_owner.casefold()  # logins ignore case
    association = trigger.association or ("OWNER" if owner else "COLLABORATOR")
    if association not in allowed:
        return f"not running: {who} is {association}, and {only}"
    return None
