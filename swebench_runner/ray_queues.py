"""Which instance goes to which node next, as the driver hands tasks to Ray.

Each environment's instances are queued on the node place_groups chose for it, and a node is
handed only as many tasks as it runs at once (its slots), each with soft affinity for it, so a
task starts on its node as soon as it is handed out. A node with a free slot and nothing of its
own left takes an instance from the node with the most left: of an environment it already runs
when it can, else of the environment that node would reach last. So an environment spills to a
second node only when the first is saturated and the second has nothing else to do, and no node
idles while instances wait (what `--workers N` gives on one machine).
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

from patchsmith.swebench_runner.ray_cluster import Node

Item = TypeVar("Item")


class NodeQueues(Generic[Item]):
    def __init__(self, groups: dict[str, list[Item]], placed: dict[str, Node], slots: dict[str, int]):
        """groups: environment key -> its items; placed: key -> its node; slots: node id -> tasks at once."""
        self.slots = dict(slots)
        self.queues: dict[str, deque[tuple[str, Item]]] = {node_id: deque() for node_id in slots}
        for key, items in groups.items():
            self.queues.setdefault(placed[key].node_id, deque()).extend((key, item) for item in items)
        self.running = {node_id: 0 for node_id in self.queues}
        self.runs = {node_id: {key for key, _ in queue} for node_id, queue in self.queues.items()}

    def take(self) -> list[tuple[str, str, Item]]:
        """(node id, environment key, item) for every free slot that has work now."""
        handed = []
        for node_id in sorted(self.queues):
            while self.running[node_id] < self.slots.get(node_id, 1):
                picked = self.next_for(node_id)
                if picked is None:
                    break
                self.running[node_id] += 1
                handed.append((node_id, *picked))
        return handed

    def release(self, node_id: str) -> None:
        """A task handed to node_id has finished (wherever Ray ran it)."""
        self.running[node_id] = max(0, self.running[node_id] - 1)

    def waiting(self, node_id: str) -> int:
        return len(self.queues[node_id])

    def next_for(self, node_id: str) -> tuple[str, Item] | None:
        """The next (environment key, item) for node_id, its own or taken from the busiest node; None when none is left."""
        if self.queues[node_id]:
            return self.queues[node_id].popleft()
        victims = [other for other in self.queues if self.queues[other]]
        if not victims:
            return None
        victim = max(victims, key=lambda other: (len(self.queues[other]), other))
        queue = self.queues[victim]
        known = [entry for entry in queue if entry[0] in self.runs[node_id]]
        last = queue[-1][0]
        # A new environment costs the thief a build: worth it only when the victim would leave
        # more of it waiting than it can start in one round.
        if not known and sum(1 for key, _ in queue if key == last) <= self.slots.get(victim, 1):
            return None
        entry = known[0] if known else next(entry for entry in queue if entry[0] == last)
        queue.remove(entry)
        self.runs[node_id].add(entry[0])
        return entry
