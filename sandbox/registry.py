"""An image registry shared by several engines (`--image-registry HOST:PORT`): an image is pulled
from it before it would be built, and pushed to it after it was built, so that a cluster builds
each environment once and every node runs the very same image.

The registry is this process's choice (configure()), made once by the command line, or by a Ray
task on its node with the driver's value. A registry on 127.0.0.1 needs no TLS (Docker treats
loopback registries as insecure ones); any other must be trusted by each node's engine.
"""

from __future__ import annotations

import threading

import docker.errors

from patchsmith.sandbox import engine
from patchsmith.sandbox.errors import SandboxError

_registry: str | None = None
_lock = threading.Lock()


def configure(address: str | None) -> None:
    """Use the registry at HOST:PORT from now on (None: none)."""
    global _registry
    if address is not None and (":" not in address or "/" in address or not address.rsplit(":", 1)[1].isdigit()):
        raise SandboxError(f"--image-registry wants HOST:PORT, not {address!r}.")
    with _lock:
        _registry = address


def configured() -> str | None:
    return _registry


def remote_name(tag: str) -> str:
    """Where the image `repository:tag` lives in the registry."""
    return f"{_registry}/{tag}"


def pull(tag: str) -> bool:
    """Fetch `tag` from the registry and name it locally; False when there is no registry or the
    registry does not hold it."""
    if _registry is None:
        return False
    api = engine.client().api
    repository, version = remote_name(tag).rsplit(":", 1)
    try:
        api.pull(repository, tag=version)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if "not found" in str(exc).lower() or "manifest unknown" in str(exc).lower():
            return False
        raise SandboxError(f"Pulling {tag} from the registry {_registry} failed: {exc}") from exc
    local_repository, local_version = tag.rsplit(":", 1)
    api.tag(remote_name(tag), local_repository, local_version)
    api.remove_image(remote_name(tag))  # the local name stays; only the registry's alias goes
    return True


def push(tag: str) -> None:
    """Send the image `tag` to the registry (nothing without one)."""
    if _registry is None:
        return
    api = engine.client().api
    repository, version = remote_name(tag).rsplit(":", 1)
    api.tag(tag, repository, version)
    try:
        for event in api.push(repository, tag=version, stream=True, decode=True):
            if "error" in event:
                raise SandboxError(f"Pushing {tag} to the registry {_registry} failed: {event['error']}")
    finally:
        api.remove_image(remote_name(tag))
