"""The small typed interfaces through which the model and the sandbox reach this stage.

The pipeline passes real objects: patchsmith.llm's `Model` and a `sandbox.Container` holding the
repository at the base commit (working directory: the repository root). Both satisfy these
protocols as they are; nothing here imports either side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class ReproduceModel(Protocol):
    """What the model gateway offers: n sampled answers to one conversation."""

    def complete(self, messages: Sequence[dict], *, stage: str, n: int = 1, temperature: float = 0.0) -> list[str]: ...


class ExecOutcome(Protocol):
    """A command's interleaved output, exit status, run time, and whether its time limit killed it."""

    exit_code: int
    output: str
    duration: float
    timed_out: bool


@runtime_checkable
class Sandbox(Protocol):
    """Runs shell commands in the repository root of a container, with a time limit that kills
    the whole command; writes files into it; returns its repository to the base state."""

    def exec(self, command: str, *, timeout: float | None = None) -> ExecOutcome: ...

    def put_file(self, path: str, content: bytes | str, mode: int = 0o644) -> None: ...

    def reset(self) -> None: ...  # back to the base commit's files: what a script wrote is gone
