"""The run folder: every file a run leaves behind (see DESIGN.md, "Files a run leaves").

Writes are atomic (a temporary file renamed into place), so a run killed at any moment leaves
only whole files, and `--resume` can trust whatever it finds.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

STAGE_FILES = {"localize": "localize.json", "reproduce": "reproduce.json", "repair": "repair.json", "select": "select.json"}


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def to_jsonable(value: Any) -> Any:
    """Stage results are frozen dataclasses; those with to_json() decide their own form."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


class RunFolderInUse(Exception):
    """A non-empty folder given as a new run's folder: its files belong to another run."""

    user_error = True


class RunFolder:
    """One run's folder: settings, issue, stage results, candidates, logs, patch, report."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "logs").mkdir(exist_ok=True)

    @classmethod
    def create(cls, out: Path | None, resume: bool = False) -> "RunFolder":
        """The folder of a new run (or, with resume, of the run that folder holds). A new run
        refuses a folder that holds anything: a file an earlier run left (its patch.diff, say)
        would be read as this run's, and clearing it would lose that run."""
        path = Path(out) if out else Path("patchsmith-runs") / new_run_id()
        if path.exists() and not path.is_dir():
            raise RunFolderInUse(f"{path} is a file, not a folder; give a new or empty --out folder.")
        if not resume and any(path.glob("*")):
            raise RunFolderInUse(f"{path} already holds another run's files; give a new or empty --out folder, "
                                 f"or continue that run with --resume {path}.")
        return cls(path)

    @property
    def ledger_path(self) -> Path:
        return self.path / "model_calls.jsonl"

    def log_path(self, name: str) -> Path:
        return self.path / "logs" / name

    def write_json(self, name: str, value: Any) -> Path:
        path = self.path / name
        write_atomic(path, json.dumps(to_jsonable(value), indent=2, sort_keys=False, default=str) + "\n")
        return path

    def read_json(self, name: str) -> Any | None:
        path = self.path / name
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def save_stage(self, stage: str, result: Any) -> None:
        self.write_json(STAGE_FILES[stage], result)

    def load_stage(self, stage: str) -> Any | None:
        return self.read_json(STAGE_FILES[stage])

    def save_candidate(self, number: int, record: Any) -> None:
        self.write_json(f"candidates/{number:02d}.json", record)

    def write_text(self, name: str, text: str) -> Path:
        path = self.path / name
        write_atomic(path, text)
        return path
