"""Where patchsmith keeps what outlives a run: the cache root and the user's config file.

Kept light (no stage is imported), so that quick commands such as `patchsmith index` can ask for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def cache_root() -> Path:
    """The one cache root: PATCHSMITH_CACHE_DIR, else $XDG_CACHE_HOME/patchsmith, else ~/.cache/patchsmith."""
    if os.environ.get("PATCHSMITH_CACHE_DIR"):
        return Path(os.environ["PATCHSMITH_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "patchsmith"
    return Path.home() / ".cache" / "patchsmith"


def config_path(env: Mapping[str, str] = os.environ) -> Path:
    """The user's config file (which may not exist): $PATCHSMITH_CONFIG, else
    $XDG_CONFIG_HOME/patchsmith/config.toml, else ~/.config/patchsmith/config.toml."""
    if env.get("PATCHSMITH_CONFIG"):
        return Path(env["PATCHSMITH_CONFIG"]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]).expanduser() if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "patchsmith" / "config.toml"
