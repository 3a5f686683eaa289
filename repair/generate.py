"""Sampling candidate fixes: for each location set, one greedy answer and several at a
temperature, each turned into a checked diff or a recorded rejection."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from patchsmith.localize import Localization
from patchsmith.repo_index import RepoIndex, read_text

from patchsmith.repair.candidate import EditResult, EditSettings, apply_answer
from patchsmith.repair.prompt import repair_messages

STAGE = "repair"


class RepairModel(Protocol):
    """What repair needs of a model (patchsmith.llm.Model provides it)."""

    def complete(
        self, messages: Sequence[dict[str, str]], *, stage: str, n: int = 1, temperature: float = 0.0
    ) -> list[str]: ...


@dataclass(frozen=True)
class RepairSettings:
    # Candidates per location set: one greedy, the rest at `temperature`.
    samples: int = field(default=4, metadata={"flag": "--samples", "min": 1, "help": "repair candidates per location set (one greedy, the rest sampled)"})
    temperature: float = 0.8
    location_sets: int = 2  # the union of the line step's samples first, then each sample
    context_lines: int = 15  # lines of code shown either side of each location
    prompt_tokens: int = 12_000  # budget for the code shown
    edit: EditSettings = field(default_factory=EditSettings)  # how each answer is applied and checked (protected paths among them)


@dataclass(frozen=True)
class Candidate:
    number: int  # 0-based, in sampling order: earlier samples win ties
    location_set: int
    temperature: float
    answer: str
    edit: EditResult

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "location_set": self.location_set,
            "temperature": self.temperature,
            "answer": self.answer,
            "edit": self.edit.to_dict(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Candidate":
        return cls(data["number"], data["location_set"], data["temperature"], data["answer"], EditResult.from_dict(data["edit"]))


class IndexFiles(Mapping[str, str]):
    """The base files as a lazy mapping: only the files an answer names are read."""

    def __init__(self, index: RepoIndex) -> None:
        self._index = index

    def __getitem__(self, path: str) -> str:
        if path not in self._index.files:
            raise KeyError(path)
        return read_text(self._index, path)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index.files)

    def __len__(self) -> int:
        return len(self._index.files)


FALLBACK_ELEMENTS = 5  # when the line step found nothing, the top elements stand in for its locations


def location_sets(localization: Localization, limit: int) -> list[tuple[object, ...]]:
    """The distinct location sets to sample from: the union of the line step's samples first,
    then each sample; the top elements when the line step found nothing."""
    edits = localization.edits
    sets: list[tuple[object, ...]] = []
    for candidate in [tuple(edits.union), *map(tuple, edits.samples)]:
        if candidate and candidate not in sets:
            sets.append(candidate)
    if not sets:
        return [tuple(localization.elements.elements[:FALLBACK_ELEMENTS])]
    return sets[: max(1, limit)]


def generate_candidates(
    issue_text: str,
    index: RepoIndex,
    localization: Localization,
    model: RepairModel,
    settings: RepairSettings = RepairSettings(),
    *,
    repro_script: str = "",
) -> tuple[Candidate, ...]:
    """Candidates for every location set of the localization, in sampling order."""
    sets = location_sets(localization, settings.location_sets)
    files = IndexFiles(index)
    candidates: list[Candidate] = []
    for set_number, locations in enumerate(sets):
        messages = repair_messages(
            issue_text,
            index,
            locations,
            repro_script=repro_script,
            context_lines=settings.context_lines,
            budget_tokens=settings.prompt_tokens,
        )
        answers = [(0.0, a) for a in model.complete(messages, stage=STAGE, n=1, temperature=0.0)]
        if settings.samples > 1:
            hot = model.complete(messages, stage=STAGE, n=settings.samples - 1, temperature=settings.temperature)
            answers += [(settings.temperature, a) for a in hot]
        for temperature, answer in answers:
            candidates.append(
                Candidate(len(candidates), set_number, temperature, answer, apply_answer(answer, files, settings.edit))
            )
    return tuple(candidates)

