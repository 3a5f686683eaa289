"""What the Actions runner tells the bot: where it runs, and which issue event it answers.

Issue text is data. HTML comments and invisible characters (zero-width, bidi controls, tag
characters, variation selectors) are removed before anything reads it, since a reader cannot see
them but a model would. A comment starts a run only where a reader sees the trigger phrase as
plain text: at the start of a line outside code blocks and block quotes, so quoting or echoing a
request (the bot's own comments fence what they echo) never starts another.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path


class BotError(Exception):
    """A problem with the bot's inputs or environment that the user can fix."""

    user_error = True


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
    hosted: bool  # a GitHub-hosted runner: no root-free debootstrap, but a container registry
    action_path: Path | None  # where the runner keeps this action's own files
    output_path: Path | None  # GITHUB_OUTPUT: the step's outputs are appended there

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
            hosted=env.get("RUNNER_ENVIRONMENT") == "github-hosted",
            action_path=Path(env["GITHUB_ACTION_PATH"]) if env.get("GITHUB_ACTION_PATH") else None,
            output_path=Path(env["GITHUB_OUTPUT"]) if env.get("GITHUB_OUTPUT") else None,
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
    actor_is_bot: bool  # an account of type Bot (an app, github-actions): never starts a run
    association: str | None  # None: a label event, which carries none for the labeller
    comment_id: int | None
    default_branch: str
    repo_owner: str


_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")


def clean_text(text: str) -> str:
    """Issue text as a reader sees it: no HTML comments, no invisible or direction-changing characters."""
    text = _HTML_COMMENT.sub("", text.replace("\r\n", "\n"))
    text = _VARIATION_SELECTORS.sub("", text)
    # Cf holds zero-width characters, bidi controls, the BOM and tag characters; Cc the
    # control characters. Newlines and tabs are the only ones a reader needs.
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cf", "Cc")).strip()


def plain_lines(markdown: str) -> Iterator[str]:
    """The lines a reader sees as plain text, stripped: not inside a fenced code block, not
    indented as code (four spaces or more), not in a block quote (a line right after a quoted
    line continues the quote)."""
    fence: tuple[str, int] | None = None  # the open fence's character and length
    quoted = False  # in a block quote, which lasts (lazily) until a blank line
    for line in clean_text(markdown).expandtabs(4).splitlines():
        opening = _FENCE.fullmatch(line)
        if fence is not None:
            # CommonMark: the same character, at least as many, nothing after but spaces.
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= fence[1] and not opening.group(2).strip():
                fence = None
            continue
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            fence, quoted = (opening.group(1)[0], len(opening.group(1))), False  # a fence ends a quote's paragraph
            continue
        quoted = bool(line.strip()) and (quoted or line.lstrip().startswith(">"))
        if quoted or line.startswith("    "):
            continue
        yield line.strip()


def has_trigger(comment: str, phrase: str) -> bool:
    """True when a plain line of the comment starts with the phrase, as a word."""
    wanted = phrase.strip().casefold()
    for line in plain_lines(comment):
        line = line.casefold()
        if line.startswith(wanted) and (len(line) == len(wanted) or line[len(wanted)].isspace()):
            return True
    return False


def _is_bot(*accounts: dict) -> bool:
    return any(a.get("type") == "Bot" or str(a.get("login", "")).endswith("[bot]") for a in accounts)


def read_trigger(event_name: str, event: dict, label_name: str, phrase: str) -> Trigger | str:
    """The Trigger this event carries, or the reason (a sentence) the bot does not act on it."""
    issue = event.get("issue") or {}
    repo = event.get("repository") or {}
    sender = event.get("sender") or {}
    common = dict(
        issue_number=int(issue.get("number") or 0),
        title=" ".join(clean_text(issue.get("title") or "").split()),  # a title is one line wherever it goes
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
        if label.casefold() != label_name.casefold():
            return f"the label added is {label!r}, not {label_name!r}"
        return Trigger(actor=sender.get("login", ""), actor_is_bot=_is_bot(sender), association=None,
                       comment_id=None, **common)
    if event_name == "issue_comment":
        comment = event.get("comment") or {}
        if event.get("action") != "created":
            return f"the comment was {event.get('action')!r}, not 'created'"
        if issue.get("pull_request"):
            return "the comment is on a pull request, not an issue"
        if issue.get("state") == "closed":
            return "the issue is closed"
        if not has_trigger(comment.get("body") or "", phrase):
            return f"no line of the comment outside code and quotes starts with {phrase!r}"
        user = comment.get("user") or {}
        return Trigger(actor=user.get("login", ""), actor_is_bot=_is_bot(user, sender),
                       association=comment.get("author_association") or "NONE", comment_id=comment.get("id"), **common)
    return f"the event {event_name!r} is not one the bot answers (issues, issue_comment)"
