"""The stage's knobs, and the small interface a model must offer it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


class LocalizeModel(Protocol):
    """What localization needs of a model; patchsmith.llm.Model and DryRunModel provide it."""

    name: str
    context_window: int  # prompt tokens the model accepts

    def complete(
        self, messages: Sequence[dict[str, str]], *, stage: str, n: int = 1, temperature: float = 0.0
    ) -> list[str]: ...

    def count_tokens(self, messages: Sequence[dict[str, str]] | str) -> int: ...


@dataclass(frozen=True)
class LocalizeSettings:
    # Prompt budgets in tokens, one per step; each is also held below the model's context window
    # less `answer_reserve`. Material is dropped from the lowest rank up to fit.
    issue_tokens: int = 3_000  # the issue text in every prompt; a longer issue keeps its head and tail
    files_tokens: int = 10_000
    elements_tokens: int = 8_000
    lines_tokens: int = 7_000
    answer_reserve: int = 4_096  # tokens left in the context window for the answer

    retrieval_files: int = 50  # files retrieval ranks for fusion
    retrieval_hint: int = 15  # of those, shown to the model in the file prompt
    model_files: int = 10  # files the model is asked to rank
    retrieval_definitions: int = 200  # definitions retrieval ranks to break the execution signal's ties
    # Reciprocal rank fusion: score = sum of 1 / (rrf_k + rank). Small, so that a ranking's first
    # places stand out (k=60, the usual value for fusing many rankings of equal worth, left retrieval's
    # first place 2% above its second: only a tie-breaker beside the execution signal). 3 was chosen
    # on bench/localize_execution.py's development halves and held on the held-out ones (README).
    rrf_k: int = 3
    # With measured runs, an element or file of suspiciousness 1.0 (every failing run and no passing
    # one executed it) is worth this many first places in the other rankings.
    execution_weight: float = 4.0
    # With measured runs whose failing tests name their files: a source file those tests are named
    # after (localize.traceability, score 1.0 at best) is worth this many first places.
    traceability_weight: float = 1.0
    # A source file the failing runs' output names (localize.failure_output: a traceback frame, a
    # warning's origin; score 1.0 when it is the only file named) is worth this many first places.
    # Off: at 1.0 it helped the development half of bench/localize_execution.py and hurt the held-out
    # half (README), so it is recorded in localize.json but not fused unless asked for.
    failure_output_weight: float = 0.0
    # An executed definition the failing tests are named after (localize.traceability.named_after,
    # 1.0 when one test names it alone), and its file, are worth this many first places.
    test_name_weight: float = 1.0
    top_files: int = 5  # files whose skeletons the element step shows
    max_elements: int = 12  # elements kept for the line step
    context_lines: int = 10  # lines of context around each element in the line step
    max_element_lines: int = 250  # a longer element is shown from its first line this far
    # Answers asked for at the line step (separate location sets).
    line_samples: int = field(default=4, metadata={"flag": "--line-samples", "min": 1, "help": "answers asked for at the line step"})
    temperature: float = 0.8  # for line samples when there are several; one sample is greedy
