"""The driver's view of a Ray run, per node: done, failed, running, waiting; and an ETA.

The driver knows where it placed each instance (its environment's node) and, from each result,
where it ran and how it ended. With soft affinity a task waits for its own node, so a node runs
min(left, slots) of the instances placed on it and the rest wait; a result from another node
(a retry after a node died) counts where it ran. The ETA is the time so far per finished
instance (the cluster's rate), times those left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class NodeBoard:
    placed: dict[str, int]  # node name -> instances placed on it
    slots: dict[str, int]  # node name -> instances it runs at once
    clock: Callable[[], float] = time.monotonic
    done: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.clock()
        self.left = dict(self.placed)

    def finished(self, placed_on: str, ran_on: str, failed: bool) -> None:
        self.left[placed_on] = max(0, self.left.get(placed_on, 0) - 1)
        tally = self.failed if failed else self.done
        tally[ran_on] = tally.get(ran_on, 0) + 1

    def eta_seconds(self) -> float | None:
        """Seconds until the last instance is done at the rate the cluster has finished them so far."""
        finished = sum(self.done.values()) + sum(self.failed.values())
        if not finished:
            return None
        return (self.clock() - self.started) / finished * sum(self.left.values())

    def line(self) -> str:
        parts = []
        for node in sorted(set(self.placed) | set(self.done) | set(self.failed)):
            left = self.left.get(node, 0)
            running = min(left, self.slots.get(node, 1))
            parts.append(f"{node} {self.done.get(node, 0)} done, {self.failed.get(node, 0)} failed, "
                         f"{running} running, {left - running} waiting")
        eta = self.eta_seconds()
        return "nodes: " + "; ".join(parts) + ("; ETA ?" if eta is None else f"; ETA {_duration(eta)}")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
