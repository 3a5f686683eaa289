"""A local multi-node Ray cluster for tests, each node with its own Docker engine and folders.

    with LocalCluster(root, mirror_of=repo, base_tarball=tarball) as cluster:
        cluster.add_node("ray20-a"); cluster.add_node("ray20-b"); cluster.wait_for_nodes()
        ... patchsmith swebench eval --ray cluster.address ...

Each node is a `ray start --block` process (its own process group) whose environment names its
own dockerd (DOCKER_HOST), cache root (PATCHSMITH_CACHE_DIR) and repository cache
(PATCHSMITH_REPO_CACHE, a mirror copied for it), so nothing works by leaning on one shared
engine or folder. A fresh dockerd has no images: the node's cache gets the bookworm base image's
tarball (a hard link to the machine's cache), so its first build imports that instead of running
debootstrap. The head node advertises no Docker and runs no instance. Everything is stopped on
exit, even when the test failed: the process groups, every process that names the cluster's
folder (Ray's workers leave the group), the daemons' mounts, the folder.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Ray's processes (head, raylets, workers) and the test's daemons; no login shell features.
_RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ports() -> list[str]:
    """Ports every node needs for itself (several nodes share one machine)."""
    return ["--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
            "--metrics-export-port", str(free_port()), "--runtime-env-agent-port", str(free_port()),
            "--node-manager-port", str(free_port()), "--object-manager-port", str(free_port())]


_bridges = itertools.count(1)


@dataclass
class Dockerd:
    """A dockerd of its own: data root, exec root, pid file and socket under folder; a bridge of its
    own and no iptables rules. (`--bridge=none` would not do: a dockerd started with it deletes the
    machine's docker0, and with it the network of the system engine's running containers.)"""

    folder: Path
    process: subprocess.Popen | None = None
    bridge: str = ""
    gateway: str = ""

    @property
    def host(self) -> str:
        return f"unix://{self.folder}/docker.sock"

    def start(self) -> "Dockerd":
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "dockerd.log", "wb")
        number = next(_bridges) + os.getpid() % 200 * 10
        self.bridge = f"psray{number}"
        subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True)
        self.gateway = f"10.{200 + number // 250 % 50}.{number % 250}.1"  # the machine, as this engine's containers reach it
        subprocess.run(["ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge], check=True)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)
        self.process = subprocess.Popen(
            ["dockerd", "--data-root", str(self.folder / "data"), "--exec-root", str(self.folder / "exec"),
             "--pidfile", str(self.folder / "docker.pid"), "-H", self.host, f"--bridge={self.bridge}", "--iptables=false",
             "--ip-masq=false", "--ip6tables=false", "--storage-driver=overlay2"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while subprocess.run(["docker", "-H", self.host, "version"], capture_output=True).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the test's dockerd did not start: " + (self.folder / "dockerd.log").read_text()[-2000:])
            time.sleep(0.3)
        return self

    def docker(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "-H", self.host, *args], capture_output=True, text=True)

    def stop(self) -> None:
        if self.process is None:
            return
        for container in self.docker("ps", "-aq").stdout.split():
            self.docker("rm", "-f", container)
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
        if self.bridge:
            subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
            self.bridge = ""


@dataclass
class Registry:
    """Debian's docker-registry (distribution 2.8) on 127.0.0.1, storing under folder."""

    folder: Path
    process: subprocess.Popen | None = None
    address: str = ""

    def __enter__(self) -> "Registry":
        import urllib.request

        self.folder.mkdir(parents=True, exist_ok=True)
        self.address = f"127.0.0.1:{free_port()}"
        config = self.folder / "config.yml"
        config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {self.folder / 'data'}\n"
                          f"http:\n  addr: {self.address}\n")
        self.process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=open(self.folder / "log", "wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2)
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError("docker-registry did not start: " + (self.folder / "log").read_text()[-1000:])
                time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _processes_naming(text: str) -> list[int]:
    """Processes whose command line names text (the cluster's folder): Ray's workers, our daemons' children."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _unmount_under(folder: Path) -> None:
    """A dockerd leaves its network namespace mounted under its exec root."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines() if line.split()[1].startswith(str(folder))]
    for mount in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)


