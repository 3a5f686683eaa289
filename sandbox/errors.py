"""Errors a user can cause or fix, each one sentence saying what to do."""

from __future__ import annotations


class SandboxError(Exception):
    """A sandbox problem the user can fix; the command line prints it as one sentence."""

    user_error = True


class DockerUnavailable(SandboxError):
    """No Docker engine answers."""

    @classmethod
    def from_failure(cls, exc: BaseException, host: str) -> "DockerUnavailable":
        """What to do, by why the connection failed: an engine that is there but refuses this user
        needs the docker group (or another DOCKER_HOST), not to be started."""
        if _permission_denied(exc):
            return cls(f"You lack permission on the Docker socket {host.removeprefix('unix://')}; add yourself to the "
                       "docker group (`sudo usermod -aG docker $USER`, then log in again) or set DOCKER_HOST to an "
                       "engine you may use (e.g. rootless Docker's unix://$XDG_RUNTIME_DIR/docker.sock).")
        return cls(f"No Docker engine answers at {host}; start one (for example `sudo systemctl start docker` "
                   "or `bash .ci/start-dockerd`) or set DOCKER_HOST.")


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


def _permission_denied(exc: BaseException) -> bool:
    """Whether a PermissionError lies anywhere in exc: its causes, or (as requests and urllib3 wrap
    it) its arguments."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        if isinstance(item, PermissionError):
            return True
        todo += [item.__cause__, item.__context__, *item.args]
    return False
