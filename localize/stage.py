"""The localization stage: files, then elements, then lines, each step falling back to retrieval."""

from __future__ import annotations

from patchsmith.repo_index import RepoIndex

from patchsmith.localize.elements import localize_elements
from patchsmith.localize.files import localize_files
from patchsmith.localize.lines import localize_lines
from patchsmith.localize.results import Localization
from patchsmith.localize.settings import LanguageModel, LocalizeSettings


def localize(
    index: RepoIndex, issue: str, model: LanguageModel, settings: LocalizeSettings | None = None
) -> Localization:
    """Where `issue` should be fixed in the indexed repository.

    `model` answers each step's prompt; a model that answers nothing (a dry run) leaves every step
    to retrieval, so each prompt is the one that retrieval's result of the step before leads to.
    """
    settings = settings or LocalizeSettings()
    files = localize_files(index, issue, model, settings)
    elements = localize_elements(index, issue, files, model, settings)
    edits = localize_lines(index, issue, elements, files, model, settings)
    return Localization(files=files, elements=elements, edits=edits)
