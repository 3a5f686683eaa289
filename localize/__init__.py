"""localize: where an issue should be fixed, narrowed from files to elements to lines (a stage).

Imports repo_index and nothing of patchsmith: the model arrives as an argument (see
`LocalizeModel`).
"""

from patchsmith.localize.elements import localize_elements
from patchsmith.localize.files import localize_files
from patchsmith.localize.lines import localize_lines
from patchsmith.localize.results import (
    EditLocation,
    EditLocations,
    Element,
    ElementLocations,
    FileLocations,
    Localization,
    RankedFile,
    StepReport,
)
from patchsmith.localize.settings import LocalizeModel, LocalizeSettings
from patchsmith.localize.stage import localize

__all__ = [
    "EditLocation",
    "EditLocations",
    "Element",
    "ElementLocations",
    "FileLocations",
    "LocalizeModel",
    "Localization",
    "LocalizeSettings",
    "RankedFile",
    "StepReport",
    "localize",
    "localize_elements",
    "localize_files",
    "localize_lines",
]
