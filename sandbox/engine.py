"""The Docker engine: one client per process, the labels we put on everything, and clean-up.

Every container and temporary image the sandbox makes carries LABEL_OWNER plus the id of the
process session that made it, so that a context manager, a Ctrl-C, a SIGTERM or a later
`patchsmith sandbox prune` can find and remove exactly what we made and nothing else.

A run killed with SIGKILL runs no handler. Its containers also carry the cache they were made
for and their process's start time, so the next run with the same cache removes them when it
makes its first container (reap_dead_runs): a pid that a new process took is not mistaken for
the dead one, and runs that use another cache are left alone.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import threading
import uuid
from dataclasses import dataclass

import docker
import docker.errors

from patchsmith.sandbox.errors import DiskFull, DockerUnavailable, looks_like_disk_full

LABEL_OWNER = "patchsmith.sandbox"  # value: "1" on everything we make
LABEL_KIND = "patchsmith.kind"  # "base" | "env" | "instance" | "build" (a temporary build container)
LABEL_SESSION = "patchsmith.session"  # the process session that made it
LABEL_PID = "patchsmith.pid"  # that process, to tell crashed runs from live ones
LABEL_HOST = "patchsmith.host"
LABEL_RECIPE = "patchsmith.recipe"  # the recipe hash of an image
LABEL_CACHE = "patchsmith.cache"  # the cache the run used: runs with the same one reap each other's leftovers
LABEL_STARTED = "patchsmith.started"  # the owner process's start time (clock ticks after boot)

SESSION_ID = uuid.uuid4().hex[:12]

_client: docker.DockerClient | None = None
_client_lock = threading.Lock()


def client() -> docker.DockerClient:
    """A connected Docker client, or DockerUnavailable with what to do."""
    global _client
    with _client_lock:
        if _client is None:
            try:
                # Test runs can be silent for a long time; exec time limits are ours, not the socket's.
                candidate = docker.from_env(timeout=24 * 3600, max_pool_size=32)
                candidate.ping()
            except Exception as exc:  # noqa: BLE001 - any failure to connect means the same to the user
                host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
                raise DockerUnavailable.from_failure(exc, host) from exc
            _client = candidate
        return _client


def cache_scope() -> str:
    """Which cache this process uses, as the variables that choose it say (the cache root itself
    is the top layer's to compute); containers carry it as LABEL_CACHE."""
    return os.environ.get("PATCHSMITH_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or "~"


def process_started(pid: int) -> str:
    """The process's start time in clock ticks after boot ("" when there is no such process)."""
    try:
        stat = open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace").read()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22; the name before it may hold blanks


def labels(kind: str, **extra: str) -> dict[str, str]:
    """The labels every container and temporary image of this process carries."""
    return {
        LABEL_OWNER: "1",
        LABEL_KIND: kind,
        LABEL_SESSION: SESSION_ID,
        LABEL_PID: str(os.getpid()),
        LABEL_HOST: socket.gethostname(),
        LABEL_CACHE: cache_scope(),
        LABEL_STARTED: process_started(os.getpid()),
        **extra,
    }


def raise_if_disk_full(exc: BaseException) -> None:
    """Turn an engine error that means a full disk into DiskFull."""
    if looks_like_disk_full(str(exc)):
        raise DiskFull() from exc


# ---- containers alive in this process, removed on exit, Ctrl-C and SIGTERM ----

_live: set[str] = set()
_live_lock = threading.Lock()
_handlers_installed = False
_reaped = False


def track(container_id: str) -> None:
    global _reaped
    _install_handlers()
    with _live_lock:
        _live.add(container_id)
        first, _reaped = not _reaped, True
    if first:
        reap_dead_runs()


def untrack(container_id: str) -> None:
    with _live_lock:
        _live.discard(container_id)


def remove_container(container_id: str) -> None:
    """Remove a container, whatever its state; a container already gone is fine."""
    try:
        client().api.remove_container(container_id, force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc):
            raise
    finally:
        untrack(container_id)


def remove_tracked() -> int:
    """Remove every container this process still holds; returns how many."""
    with _live_lock:
        ids = list(_live)
    for container_id in ids:
        try:
            remove_container(container_id)
        except Exception:  # noqa: BLE001 - clean-up goes on for the others
            pass
    return len(ids)


def _on_sigterm(signum, frame):  # noqa: ANN001 - signal handler signature
    remove_tracked()
    previous = _previous_handlers.get(signum)
    if callable(previous):
        previous(signum, frame)
        return
    # Die of the same signal, as the caller expects from SIGTERM.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


_previous_handlers: dict[int, object] = {}


def _install_handlers() -> None:
    """atexit covers normal exits and Ctrl-C (KeyboardInterrupt unwinds); SIGTERM needs a handler."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(remove_tracked)
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous = signal.getsignal(signum)
        if previous in (signal.SIG_IGN,):
            continue
        _previous_handlers[signum] = previous if previous not in (signal.SIG_DFL, None) else None
        signal.signal(signum, _on_sigterm)


def install_signal_handlers() -> None:
    """Call from the main thread early if containers will be made from worker threads."""
    _install_handlers()


# ---- prune: what crashed runs left behind ----


@dataclass
class PruneReport:
    containers: list[str]
    images: list[str]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_alive(container_labels: dict) -> bool:
    """Whether the process that made a container still runs (another host's always counts as alive)."""
    if container_labels.get(LABEL_HOST) != socket.gethostname():
        return True
    pid = int(container_labels.get(LABEL_PID, "0") or 0)
    if pid <= 0 or not _pid_alive(pid):
        return False
    started = container_labels.get(LABEL_STARTED)
    return not started or process_started(pid) == started


def reap_dead_runs() -> list[str]:
    """Remove the containers that dead runs with this process's cache left (what a SIGKILL left
    running: test runs, servers, pip); returns their short ids."""
    api = client().api
    filters = {"label": [f"{LABEL_OWNER}=1", f"{LABEL_CACHE}={cache_scope()}"]}
    dead = [info["Id"] for info in api.containers(all=True, filters=filters) if not _owner_alive(info.get("Labels") or {})]
    for container_id in dead:
        try:
            remove_container(container_id)
        except Exception:  # noqa: BLE001 - one that will not go must not stop this run
            pass
    return [container_id[:12] for container_id in dead]


def prune(include_live: bool = False, images: bool = False, dry_run: bool = False) -> PruneReport:
    """Remove our containers whose process is gone (all of them with include_live), temporary
    images, and with images=True every image we built too (base, environment, instance)."""
    api = client().api
    here = socket.gethostname()
    removed_containers: list[str] = []
    for info in api.containers(all=True, filters={"label": f"{LABEL_OWNER}=1"}):
        lab = info.get("Labels") or {}
        owner_alive = lab.get(LABEL_HOST) == here and _owner_alive(lab)
        if owner_alive and not include_live:
            continue
        removed_containers.append(info["Id"][:12])
        if not dry_run:
            remove_container(info["Id"])
    removed_images: list[str] = []
    for info in api.images(filters={"label": f"{LABEL_OWNER}=1"}):
        lab = info.get("Labels") or {}
        if not images and lab.get(LABEL_KIND) not in ("build", "temp"):
            continue  # base, environment and instance images are kept unless images=True
        names = info.get("RepoTags") or [info["Id"]]
        removed_images.append(names[0])
        if not dry_run:
            try:
                api.remove_image(info["Id"], force=True)
            except docker.errors.NotFound:
                pass
    return PruneReport(removed_containers, removed_images)
