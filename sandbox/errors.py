"""Errors a user can cause or fix, each one sentence saying what to do."""

from __future__ import annotations


class SandboxError(Exception):
    """A sandbox problem the user can fix; the command line prints it as one sentence."""

    user_error = True


class DockerUnavailable(SandboxError):
    """No Docker engine answers."""


class BuildFailed(SandboxError):
    """An image build failed; the message carries the last lines of its log."""

    def __init__(self, what: str, log_tail: str, log_path: str | None = None):
        where = f" (full log: {log_path})" if log_path else ""
        tail = "\n".join("    " + line for line in log_tail.strip().splitlines()[-12:])
        super().__init__(f"Building {what} failed{where}; fix the recipe or the network and retry. Last log lines:\n{tail}")
        self.log_tail = log_tail
        self.log_path = log_path


class DiskFull(SandboxError):
    """The disk under Docker or the cache is full."""

    def __init__(self, where: str = "Docker's storage"):
        super().__init__(
            f"The disk holding {where} is full; free space with `patchsmith sandbox prune --images` "
            "or `docker system prune`, then retry."
        )


class RecipeError(SandboxError):
    """A sandbox recipe (pyproject.toml / .patchsmith.toml) is malformed."""


def looks_like_disk_full(text: str) -> bool:
    """Whether an engine or tool message means the disk is full."""
    return "no space left on device" in text.lower()
