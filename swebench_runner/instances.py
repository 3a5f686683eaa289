"""Instance images: an environment image with /testbed moved to one instance's base commit and
installed there, as the official harness's instance images are. Built once per instance (and per
environment image), then every evaluation and inference run of the instance starts from it, so a
run's time goes to the patch and the tests, and a compiled package is not built again for each
prediction. `patchsmith sandbox prune --images` removes them with the other images.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from patchsmith.sandbox import ImageBuild, build_image, image_exists, image_labels
from patchsmith.swebench_runner.dataset import Instance
from patchsmith.swebench_runner.environments import LABEL_SWEBENCH, install_script, move_tree, scm_version, venv_environment
from patchsmith.swebench_runner.recover import recoverers_for
from patchsmith.swebench_runner.sources import texts_at, tree_change
from patchsmith.swebench_runner.env_spec import EnvSpec

IMAGE_KIND = "swebench-instance"  # the images' patchsmith.kind label
_LABEL_SETUP = "patchsmith.instance-setup"  # JSON: what building the image did (reinstalled, unmet, recovered)


# Files whose change means compiled extensions or package metadata must be built again.
_BUILD_SUFFIXES = (".c", ".h", ".cpp", ".cc", ".cxx", ".hpp", ".pyx", ".pxd", ".pxi", ".f", ".f90", ".f95")
_BUILD_FILES = ("setup.py", "setup.cfg", "pyproject.toml", "meson.build", "MANIFEST.in")


def touches_build(paths: list[str]) -> bool:
    """Whether moving to a commit or applying a patch changes anything the install step builds from."""
    return any(path.endswith(_BUILD_SUFFIXES) or path.rsplit("/", 1)[-1] in _BUILD_FILES for path in paths)


# A pinned or bounded requirement as setup.py, setup.cfg and pyproject.toml write them.
_REQUIREMENT = re.compile(r"""^[\s"']*([A-Za-z0-9][A-Za-z0-9_.\-]*(?:\[[^\]]*\])?\s*(?:==|>=|<=|~=|!=|<|>)[^"'#]*)""")


def declared_requirements(texts: dict[str, str]) -> set[str]:
    return {match.group(1).strip().rstrip(",") for text in texts.values() for line in text.splitlines()
            if (match := _REQUIREMENT.match(line))}


def install_need(spec: EnvSpec, change_paths: list[str], git_dir: Path, env_commit: str,
                 base_commit: str) -> tuple[bool, list[str]]:
    """Whether moving the environment's tree to the base commit needs the install step again (as
    the official eval script always runs it), and else the requirements the base commit declares
    anew, to check in the container.

    Compiled packages are installed again when their build inputs changed. When only dependency
    declarations changed (an older pylint wants an older astroid), the install runs only if the
    environment does not already satisfy the new ones: pip would change nothing else. (A model
    patch that touches build files is installed again by its evaluation.)"""
    if spec.reinstall_per_instance and touches_build(change_paths):
        return True, []
    build_files = [path for path in change_paths if path.rsplit("/", 1)[-1] in _BUILD_FILES]
    if not build_files:
        return False, []
    declared_then = declared_requirements(texts_at(git_dir, env_commit, build_files))
    declared_now = declared_requirements(texts_at(git_dir, base_commit, build_files))
    return False, sorted(declared_now - declared_then)


# Run by the environment's Python: prints each requirement the installed packages do not satisfy.
_UNMET_REQUIREMENTS = """
import sys, importlib.metadata as metadata
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
for line in sys.stdin.read().splitlines():
    try:
        wanted = Requirement(line)
        if wanted.marker is not None and not wanted.marker.evaluate():
            continue
        if not wanted.specifier.contains(metadata.version(wanted.name), prereleases=True):
            print(line)
    except Exception:
        print(line)
"""


def unmet_requirements(box, requirements: list[str]) -> list[str]:
    """The requirements (as setup files write them) that the container's environment does not
    satisfy; a requirement that cannot be read or checked counts as unmet."""
    box.put_file("/tmp/.patchsmith-swebench/requirements.txt", "\n".join(requirements) + "\n")
    checked = box.exec("python -c " + shlex.quote(_UNMET_REQUIREMENTS) + " < /tmp/.patchsmith-swebench/requirements.txt")
    if not checked.ok:
        return requirements
    return [line for line in checked.output.splitlines() if line.strip() in requirements]


@dataclass(frozen=True)
class InstanceImage:
    """The outcome of finding or building one instance image."""

    tag: str
    built_now: bool
    seconds: float  # build time; 0 when the image already existed
    reinstalled: bool = False  # the install step ran again at the base commit
    unmet_requirements: tuple[str, ...] = ()  # declared anew at the base commit and not met by the environment
    recovered: dict = field(default_factory=dict)  # path -> where a file the snapshot lacks came from


def instance_image_tag(instance: Instance, env_image: str) -> str:
    digest = hashlib.sha1(f"{env_image}\0{instance.base_commit}".encode()).hexdigest()[:12]
    return f"patchsmith-swebench-instance:{instance.instance_id.lower()}-{digest}"


def ensure_instance_image(instance: Instance, spec: EnvSpec, env_image: str, env_commit: str, git_dir: Path,
                          cache_dir: Path, log_path: Path) -> InstanceImage:
    """Find or build the instance image: the environment image's /testbed moved to the base
    commit, and the install step run again there when install_need says so."""
    tag = instance_image_tag(instance, env_image)
    if image_exists(tag):
        return _found(tag, built_now=False, seconds=0.0)
    started = time.monotonic()
    change = tree_change(git_dir, env_commit, instance.base_commit, recoverers_for(instance.repo, cache_dir))
    install, new_requirements = install_need(spec, change.changed, git_dir, env_commit, instance.base_commit)
    network = install or bool(new_requirements)

    def fill(box) -> dict[str, str]:
        move_tree(box, change)
        unmet = unmet_requirements(box, new_requirements) if new_requirements and not install else []
        reinstall = install or bool(unmet)
        if reinstall:
            box.check(install_script(spec), f"installing {instance.instance_id} at its base commit", timeout=3600)
        return {LABEL_SWEBENCH: instance.instance_id,
                _LABEL_SETUP: json.dumps({"reinstalled": reinstall, "unmet": unmet, "recovered": change.recovered})}

    how = build_image(ImageBuild(
        tag, env_image, f"the instance image of {instance.instance_id}", kind=IMAGE_KIND,
        env=venv_environment(spec, scm_version(spec, git_dir, instance.base_commit)),
        network=network, ca_bundle="auto" if network else None, log_path=log_path, lock_dir=cache_dir / "sandbox"), fill)
    built = how == "built"
    return _found(tag, built_now=built, seconds=round(time.monotonic() - started, 3) if built else 0.0)


def _found(tag: str, built_now: bool, seconds: float) -> InstanceImage:
    """The image, with what its build recorded on it."""
    setup = json.loads(image_labels(tag).get(_LABEL_SETUP) or "{}")
    return InstanceImage(tag, built_now, seconds, bool(setup.get("reinstalled")), tuple(setup.get("unmet", ())),
                         dict(setup.get("recovered", {})))
