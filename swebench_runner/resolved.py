"""Resolved versions: what pip installed in an environment image, so that every node that builds
the same tag installs the same.

A tag hashes the recipe, not what the recipe's floating requirements resolved to, so two nodes
that build one tag a week apart could install different releases. Each environment image
therefore carries its `pip freeze` as a label. On a cluster the driver keeps one record per tag
(the first build's freeze, from this run's nodes or from its own earlier runs): a node that
builds a tag with a record builds with those versions as pip constraints, then installs exactly
the recorded versions if the build still drifted, and fails the build if they do not match.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Protocol

LABEL_RESOLVED = "patchsmith.resolved"  # the image's `pip freeze`
CONSTRAINTS_PATH = "/opt/pip-constraints.txt"  # in the build container, when the tag has a record
_PINNED_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


class Pins(Protocol):
    """The cluster's record of resolved versions per tag."""

    def get(self, tag: str) -> str | None: ...

    def claim(self, tag: str, freeze: str) -> str:
        """Record freeze for tag unless a record exists; the record that holds."""
        ...


def versions(freeze: str) -> dict[str, str]:
    """name (normalized) -> version, for the `name==version` lines of a freeze. Editable and URL
    installs and local versions (`1.2.dev3+g0abc.d20240101`: the repository itself, or anything
    built from source, dated by the day it was built) are the recipe's own and are left out."""
    found = {}
    for line in freeze.splitlines():
        match = _PINNED_LINE.match(line.strip())
        if match and "+" not in match.group(2):
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def constraints(freeze: str) -> str:
    """The freeze as a pip constraints file."""
    return "".join(f"{name}=={version}\n" for name, version in sorted(versions(freeze).items()))


def differences(recorded: str, resolved: str) -> list[str]:
    """What resolved installed otherwise than the record: one phrase per package."""
    want, got = versions(recorded), versions(resolved)
    return [f"{name} {got.get(name, 'missing')} instead of {version}" for name, version in sorted(want.items())
            if got.get(name) != version] + [f"{name} {got[name]} not in the record" for name in sorted(set(got) - set(want))]


class PinStore:
    """The driver's records across runs: one JSON file (tag -> freeze) under its cache."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict[str, str]:
        try:
            return dict(json.loads(self.path.read_text()))
        except (OSError, ValueError):
            return {}

    def write(self, records: dict[str, str]) -> None:
        from patchsmith.swebench_runner.run_records import write_atomically

        if records != self.read():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps(records, indent=1, sort_keys=True))
