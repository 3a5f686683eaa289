"""One running container: its life cycle, exec with a time limit, and copying files in and out.

What a container does with the repository it holds (the base state, diffs, reset) is
sandbox.repo_state's; what goes in from the host (git packs, archives) is sandbox.repo_archives'.
"""

from __future__ import annotations

import collections
import io
import shlex
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import docker.errors
from patchsmith.sandbox import engine, strays
from patchsmith.sandbox.certs import (
    CONTAINER_CA_PATH,
    ca_environment,
    resolve_ca_bundle,
)
from patchsmith.sandbox.errors import SandboxError
from patchsmith.sandbox.repo_state import STATE_DIR as _STATE_DIR
from patchsmith.sandbox.repo_state import RepositoryState


class _Capped:
    """Output kept within bounds: code that prints in a loop until its time limit must not
    fill the host's memory. The head and the tail are kept, the middle is cut and counted."""

    HEAD = 1 << 20
    TAIL = 8 << 20

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail: collections.deque[bytes] = collections.deque()
        self.tail_size = 0
        self.cut = 0

    def add(self, chunk: bytes) -> None:
        room = self.HEAD - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail.append(chunk)
        self.tail_size += len(chunk)
        while self.tail_size - len(self.tail[0]) >= self.TAIL:
            dropped = self.tail.popleft()
            self.tail_size -= len(dropped)
            self.cut += len(dropped)

    def drop_setsid_complaint(self) -> None:
        # setsid's own message about its killed child is not the command's output.
        marker = b"setsid: child "
        at = self.head.rfind(marker)
        if at >= 0 and self.head.find(b"\n", at) in (-1, len(self.head) - 1):
            del self.head[at:]
        elif self.tail and self.tail[-1].startswith(marker):
            self.tail_size -= len(self.tail.pop())

    def text(self) -> str:
        middle = f"\n[... {self.cut} bytes of output cut ...]\n".encode() if self.cut else b""
        return (bytes(self.head) + middle + b"".join(self.tail)).decode("utf-8", "replace")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one container."""

    memory: str = "4g"
    cpus: float = 2.0
    pids: int = 4096


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str  # stdout and stderr interleaved as they arrived
    stdout: str
    stderr: str
    duration: float  # seconds
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class Container(RepositoryState):
    """A sandbox container; use as a context manager, or call start() and close().

    network: False (no network: the default, for running untrusted code), True (the engine's
    default bridge) or a Docker network mode such as "host".
    ca_bundle: "auto" carries the host's CA bundle in (for containers that install packages),
    None carries none, or a path to a bundle.
    capabilities: Linux capabilities to add, e.g. ("NET_ADMIN",) to set routes in a container
    without a network (nothing it routes can leave it).
    """

    def __init__(
        self,
        image: str,
        *,
        workdir: str = "/testbed",
        network: bool | str = False,
        limits: Limits = Limits(),
        env: dict[str, str] | None = None,
        ca_bundle: str | Path | None = None,
        kind: str = "instance",
        log_path: str | Path | None = None,
        mounts: dict[str, str] | None = None,
        capabilities: tuple[str, ...] = (),
        exec_env: dict[str, str] | None = None,
    ):
        self.image = image
        self.workdir = workdir
        self.network = network
        self.limits = limits
        self.env = dict(env or {})
        # Variables every command gets that are not the container's own: an image committed from
        # it keeps none of them (Docker's commit adds the container's variables to the image's).
        self.exec_env = dict(exec_env or {})
        self.ca_bundle = resolve_ca_bundle(ca_bundle)
        self.kind = kind
        self.log_path = Path(log_path) if log_path else None
        self.mounts = dict(mounts or {})  # host folder -> container folder, read-write
        self.capabilities = tuple(capabilities)  # Linux capabilities added to Docker's default set
        self.id: str | None = None
        self.has_base_state = False

    # ---- life cycle ----

    def start(self, repo: str | Path | None = None, commit: str | None = None) -> "Container":
        """Create and start the container; with repo (a git directory or work tree) and commit,
        copy the repository's files at that commit in and record them as the base state."""
        api = engine.client().api
        if isinstance(self.network, str):
            network_mode = self.network
        else:
            network_mode = "bridge" if self.network else "none"
        host_config = api.create_host_config(
            network_mode=network_mode,
            mem_limit=self.limits.memory,
            memswap_limit=self.limits.memory,
            nano_cpus=int(self.limits.cpus * 1e9),
            pids_limit=self.limits.pids,
            init=True,
            binds={host: {"bind": inside, "mode": "rw"} for host, inside in self.mounts.items()} or None,
            cap_add=list(self.capabilities) or None,
        )
        try:
            created = api.create_container(
                self.image,
                command=["sleep", "infinity"],
                working_dir=self.workdir,
                environment=self.env,
                labels=engine.labels(self.kind),
                host_config=host_config,
                detach=True,
            )
            self.id = created["Id"]
            engine.track(self.id)
            api.start(self.id)
        except docker.errors.ImageNotFound as exc:
            self.close()
            raise SandboxError(f"The image {self.image} does not exist; build it first (see `patchsmith sandbox build`).") from exc
        except docker.errors.APIError as exc:
            self.close()
            engine.raise_if_disk_full(exc)
            raise
        try:
            if self.ca_bundle:
                self.put_file(CONTAINER_CA_PATH, self.ca_bundle.read_bytes())
            if repo is not None:
                self.copy_repo(repo, commit or "HEAD")
        except BaseException:
            self.close()  # a container that never became ready is not left behind
            raise
        return self

    def disconnect_network(self) -> None:
        """Take the container off every network (a container made with network=True that
        installed something, before untrusted code runs in it)."""
        api = engine.client().api
        if self.network == "host":
            raise SandboxError("A container on the host's network cannot be taken off it; make it with network=False.")
        networks = api.inspect_container(self._require())["NetworkSettings"].get("Networks") or {}
        for name in networks:
            if name != "none":
                api.disconnect_container_from_network(self.id, name, force=True)
        self.network = False

    def close(self) -> None:
        """Remove the container (killing whatever runs in it)."""
        if self.id:
            engine.remove_container(self.id)
            self.id = None

    def __enter__(self) -> "Container":
        if self.id is None:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _require(self) -> str:
        if not self.id:
            raise RuntimeError("the container is not running; call start() first")
        return self.id

    # ---- exec ----

    def exec(
        self,
        command: str | list[str],
        *,
        timeout: float | None = None,
        workdir: str | None = None,
        env: dict[str, str] | None = None,
        user: str = "",
    ) -> ExecResult:
        """Run a command (a shell string for bash, or an argv list). With a timeout, the whole
        process group is killed when it runs out, and the result says timed_out."""
        container_id = self._require()
        api = engine.client().api
        argv = ["bash", "-c", command] if isinstance(command, str) else list(command)
        if self.ca_bundle:
            # Per command, not in the container's own environment: an image committed from this
            # container must not point its test suites at the host's bundle.
            env = {**ca_environment(), **(env or {})}
        env = {**self.exec_env, **(env or {})}
        mark = strays.new_mark()  # inherited by every child, so the ones that leave the group can be found
        env = {**(env or {}), strays.MARKER: mark}
        pid_file = f"{_STATE_DIR}/exec-{uuid.uuid4().hex[:10]}.pid"
        if timeout is not None:
            # A new session makes the command a process group leader we can kill as a whole.
            argv = ["setsid", "-w", "sh", "-c", f'mkdir -p {_STATE_DIR}; echo $$ > "$0"; exec "$@"', pid_file, *argv]
        exec_id = api.exec_create(
            container_id, argv, workdir=workdir or self.workdir, environment=env or None, user=user
        )["Id"]
        started = time.monotonic()
        stream = api.exec_start(exec_id, stream=True, demux=True)
        timed_out = threading.Event()
        timer = None
        if timeout is not None:
            timer = threading.Timer(timeout, self._kill_group, args=(pid_file, mark, stream, timed_out))
            timer.daemon = True
            timer.start()
        out, err, both = _Capped(), _Capped(), _Capped()
        try:
            for stdout_chunk, stderr_chunk in stream:
                if stdout_chunk:
                    out.add(stdout_chunk)
                    both.add(stdout_chunk)
                if stderr_chunk:
                    err.add(stderr_chunk)
                    both.add(stderr_chunk)
        except Exception:  # noqa: BLE001 - the stream is closed under us after a timeout
            if not timed_out.is_set():
                raise
        finally:
            if timer:
                timer.cancel()
        duration = time.monotonic() - started
        exit_code = api.exec_inspect(exec_id).get("ExitCode")
        if timed_out.is_set():
            exit_code = 137  # killed, whatever setsid reported
            for capped in (out, err, both):
                capped.drop_setsid_complaint()
        elif exit_code is None:
            exit_code = -1
        result = ExecResult(
            exit_code=int(exit_code),
            output=both.text(),
            stdout=out.text(),
            stderr=err.text(),
            duration=duration,
            timed_out=timed_out.is_set(),
        )
        self._log(argv if timeout is None else argv[6:], result)
        return result

    def _kill_group(self, pid_file: str, mark: str, stream, timed_out: threading.Event) -> None:
        timed_out.set()
        try:
            api = engine.client().api
            # The group first, then whatever left it with setsid.
            kill = f'pg=$(cat "{pid_file}" 2>/dev/null) && kill -KILL -- -"$pg" 2>/dev/null; rm -f "{pid_file}"; {strays.kill_marked(mark)}'
            kill_id = api.exec_create(self._require(), ["bash", "-c", kill])["Id"]
            api.exec_start(kill_id)
        except Exception:  # noqa: BLE001 - the stream is closed below in any case
            pass
        # Give the stream a moment to end by itself; close it if a straggler holds it open.
        time.sleep(1.0)
        try:
            stream.close()
        except Exception:  # noqa: BLE001
            pass

    def _log(self, argv: list[str], result: ExecResult) -> None:
        if not self.log_path:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        status = "TIMEOUT" if result.timed_out else f"exit {result.exit_code}"
        with self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(f"$ {shlex.join(argv)}\n{result.output}\n[{status}, {result.duration:.2f}s]\n\n")

    def check(self, command: str | list[str], what: str, **kwargs) -> ExecResult:
        """exec, raising SandboxError with the output's tail when the command fails."""
        result = self.exec(command, **kwargs)
        if not result.ok:
            tail = "\n".join(result.output.strip().splitlines()[-15:])
            raise SandboxError(f"{what} failed in the sandbox (exit {result.exit_code}): {tail}")
        return result

    # ---- files ----

    def put_archive(self, path: str, data: bytes | io.IOBase) -> None:
        """Extract a tar archive (bytes or a file object) under path, creating path."""
        container_id = self._require()
        api = engine.client().api
        try:
            if not api.put_archive(container_id, path, data):
                raise SandboxError(f"Copying files into {path} in the sandbox failed.")
        except docker.errors.NotFound:
            self.check(["mkdir", "-p", path], f"creating {path}")
            if hasattr(data, "seek"):
                data.seek(0)
            api.put_archive(container_id, path, data)
        except docker.errors.APIError as exc:
            engine.raise_if_disk_full(exc)
            raise

    def put_files(self, files: dict[str, bytes | str], mode: int = 0o644) -> None:
        """Write files (absolute paths, or relative to workdir) into the container."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, content in files.items():
                data = content.encode() if isinstance(content, str) else content
                path = PurePosixPath(self.workdir, name)  # an absolute name stays as it is
                info = tarfile.TarInfo(str(path).lstrip("/"))
                info.size = len(data)
                info.mode = mode
                info.mtime = int(time.time())
                tar.addfile(info, io.BytesIO(data))
        self.put_archive("/", buf.getvalue())

    def put_file(self, path: str, content: bytes | str, mode: int = 0o644) -> None:
        self.put_files({path: content}, mode=mode)

    def get_archive(self, path: str) -> bytes:
        """A tar archive of path (a file or a folder) as the engine sends it."""
        try:
            stream, _ = engine.client().api.get_archive(self._require(), path)
        except docker.errors.NotFound as exc:
            raise FileNotFoundError(path) from exc
        return b"".join(stream)

    def get_file(self, path: str) -> bytes:
        """The bytes of one file (absolute, or relative to workdir)."""
        full = str(PurePosixPath(self.workdir, path))
        with tarfile.open(fileobj=io.BytesIO(self.get_archive(full))) as tar:
            member = tar.next()
            if member is None or not member.isfile():
                raise FileNotFoundError(full)
            return tar.extractfile(member).read()

    def copy_out(self, path: str, dest: str | Path) -> None:
        """Copy a file or folder out of the container into the host folder dest."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(self.get_archive(str(PurePosixPath(self.workdir, path))))) as tar:
            tar.extractall(dest, filter="data")
