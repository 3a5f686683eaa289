"""A small client for GitHub's REST API: the handful of calls the bot makes.

It talks to `GITHUB_API_URL` (https://api.github.com, or a GitHub Enterprise server's
https://HOST/api/v3) with urllib from the standard library, so it adds no dependency. Rate
limits are waited out: a 429, or a 403 that carries Retry-After or an exhausted
x-ratelimit-remaining, is retried after the time GitHub asks for (bounded by `max_wait`).
A plain 403 (no permission) is not retried: waiting would not change the answer.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

RETRIED_SERVER_ERRORS = (500, 502, 503, 504)


class GitHubError(Exception):
    """GitHub refused or failed a request in a way the user can act on (token, permissions, limits)."""

    user_error = True

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class GitHubClient:
    api_url: str  # e.g. https://api.github.com
    token: str
    repository: str  # "owner/name"
    max_retries: int = 4
    max_wait: float = 900.0  # longer waits fail: a job should not sit for an hour
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    timeout: float = 30.0
    # (method, path, status) of every answered request, for the run record.
    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        """Send one request; return the decoded JSON answer (None for an empty one)."""
        url = self.api_url.rstrip("/") + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "patchsmith-bot",
        }
        if self.token:  # public reads work without one
            headers["Authorization"] = f"Bearer {self.token}"
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(self.max_retries + 1):
            status, reply_headers, payload = self._send(method, url, data, headers)
            self.calls.append((method, path, status))
            if status < 400:
                return json.loads(payload) if payload.strip() else None
            wait = self._retry_delay(status, reply_headers, attempt)
            if wait is None or attempt == self.max_retries:
                raise GitHubError(_describe_failure(method, path, status, payload), status)
            if wait > self.max_wait:
                raise GitHubError(
                    f"GitHub's rate limit allows the next request in {wait:.0f} s, longer than the "
                    f"{self.max_wait:.0f} s this run waits.",
                    status,
                )
            self.sleep(wait)
        raise AssertionError("unreachable")

    def _send(self, method: str, url: str, data: bytes | None, headers: dict) -> tuple[int, dict, bytes]:
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as answer:
                return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise GitHubError(f"cannot reach the GitHub API at {self.api_url}: {reason}.") from None

    def _retry_delay(self, status: int, headers: dict, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when the answer is final."""
        retry_after = headers.get("retry-after")
        rate_limited = status == 429 or (
            status == 403 and (retry_after is not None or headers.get("x-ratelimit-remaining") == "0")
        )
        if rate_limited:
            if retry_after is not None and retry_after.strip().isdigit():
                return float(retry_after)
            reset = headers.get("x-ratelimit-reset", "")
            if reset.strip().isdigit():
                return max(float(reset) - self.clock(), 0.0) + 1.0
            return 60.0  # GitHub's advice for secondary limits that give no time
        if status in RETRIED_SERVER_ERRORS:
            return float(2**attempt)
        return None

    # The calls the bot makes.

    def _repo_path(self) -> str:
        return "/repos/" + self.repository

    def permission(self, login: str) -> dict:
        return self.request("GET", f"{self._repo_path()}/collaborators/{quote(login, safe='')}/permission")

    def comment(self, issue_number: int, body: str) -> dict:
        return self.request("POST", f"{self._repo_path()}/issues/{issue_number}/comments", {"body": body})

    def react_to_issue(self, issue_number: int, content: str) -> dict:
        return self.request("POST", f"{self._repo_path()}/issues/{issue_number}/reactions", {"content": content})

    def react_to_comment(self, comment_id: int, content: str) -> dict:
        return self.request(
            "POST", f"{self._repo_path()}/issues/comments/{comment_id}/reactions", {"content": content}
        )

    def open_pull_request(self, title: str, head: str, base: str, body: str, draft: bool) -> dict:
        fields = {"title": title, "head": head, "base": base, "body": body, "draft": draft}
        return self.request("POST", f"{self._repo_path()}/pulls", fields)


def _describe_failure(method: str, path: str, status: int, payload: bytes) -> str:
    try:
        message = json.loads(payload).get("message", "")
    except (ValueError, AttributeError):
        message = payload[:200].decode("utf-8", "replace")
    hint = {
        401: " (is GITHUB_TOKEN set and valid?)",
        403: " (does the workflow grant the permission, e.g. `pull-requests: write`?)",
        404: " (wrong repository, or a token that cannot see it?)",
    }.get(status, "")
    return f"GitHub answered {status} to {method} {path}: {message or 'no message'}{hint}."
