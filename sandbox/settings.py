"""The sandbox part of the settings tree: what the user chooses about images and containers.

A repository's own recipe (`[tool.patchsmith.sandbox]`) is read by sandbox.recipe from the
repository itself; these are the user's choices, which no repository being fixed can set.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SandboxSettings:
    # A registry image (e.g. python:3.11-slim) instead of the debootstrap base; None: debootstrap.
    base_image: str | None = field(default=None, metadata={
        "flag": "--base-image", "help": "a registry image (e.g. python:3.11-slim) instead of a debootstrap base"})
