"""The one image builder: start a build container from a base image, let the caller fill it, and
commit it under a tag. Environment images (sandbox.env, swebench environments) and SWE-bench
instance images are all made this way; base images are imported from a debootstrap tree
(sandbox.base) and share only the lookup and the lock.

A tag names a recipe, so a build is first a lookup; builds of one tag are serialised across
threads and processes, and the lookup is repeated after the wait.
"""

from __future__ import annotations

import contextlib
import fcntl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors
from patchsmith.sandbox import engine, registry, scratch
from patchsmith.sandbox.container import Container, Limits
from patchsmith.sandbox.errors import (
    BuildFailed,
    DiskFull,
    SandboxError,
    looks_like_disk_full,
)

WORKDIR = "/testbed"  # where the repository lives in every image above the base
BUILD_LIMITS = Limits(memory="8g", pids=8192)

def image_exists(tag: str) -> bool:
    try:
        engine.client().api.inspect_image(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def image_labels(tag: str) -> dict[str, str]:
    return engine.client().api.inspect_image(tag).get("Config", {}).get("Labels") or {}


def image_size(tag: str) -> int:
    return int(engine.client().api.inspect_image(tag).get("Size", 0))


@contextlib.contextmanager
def build_lock(cache_dir: Path | None, key: str):
    """Serialise builds of the same recipe across threads and processes (they would race on
    the same tag and double the work). A build first removes the trees that killed builds with
    the same cache left (their processes, mounts and files)."""
    lock_dir = Path(cache_dir or tempfile.gettempdir()) / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{key.replace(':', '-')}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if cache_dir:  # after the wait: the build we waited for may be one that was killed
            scratch.reap(Path(cache_dir) / "tmp")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class ImageBuild:
    """What an image is made from, apart from what the caller puts in its build container."""

    tag: str
    base: str
    what: str  # for messages, e.g. "the environment image patchsmith-env:..."
    env: Mapping[str, str] = field(default_factory=dict)  # the build's variables; all but `build_only` stay in the image
    build_only: tuple[str, ...] = ()  # variables the build needs and the image must not keep
    labels: Mapping[str, str] = field(default_factory=dict)
    kind: str = "env"  # the image's patchsmith.kind label
    network: bool | str = True
    ca_bundle: str | Path | None = "auto"  # the host's CA bundle serves the build's commands only
    limits: Limits = BUILD_LIMITS
    mounts: Mapping[str, str] = field(default_factory=dict)  # host folder -> build container folder
    log_path: Path | None = None
    lock_dir: Path | None = None  # the sandbox cache: its locks/ and tmp/


def build_image(build: ImageBuild, fill: Callable[[Container], Mapping[str, str]]) -> str:
    """Find or build `build.tag`: "found" when the engine has it, "pulled" when the image registry
    (sandbox.registry, when one is configured) had it, "built" when built now (and then pushed to
    the registry). fill runs the steps in the started build container and returns labels for the
    image: what the build found out (what it dropped, what it reinstalled) rides on the image, so
    a later lookup reads it the way this build's caller does. fill raises to fail the build."""
    if image_exists(build.tag):
        return "found"
    with build_lock(build.lock_dir, build.tag):
        if image_exists(build.tag):
            return "found"
        if registry.pull(build.tag):  # another node built it: every node runs that very image
            return "pulled"
        kept = {key: value for key, value in build.env.items() if key not in build.build_only}
        with Container(build.base, workdir=WORKDIR, network=build.network, env=kept,
                       exec_env={key: value for key, value in build.env.items() if key in build.build_only},
                       ca_bundle=build.ca_bundle, kind="build", log_path=build.log_path, limits=build.limits,
                       mounts=dict(build.mounts)) as container:
            found_out = fill(container)
            _commit(container, build, found_out)
        registry.push(build.tag)
    return "built"


def _commit(container: Container, build: ImageBuild, found_out: Mapping[str, str]) -> None:
    """Save the build container as the image: its variables and /testbed as the working folder are
    what every container of the image starts with."""
    repository, version = build.tag.split(":", 1)
    kept_env = [f"{key}={value}" for key, value in build.env.items() if key not in build.build_only]
    labels = {engine.LABEL_OWNER: "1", engine.LABEL_KIND: build.kind, **build.labels, **found_out}
    try:
        engine.client().api.commit(container.id, repository=repository, tag=version,
                                   conf={"Env": kept_env, "WorkingDir": WORKDIR, "Cmd": ["bash"], "Labels": labels})
    except docker.errors.APIError as exc:
        engine.raise_if_disk_full(exc)
        raise SandboxError(f"Saving {build.what} failed: {exc}") from exc


def run_step(container: Container, name: str, command: str, timeout: float, what: str) -> str:
    """Run one build step; its output, or BuildFailed (DiskFull when the disk filled up)."""
    result = container.exec(command, timeout=timeout)
    if result.ok:
        return result.output
    if looks_like_disk_full(result.output):
        raise DiskFull()
    reason = "timed out" if result.timed_out else f"exit {result.exit_code}"
    log = container.log_path
    raise BuildFailed(f"{what} (step `{name}`: {reason})", result.output, str(log) if log else None)
