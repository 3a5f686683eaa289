"""Predictions in the official JSON Lines format: instance_id, model_name_or_path, model_patch.

Besides a file, `gold` (each instance's own fix) and `empty` (no change at all) are accepted;
they are how grading fidelity is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from patchsmith.swebench_runner.dataset import Instance, read_rows
from patchsmith.swebench_runner.errors import SwebenchError


@dataclass(frozen=True)
class Prediction:
    instance_id: str
    model_name_or_path: str
    model_patch: str | None  # None: the model produced no patch at all

    @property
    def is_empty(self) -> bool:
        return not (self.model_patch or "").strip()

    @property
    def model_folder(self) -> str:
        return self.model_name_or_path.replace("/", "__")


def load_predictions(source: str, instances: list[Instance]) -> dict[str, Prediction]:
    """`gold`, `empty`, or a JSON Lines / JSON file (a list, or an object keyed by instance id)."""
    if source == "gold":
        return {i.instance_id: Prediction(i.instance_id, "gold", i.patch) for i in instances}
    if source == "empty":
        return {i.instance_id: Prediction(i.instance_id, "empty", "") for i in instances}
    path = Path(source).expanduser()
    rows = read_rows(path)  # a JSON object keyed by instance id comes back as one row
    if path.suffix == ".json" and len(rows) == 1 and all(isinstance(value, dict) for value in rows[0].values()) \
            and "model_patch" not in rows[0]:
        rows = [dict(value, instance_id=value.get("instance_id", key)) for key, value in rows[0].items()]
    predictions: dict[str, Prediction] = {}
    for row in rows:
        if "instance_id" not in row or "model_patch" not in row:
            raise SwebenchError(f"{path}: every prediction needs instance_id and model_patch.")
        patch = row["model_patch"]
        if patch is not None and not isinstance(patch, str):
            raise SwebenchError(f"{path}: model_patch of {row['instance_id']} is not a string.")
        predictions[row["instance_id"]] = Prediction(
            row["instance_id"], str(row.get("model_name_or_path") or "unknown-model"), patch
        )
    return predictions
