"""The dated install plan of an inferred recipe, and the shell lines that run it.

The plan is JSON read by sandbox/installer.py inside the build container. Both the installer's
text and the plan are written by the lines themselves, so they are part of the recipe (and of
the image tag): a change to either builds a new image.
"""

from __future__ import annotations

import json
from pathlib import Path

from patchsmith.sandbox.dating import cutoff_of
from patchsmith.sandbox.discovery import TEST_EXTRA_NAMES
from patchsmith.sandbox.python_choice import RELEASED

INSTALLER_PATH = "/opt/patchsmith/install.py"
PLAN_PATH = "/opt/patchsmith/plan.json"


def make_plan(date: str, requirements: list[str], installable: bool, build_system: dict, version_tag: str = "",
              build_requires: list[str] | None = None) -> dict:
    """What the installer does: the project (editable, when installable) with its own requirements
    and those of its test extras as its installed metadata gives them, plus `requirements`, all
    resolved together as of the end of `date` ("" = today's releases)."""
    return {
        "date": date,
        "cutoff": cutoff_of(date) if date else "",
        "requirements": list(requirements),
        "installable": installable,
        "build_requires": list(build_requires) if build_requires is not None else [str(r) for r in build_system.get("requires", [])],
        "build_backend": str(build_system.get("build-backend", "setuptools.build_meta:__legacy__")),
        "extra_names": list(TEST_EXTRA_NAMES),
        "git_commit": True,
        "version_tag": version_tag,
        "python_released": dict(RELEASED),
    }


def _heredoc(path: str, text: str) -> str:
    return f"mkdir -p {Path(path).parent} && cat > {path} <<'PATCHSMITH_EOF'\n{text.rstrip()}\nPATCHSMITH_EOF"


def write_commands(plan: dict) -> tuple[str, ...]:
    """Shell lines that put the installer (with the pip calls it imports, beside it) and the plan in place."""
    here = Path(__file__).parent
    return (_heredoc(INSTALLER_PATH, (here / "installer.py").read_text()),
            _heredoc(str(Path(INSTALLER_PATH).with_name("pip_calls.py")), (here / "pip_calls.py").read_text()),
            _heredoc(PLAN_PATH, json.dumps(plan, indent=1, sort_keys=True)))


RUN_COMMAND = f"python {INSTALLER_PATH} {PLAN_PATH}"


def install_commands(plan: dict) -> tuple[str, ...]:
    """The setup of an inferred recipe: write the installer and the plan, run it in the work tree."""
    return (*write_commands(plan), RUN_COMMAND)
