"""The swebench part of the settings tree: how `swebench eval|infer|envs` run, as opposed to what
they run on (dataset, instances, mirrors and run id stay plain arguments of the command).

    [swebench]            # in the user's config.toml, or --set swebench.KEY=VALUE
    workers = 2
    timeout = 1800
    [swebench.ray]
    address = "auto"

EvalSettings and InferSettings (evaluation.py, inference.py) are what a run hands its workers: the
run's folders plus the values chosen here. Their defaults are these, read from this class, so that
each is declared once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# `--ray` given without an address: start a Ray on this machine.
LOCAL_RAY = "local"


def _grader(text: str) -> str:
    if text not in ("ours", "official"):
        raise ValueError(f"takes ours or official, not {text!r}")
    return text


def ray_endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) of a cluster address, None for local and auto; ValueError for anything else."""
    from urllib.parse import urlsplit

    if address in (LOCAL_RAY, "auto"):
        return None
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if parts.scheme not in ("ray", "tcp") or not host or port is None:
        raise ValueError(f"takes auto, ray://HOST:PORT or HOST:PORT, not {address!r}")
    return host, port


def _ray_address(text: str) -> str:
    ray_endpoint(text)
    return text


@dataclass(frozen=True)
class RaySettings:
    # None: run here without Ray; "local" starts a local Ray; "auto"; "ray://HOST:10001"; "HOST:PORT".
    address: str | None = field(default=None, metadata={
        "flag": "--ray", "const": LOCAL_RAY, "metavar": "ADDRESS", "parse": _ray_address,
        "help": "run each instance as a task on a Ray cluster: auto, ray://HOST:10001 or HOST:PORT; no ADDRESS "
                "starts a local Ray (needs the ray extra)"})
    resource: str = field(default="docker", metadata={
        "flag": "--ray-resource", "help": "custom Ray resource a node advertises when it has a Docker engine"})
    cpus_per_instance: float = field(default=1.0, metadata={
        "flag": "--ray-cpus", "positive": True, "metavar": "N", "help": "CPUs Ray reserves for one instance"})
    memory_gb_per_instance: float = field(default=2.0, metadata={
        "flag": "--ray-memory-gb", "positive": True, "metavar": "GB", "help": "memory (GiB) Ray reserves for one instance"})
    # A task whose node dies (or whose worker is killed) runs again elsewhere, this many times.
    max_retries: int = field(default=3, metadata={"min": 0})
    # Soft affinity keeps an environment's instances queued on their node while it is busy; True
    # lets them spill to any free node at once (faster start, more environment builds).
    spill_when_busy: bool = False

    @property
    def local(self) -> bool:
        return self.address in (None, LOCAL_RAY)


@dataclass(frozen=True)
class SwebenchSettings:
    workers: int = field(default=1, metadata={
        "flag": "--workers", "min": 1, "help": "instances evaluated or solved (environments built, for envs) at once"})
    timeout: float = field(default=1800.0, metadata={
        "flag": "--timeout", "positive": True, "help": "seconds allowed for one instance's tests (eval)"})
    grader: str = field(default="ours", metadata={
        "flag": "--grader", "parse": _grader, "metavar": "ours|official",
        "help": "official: also re-grade every log through the official swebench package (the grader extra) and "
                "list each difference; the exit status is 1 when there is one (eval)"})
    image_registry: str | None = field(default=None, metadata={
        "flag": "--image-registry", "metavar": "HOST:PORT",
        "help": "an image registry: images are pulled from it before building and pushed to it after"})
    max_total_cost: float | None = field(default=None, metadata={
        "flag": "--max-total-cost", "positive": True, "metavar": "USD",
        "help": "dollars the whole run may spend, across all workers and nodes; no instance starts past it (infer)"})
    ray: RaySettings = field(default_factory=RaySettings)
