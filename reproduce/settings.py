"""The reproduce part of the settings tree: reproduction scripts and regression-test selection."""

from __future__ import annotations

from dataclasses import dataclass, field

from patchsmith.reproduce.regression import RegressionSettings
from patchsmith.reproduce.scripts import ReproSettings


@dataclass(frozen=True)
class ReproduceSettings:
    scripts: ReproSettings = field(default_factory=ReproSettings)
    regression: RegressionSettings = field(default_factory=RegressionSettings)
    # True: "no script reproduced the issue" ends the run without a fix.
    required: bool = False
    select_tests: bool = True  # False: no regression-test selection (no regression set)
