"""What localization finds, as frozen values that round-trip through JSON.

Lines are 1-based and inclusive, as in repo_index.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RankedFile:
    path: str
    score: float  # the fused reciprocal-rank score: higher is better
    sources: tuple[str, ...]  # "model", "retrieval": which rankings named the file


@dataclass(frozen=True)
class StepReport:
    """How one step went: its prompt size, and why it fell back to retrieval when it did."""

    step: str  # "files" | "elements" | "lines"
    prompt_tokens: int  # 0 when the step asked no model
    samples: int  # answers asked for
    fallback: str = ""  # empty when the model's answer was used


@dataclass(frozen=True)
class FileLocations:
    files: tuple[RankedFile, ...]  # fused ranking, best first
    model_files: tuple[str, ...]  # the model's ranking after mapping to real paths
    retrieval_files: tuple[str, ...]  # retrieval's ranking
    dropped: tuple[str, ...]  # paths the model named that match no file in the repository
    report: StepReport
    execution_files: tuple[str, ...] = ()  # the execution signal's ranking; empty without executions

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FileLocations":
        return cls(
            files=tuple(RankedFile(f["path"], f["score"], tuple(f["sources"])) for f in data["files"]),
            model_files=tuple(data["model_files"]),
            retrieval_files=tuple(data["retrieval_files"]),
            dropped=tuple(data["dropped"]),
            report=StepReport(**data["report"]),
            execution_files=tuple(data.get("execution_files", ())),
        )


@dataclass(frozen=True)
class Element:
    """A class, function, method or module-level variable that the index knows."""

    path: str
    qualname: str
    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class ElementLocations:
    elements: tuple[Element, ...]  # best first (fused with the execution signal when there is one)
    dropped: tuple[str, ...]  # names the model gave that the index does not know
    report: StepReport
    # Each signal's ranking as "path::qualname", best first: "model" or "retrieval" (whichever the
    # step used) and "execution" when runs were measured.
    rankings: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ElementLocations":
        return cls(
            elements=tuple(Element(**e) for e in data["elements"]),
            dropped=tuple(data["dropped"]),
            report=StepReport(**data["report"]),
            rankings={name: tuple(ranking) for name, ranking in data.get("rankings", {}).items()},
        )


@dataclass(frozen=True)
class ScoredFile:
    path: str
    # In files: Ochiai of the file's most suspicious line; in traced and named, that signal's own score.
    score: float


@dataclass(frozen=True)
class ScoredElement:
    element: Element
    # In elements: Ochiai of the most suspicious line inside the element's span; in named_after, the
    # test-name points (localize.traceability.named_after).
    score: float


@dataclass(frozen=True)
class ExecutionSignal:
    """What measured runs say: which files and elements the failing runs executed, and how suspicious."""

    runs: tuple[tuple[str, bool], ...]  # (name, failed) of every run measured
    files: tuple[ScoredFile, ...]  # best first
    elements: tuple[ScoredElement, ...]  # best first
    # Test-to-code traceability (localize.traceability): the failing runs' test files, and the
    # source files those are named after, best first. Empty when no failing run names its file.
    test_files: tuple[str, ...] = ()
    traced: tuple[ScoredFile, ...] = ()
    # The source files the failing runs' output names (localize.failure_output), best first.
    named: tuple[ScoredFile, ...] = ()
    # The executed definitions the failing tests are named after (localize.traceability.named_after).
    named_after: tuple[ScoredElement, ...] = ()

    @property
    def file_ranking(self) -> list[str]:
        return [f.path for f in self.files]

    @property
    def traced_scores(self) -> dict[str, float]:
        return {f.path: f.score for f in self.traced}

    @property
    def named_scores(self) -> dict[str, float]:
        return {f.path: f.score for f in self.named}

    @property
    def named_after_scores(self) -> dict[str, float]:
        """Per file, the points of its definitions the failing tests are named after."""
        scores: dict[str, float] = {}
        for scored in self.named_after:
            scores[scored.element.path] = scores.get(scored.element.path, 0.0) + scored.score
        return scores

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ExecutionSignal":
        return cls(
            runs=tuple((name, bool(failed)) for name, failed in data["runs"]),
            files=tuple(ScoredFile(**f) for f in data["files"]),
            elements=tuple(ScoredElement(Element(**e["element"]), e["score"]) for e in data["elements"]),
            test_files=tuple(data.get("test_files", ())),
            traced=tuple(ScoredFile(**f) for f in data.get("traced", ())),
            named=tuple(ScoredFile(**f) for f in data.get("named", ())),
            named_after=tuple(ScoredElement(Element(**e["element"]), e["score"]) for e in data.get("named_after", ())),
        )


@dataclass(frozen=True)
class EditLocation:
    path: str
    start: int
    end: int
    element: str = ""  # qualname of the enclosing definition, "" at module level


@dataclass(frozen=True)
class EditLocations:
    samples: tuple[tuple[EditLocation, ...], ...]  # one location set per usable sample
    union: tuple[EditLocation, ...]  # every sample's locations, overlapping ranges merged
    report: StepReport

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "EditLocations":
        return cls(
            samples=tuple(tuple(EditLocation(**loc) for loc in sample) for sample in data["samples"]),
            union=tuple(EditLocation(**loc) for loc in data["union"]),
            report=StepReport(**data["report"]),
        )


@dataclass(frozen=True)
class Localization:
    """The stage's result: the three steps in order."""

    files: FileLocations
    elements: ElementLocations
    edits: EditLocations
    execution: ExecutionSignal | None = None  # None when no failing run was measured

    @property
    def reports(self) -> tuple[StepReport, ...]:
        return (self.files.report, self.elements.report, self.edits.report)

    @property
    def prompt_tokens(self) -> int:
        """Tokens of the three prompts, each counted once (a request with n answers sends it once)."""
        return sum(r.prompt_tokens for r in self.reports)

    def to_json(self) -> dict[str, Any]:
        data = {"files": self.files.to_json(), "elements": self.elements.to_json(), "edits": self.edits.to_json()}
        if self.execution is not None:
            data["execution"] = self.execution.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Localization":
        return cls(
            files=FileLocations.from_json(data["files"]),
            elements=ElementLocations.from_json(data["elements"]),
            edits=EditLocations.from_json(data["edits"]),
            execution=ExecutionSignal.from_json(data["execution"]) if data.get("execution") else None,
        )
