"""The small typed interfaces through which the model and the sandbox reach this stage.

The pipeline passes real objects (patchsmith's model gateway, a sandbox container); tests pass the
same real objects driven by a scripted model. Nothing here imports either side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@runtime_checkable
class Model(Protocol):
    """What the model gateway offers: n sampled answers to one conversation."""

    def complete(self, messages: Sequence[dict], *, stage: str, n: int = 1, temperature: float = 0.0) -> list[str]: ...


@dataclass(frozen=True)
class CommandResult:
    """A command run in the sandbox: its interleaved output, exit status, and whether it was killed."""

    output: str
    exit_code: int | None  # None when it was killed for running too long
    timed_out: bool
    seconds: float


@runtime_checkable
class Runner(Protocol):
    """Runs shell commands in a container holding the repository at the base commit (working
    directory: the repository root), with a time limit that kills the whole command."""

    def run(self, command: str, *, timeout: float) -> CommandResult: ...

    def write_file(self, path: str, text: str) -> None: ...
