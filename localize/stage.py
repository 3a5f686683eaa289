"""The localization stage: files, then elements, then lines, each step falling back to retrieval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from patchsmith import repo_index
from patchsmith.repo_index import RepoIndex

from patchsmith.localize import failure_output, traceability
from patchsmith.localize.elements import localize_elements
from patchsmith.localize.files import ties_broken_by_elements, localize_files, retrieval_ranking, with_execution
from patchsmith.localize.lines import localize_lines
from patchsmith.localize.results import ExecutionSignal, FileLocations, Localization
from patchsmith.localize.settings import LocalizeModel, LocalizeSettings
from patchsmith.localize.spectrum import Run, execution_signal


def localize(
    index: RepoIndex,
    issue: str,
    model: LocalizeModel,
    settings: LocalizeSettings | None = None,
    runs: Sequence[Run] = (),
    files: FileLocations | None = None,
    test_files: Sequence[str] = (),
) -> Localization:
    """Where `issue` should be fixed in the indexed repository.

    `model` answers each step's prompt; a model that answers nothing (a dry run) leaves every step
    to retrieval, so each prompt is the one that retrieval's result of the step before leads to.
    `runs` (measured executions, see sandbox.coverage) add the execution signal to the file and
    element rankings when one of them failed; without a failing run, localization is retrieval and
    the model alone. `files` is an earlier file step's result, fused again instead of asking anew.
    `test_files` are the failing tests' files, for traceability (localize.traceability); without
    them, the files the failing runs' pytest node ids name.
    """
    settings = settings or LocalizeSettings()
    execution = measure(index, issue, runs, settings, test_files)
    if files is None:
        files = localize_files(index, issue, model, settings, execution)
    else:
        files = with_execution(files, execution, settings)
    elements = localize_elements(index, issue, files, model, settings, execution)
    if execution is not None:
        files = ties_broken_by_elements(files, elements.elements)
    edits = localize_lines(index, issue, elements, files, model, settings)
    return Localization(files=files, elements=elements, edits=edits, execution=execution)


def measure(
    index: RepoIndex, issue: str, runs: Sequence[Run], settings: LocalizeSettings, test_files: Sequence[str] = ()
) -> ExecutionSignal | None:
    """The execution signal of `runs`, its ties broken by retrieval's file and definition order, with
    the source files the failing tests are named after (traceability) and those the failing runs'
    output names (failure_output). None without a failing run, or when the failing runs neither
    executed nor named any source file (a test that runs the code in a subprocess, say)."""
    if not any(run.failed for run in runs):
        return None
    files = retrieval_ranking(index, issue, settings.retrieval_files)
    definitions = [(hit.path, hit.qualname) for hit in repo_index.search_definitions(index, issue, k=settings.retrieval_definitions)]
    # Failing tests of one process share its output: each distinct output is read once.
    output = "\n".join(dict.fromkeys(run.output for run in runs if run.failed and run.output))
    named = failure_output.named_files(output, index.files)[: settings.retrieval_files]
    signal = execution_signal(runs, index, files, definitions)
    if signal is None and not named:
        return None
    signal = signal or ExecutionSignal(runs=tuple((run.name, run.failed) for run in runs), files=(), elements=())
    failing = [run.name for run in runs if run.failed]
    tests = list(test_files) or traceability.test_files(failing)
    traced = traceability.traced_files(tests, index.files, files)[: settings.retrieval_files]
    named_after = traceability.named_after(failing, signal.elements)
    return replace(signal, test_files=tuple(tests), traced=tuple(traced), named=tuple(named), named_after=tuple(named_after))
