"""Settings shared by every front: where the cache lives, and friends."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The one cache root: PATCHSMITH_CACHE_DIR, else $XDG_CACHE_HOME/patchsmith, else ~/.cache/patchsmith."""
    if os.environ.get("PATCHSMITH_CACHE_DIR"):
        return Path(os.environ["PATCHSMITH_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "patchsmith"
    return Path.home() / ".cache" / "patchsmith"
