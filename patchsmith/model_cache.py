"""The response cache: model answers on disk, so a rerun of the same question costs nothing.

A key names the model, the messages, the request's parameters and the sample's index; for a
sampled answer (temperature above 0) also the seed, so a rerun with another seed draws new samples
while a greedy answer is still reused. Only real answers are kept: an empty `choices` list, null
content or a failed request is never stored, so one bad reply is not served to every later run.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

Message = dict[str, str]


class ResponseCache:
    """Answers on disk, one JSON file per key; with folder None it holds nothing."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder else None

    @staticmethod
    def key(model: str, messages: Sequence[Message], params: dict, sample: int, seed: int = 0) -> str:
        material = {"model": model, "messages": list(messages), "params": params, "sample": sample}
        if params.get("temperature", 0) > 0 and seed:
            material["seed"] = seed  # seed 0 keeps the keys of caches written before seeds existed
        text = json.dumps(material, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def _file(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        """The cached answer's text, or None (no folder, no entry, an unreadable or empty entry)."""
        if not self.folder:
            return None
        try:
            entry = json.loads(self._file(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        text = entry.get("text") if isinstance(entry, dict) else None
        # Entries written before empty answers were refused may hold "": ask again instead.
        return text if isinstance(text, str) and text.strip() else None

    def put(self, key: str, model: str, text: str | None) -> bool:
        """Store a real answer; an empty or missing one is refused (False)."""
        if not self.folder or not isinstance(text, str) or not text.strip():
            return False
        target = self._file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a file.
        partial = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        partial.write_text(json.dumps({"model": model, "text": text}, ensure_ascii=False), encoding="utf-8")
        partial.replace(target)
        return True
