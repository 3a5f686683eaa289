"""A pool of warm containers for one image and repository, safe to use from many threads.

Each container is started once with the repository copied in; `acquire()` lends one, and
giving it back resets it to the base state, so the next user starts clean.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from pathlib import Path

from patchsmith.sandbox.container import Container, Limits


class ContainerPool:
    def __init__(
        self,
        image: str,
        repo: str | Path | None = None,
        commit: str | None = None,
        *,
        size: int = 2,
        limits: Limits = Limits(),
        network: bool | str = False,
        env: dict[str, str] | None = None,
        log_path: str | Path | None = None,
    ):
        self.image, self.repo, self.commit, self.size = image, repo, commit, size
        self._options = dict(limits=limits, network=network, env=env, log_path=log_path)
        self._idle: queue.Queue[Container] = queue.Queue()
        self._all: list[Container] = []
        self._lock = threading.Lock()
        self._closed = False

    def _new(self) -> Container:
        container = Container(self.image, **self._options)
        container.start(self.repo, self.commit)
        if self.repo is None:
            container.commit_base_state()
        return container

    @contextlib.contextmanager
    def acquire(self, timeout: float | None = None):
        """Lend a container at its base state; it is reset (or replaced) when given back."""
        container = self._take(timeout)
        try:
            yield container
        finally:
            self._give_back(container)

    def _take(self, timeout: float | None) -> Container:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool is closed")
            grow = len(self._all) < self.size
            if grow:
                placeholder = len(self._all)
                self._all.append(None)  # type: ignore[arg-type] - reserve the slot before the slow start
        if grow:
            try:
                container = self._new()
            except BaseException:
                with self._lock:
                    self._all.pop(placeholder)
                raise
            with self._lock:
                self._all[placeholder] = container
            return container
        try:
            return self._idle.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no container of the pool became free within {timeout} s") from None

    def _give_back(self, container: Container) -> None:
        if self._closed:
            container.close()
            return
        try:
            container.reset()
        except Exception:  # noqa: BLE001 - a broken container is replaced, not lent again
            with self._lock:
                index = self._all.index(container)
            container.close()
            replacement = self._new()
            with self._lock:
                self._all[index] = replacement
            container = replacement
        self._idle.put(container)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            containers = [c for c in self._all if c is not None]
            self._all.clear()
        for container in containers:
            container.close()

    def __enter__(self) -> "ContainerPool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