class LocalCluster:
    def __init__(self, mirror_of: Path, base_tarball: Path | None, prefix: str = "ray20-"):
        # Short: Ray's and Docker's unix sockets live under it.
        self.root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        self.mirror_of = mirror_of
        self.base_tarball = base_tarball
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: dict[str, subprocess.Popen] = {}
        self.dockerds: dict[str, Dockerd] = {}
        # Ray's runtime-env agent logs each job's runtime environment (and with it the variables
        # that carry model keys) at INFO; RAY_LOGGER_LEVEL is the level its processes log at.
        # A local ray.init() anywhere on the machine leaves ~/.ray/auth_token, which turns token
        # authentication on for every later `ray start` that finds it: these nodes say off.
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_LOGGER_LEVEL": "warning", "RAY_AUTH_MODE": "disabled"}

    def __enter__(self) -> "LocalCluster":
        try:
            self._start(["--head", "--port", str(self.port), "--num-cpus", "0", "--temp-dir", str(self.root / "ray"),
                         "--include-dashboard", "false", "--dashboard-port", str(free_port()),
                         "--ray-client-server-port", str(free_port()),
                         "--node-name", "ray20-head"], self.env, "head")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start(self, args: list[str], env: dict, name: str, cwd: Path | None = None) -> None:
        """`ray start --block` for one node, once it says it runs. Ray gives a node 30 s to register
        with the head; on a loaded machine that can pass, so a node that gave up is started again."""
        for attempt in range(3):
            log_path = self.root / f"{name}.{attempt}.log"
            process = subprocess.Popen([_RAY, "start", *args, *_ports(), "--object-store-memory", str(80 * 2**20),
                                        "--disable-usage-stats", "--block"],
                                       stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=cwd or self.root)
            self.nodes[name] = process
            deadline = time.monotonic() + 180
            while process.poll() is None and "Ray runtime started" not in log_path.read_text(errors="replace"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Ray node {name} did not start: {log_path.read_text(errors='replace')[-2000:]}")
                time.sleep(0.5)
            if process.poll() is None:
                return
            self._kill_group(process)
        raise RuntimeError(f"Ray node {name} did not start: {log_path.read_text(errors='replace')[-2000:]}")

    @staticmethod
    def _kill_group(process: subprocess.Popen) -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def node_folder(self, name: str) -> Path:
        return self.root / name

    def add_node(self, name: str, cpus: int = 1, docker: bool = True, extra_env: dict | None = None,
                 resource: str = "docker", cwd: Path | None = None) -> None:
        """A worker node with its own dockerd, cache root and repository cache."""
        folder = self.node_folder(name)
        (folder / "mirrors").mkdir(parents=True)
        cache = folder / "cache"
        if self.base_tarball is not None:
            (cache / "sandbox" / "base").mkdir(parents=True)
            # A hard link (zstd skips symbolic links), else a copy.
            try:
                os.link(self.base_tarball, cache / "sandbox" / "base" / self.base_tarball.name)
            except OSError:
                shutil.copy(self.base_tarball, cache / "sandbox" / "base" / self.base_tarball.name)
        if self.mirror_of is not None:
            subprocess.run(["git", "clone", "-q", "--mirror", str(self.mirror_of), str(folder / "mirrors" / "fixture+ray")],
                           check=True, capture_output=True)
        env = {**self.env, "PATCHSMITH_CACHE_DIR": str(cache), "PATCHSMITH_REPO_CACHE": str(folder / "mirrors"),
               **(extra_env or {})}
        if docker:
            self.dockerds[name] = Dockerd(folder / "d").start()
            env["DOCKER_HOST"] = self.dockerds[name].host
        self._start(["--address", self.address, "--num-cpus", str(cpus), "--node-name", name,
                     "--resources", json.dumps({resource: 1, name: 1})], env, name, cwd)

    def wait_for_nodes(self, *names: str, timeout: float = 120) -> None:
        """Until every named node is alive and advertises its resource."""
        script = ("import ray, sys, time\n"
                  "deadline = time.monotonic() + float(sys.argv[2])\n"
                  "while True:\n"
                  "    try:\n        ray.init(address=sys.argv[1], log_to_driver=False); break\n"
                  "    except Exception:\n        assert time.monotonic() < deadline; time.sleep(1)\n"
                  "while {n['NodeName'] for n in ray.nodes() if n['Alive'] and n['Resources'].get(n['NodeName'])} < set(sys.argv[3:]):\n"
                  "    assert time.monotonic() < deadline, ray.nodes()\n    time.sleep(0.5)\n")
        done = subprocess.run([sys.executable, "-c", script, self.address, str(timeout), *names], env=self.env,
                              capture_output=True, text=True, timeout=timeout + 60)
        if done.returncode != 0:
            logs = "".join(path.read_text(errors="replace")[-1500:] for path in sorted(self.root.glob("*.log")))
            raise RuntimeError(f"Ray nodes {names} did not come up: {done.stderr[-2000:]}\n{logs}")

    def kill_node(self, name: str) -> None:
        """SIGKILL the node's raylet and everything in its group, as a machine that died."""
        self._kill_group(self.nodes.pop(name))

    def stop(self) -> None:
        for process in self.nodes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in self.nodes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._kill_group(process)
        self.nodes.clear()
        for pid in _processes_naming(str(self.root / "ray")):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for dockerd in self.dockerds.values():
            dockerd.stop()
        for pid in _processes_naming(str(self.root)):  # a containerd a dockerd left behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _unmount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
