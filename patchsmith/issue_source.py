"""Where an issue comes from: a file, the text itself, or a GitHub issue URL read through the
REST API at GITHUB_API_URL (with GITHUB_TOKEN when set)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

# https://github.com/owner/name/issues/12, or the same on a GitHub Enterprise host.
TEXT_SUFFIX = re.compile(r"\.(md|markdown|txt|rst|text)$", re.IGNORECASE)
ISSUE_URL = re.compile(r"^https?://[^/\s]+/(?P<repo>[^/\s]+/[^/\s]+)/issues/(?P<number>\d+)/?(?:[#?].*)?$")


class IssueError(Exception):
    user_error = True


def read_issue(value: str) -> tuple[str, str]:
    """(title, body) of the issue named by `value`."""
    match = ISSUE_URL.match(value.strip())
    if match:
        return _from_github(match["repo"], int(match["number"]))
    if value == "-":
        return _checked(sys.stdin.read())
    path = Path(value).expanduser()
    try:
        is_file = len(value) < 4096 and path.is_file()
    except OSError:
        is_file = False
    if is_file:
        try:
            return _checked(path.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            raise IssueError(f"cannot read the issue file {value}: {exc.strerror or exc}") from None
    if looks_like_path(value):
        raise IssueError(f"there is no issue file {value} (give an existing file, the issue's text, - for standard input, "
                         "or a GitHub issue URL)")
    return _checked(value)


def looks_like_path(value: str) -> bool:
    """A one-word value with a folder separator or a text file's suffix is meant as a file, not as an issue."""
    word = value.strip()
    return bool(word) and not any(c.isspace() for c in word) and ("/" in word or bool(TEXT_SUFFIX.search(word)))


def _checked(text: str) -> tuple[str, str]:
    if not text.strip():
        raise IssueError("the issue is empty: give its text, a file that holds it, or a GitHub issue URL")
    return split_title(text)


def split_title(text: str) -> tuple[str, str]:
    """A leading Markdown heading is the title; otherwise there is none."""
    first, _, rest = text.strip().partition("\n")
    if first.startswith("#"):
        return first.lstrip("#").strip(), rest.strip()
    return "", text.strip()


def _from_github(repository: str, number: int) -> tuple[str, str]:
    from patchsmith.github import GitHubClient, GitHubError

    api = os.environ.get("GITHUB_API_URL", "https://api.github.com")
    client = GitHubClient(api_url=api, token=os.environ.get("GITHUB_TOKEN", ""), repository=repository, max_retries=2)
    try:
        data = client.request("GET", f"/repos/{repository}/issues/{number}")
    except GitHubError as exc:
        raise IssueError(f"could not read issue #{number} of {repository}: {exc}") from None
    if not isinstance(data, dict) or "title" not in data:
        raise IssueError(f"{api} did not answer with an issue for {repository}#{number}")
    return str(data["title"]), str(data.get("body") or "")
