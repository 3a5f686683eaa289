"""The driver's view of a Ray run, per node: done, failed, running, waiting; and an ETA.

Done and failed count where each instance ran (a retry after a node died counts on the node
that ran it); running and waiting are the driver's queues (swebench_runner.ray_queues): tasks
handed to the node and not back yet, and instances queued for it. The ETA is the time so far per
finished instance (the cluster's rate), times those left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from patchsmith.swebench_runner.ray_queues import NodeQueues


@dataclass
class NodeBoard:
    names: dict[str, str]  # node id -> the name the board shows
    total: int  # instances this run hands out
    clock: Callable[[], float] = time.monotonic
    done: dict[str, int] = field(default_factory=dict)  # by node name
    failed: dict[str, int] = field(default_factory=dict)
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.clock()

    def finished(self, ran_on: str, failed: bool) -> None:
        tally = self.failed if failed else self.done
        tally[ran_on] = tally.get(ran_on, 0) + 1

    def eta_seconds(self) -> float | None:
        """Seconds until the last instance is done at the rate the cluster has finished them so far."""
        finished = sum(self.done.values()) + sum(self.failed.values())
        if not finished:
            return None
        return (self.clock() - self.started) / finished * max(0, self.total - finished)

    def line(self, queues: NodeQueues) -> str:
        parts = []
        for node_id, name in sorted(self.names.items(), key=lambda item: item[1]):
            parts.append(f"{name} {self.done.get(name, 0)} done, {self.failed.get(name, 0)} failed, "
                         f"{queues.running.get(node_id, 0)} running, {queues.waiting(node_id)} waiting")
        for name in sorted((set(self.done) | set(self.failed)) - set(self.names.values())):  # a node Ray retried on
            parts.append(f"{name} {self.done.get(name, 0)} done, {self.failed.get(name, 0)} failed")
        eta = self.eta_seconds()
        return "nodes: " + "; ".join(parts) + ("; ETA ?" if eta is None else f"; ETA {_duration(eta)}")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
