"""The driver's view of a Ray run, per node: done, failed, running, waiting; and an ETA.

Done and failed count where each instance ran (a retry after a node died counts on the node
that ran it); running and waiting are the driver's queues (swebench_runner.ray_queues): tasks
handed to the node and not back yet, and instances queued for it. The ETA is the time so far per
finished instance (the cluster's rate), times those left.

BoardDisplay shows it: on a terminal one rich Live table that is redrawn in place, with each
instance's line printed above it; in a pipe or a file the same figures as one plain line after
each instance, so a log holds no cursor codes.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from patchsmith.swebench_runner.ray_queues import NodeQueues
from rich.console import Console
from rich.live import Live
from rich.table import Table


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

    def not_started(self) -> None:
        """An instance the run will not hand out after all (infer's total cost cap was reached): it
        leaves the total, so the ETA and the count of what is left do not wait for it."""
        self.total -= 1

    def eta_seconds(self) -> float | None:
        """Seconds until the last instance is done at the rate the cluster has finished them so far."""
        finished = sum(self.done.values()) + sum(self.failed.values())
        if not finished:
            return None
        return (self.clock() - self.started) / finished * max(0, self.total - finished)

    def rows(self, queues: NodeQueues) -> list[tuple[str, int, int, int | None, int | None]]:
        """(node name, done, failed, running, waiting) per node; running and waiting are None for a
        node the driver has no queue for (one Ray retried a task on)."""
        rows = [(name, self.done.get(name, 0), self.failed.get(name, 0), queues.running.get(node_id, 0), queues.waiting(node_id))
                for node_id, name in sorted(self.names.items(), key=lambda item: item[1])]
        return rows + [(name, self.done.get(name, 0), self.failed.get(name, 0), None, None)
                       for name in sorted((set(self.done) | set(self.failed)) - set(self.names.values()))]

    def eta(self) -> str:
        seconds = self.eta_seconds()
        return "?" if seconds is None else _duration(seconds)

    def line(self, queues: NodeQueues) -> str:
        parts = [f"{name} {done} done, {failed} failed" + ("" if running is None else f", {running} running, {waiting} waiting")
                 for name, done, failed, running, waiting in self.rows(queues)]
        return "nodes: " + "; ".join(parts) + f"; ETA {self.eta()}"

    def table(self, queues: NodeQueues) -> Table:
        finished = sum(self.done.values()) + sum(self.failed.values())
        table = Table(title="Ray nodes", caption=f"{finished} of {self.total} finished; ETA {self.eta()}")
        for column in ("node", "done", "failed", "running", "waiting"):
            table.add_column(column, justify="left" if column == "node" else "right")
        for name, *counts in self.rows(queues):
            table.add_row(name, *("-" if count is None else str(count) for count in counts))
        return table


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class BoardDisplay:
    """Where the driver's progress goes: stream (stdout by default), live when it is a terminal."""

    def __init__(self, stream: TextIO | None = None):
        self.console = Console(file=stream or sys.stdout, highlight=False)
        self.live: Live | None = None
        self.board: tuple[NodeBoard, NodeQueues] | None = None

    @property
    def terminal(self) -> bool:
        return self.console.is_terminal

    def message(self, text: str) -> None:
        """A line above the table (or just a line, in a pipe)."""
        if self.terminal:
            self.console.print(text, markup=False, soft_wrap=True)
        else:
            print(text, file=self.console.file, flush=True)

    @contextlib.contextmanager
    def showing(self, board: NodeBoard, queues: NodeQueues) -> Iterator[None]:
        """While the run hands out tasks: on a terminal, the table redrawn at each finished()."""
        self.board = board, queues
        if not self.terminal:
            yield
            return
        # Redrawn only from the driver's thread (no auto refresh): the board's counts change there.
        with Live(board.table(queues), console=self.console, auto_refresh=False, redirect_stderr=False) as self.live:
            try:
                yield
            finally:
                self.live.update(board.table(queues), refresh=True)
        self.live = None

    def finished(self, line: str) -> None:
        """An instance is back: its line, then the board."""
        board, queues = self.board
        self.message(line)
        if self.live is not None:
            self.live.update(board.table(queues), refresh=True)
        else:
            self.message(board.line(queues))
