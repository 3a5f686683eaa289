"""Environment images: a base image plus a recipe, made by running the recipe's setup in a
build container and committing it. The tag is a hash of the base image and the recipe, so a
second build is a tag lookup."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from patchsmith.sandbox import engine
from patchsmith.sandbox.base import VENV, VENV_PATH, BaseSpec, ensure_base_image, suite_for_python
from patchsmith.sandbox.container import Container
from patchsmith.sandbox.explain import explain, notes_in
from patchsmith.sandbox.image_build import WORKDIR, ImageBuild, build_image, image_labels, run_step
from patchsmith.sandbox.recipe import EnvRecipe, infer_recipe, read_dependency_files
from patchsmith.sandbox.repo_archives import git_archive, tar_worktree

_LABEL_NOTES = "patchsmith.notes"


@dataclass(frozen=True)
class EnvImage:
    tag: str
    base_tag: str
    recipe: EnvRecipe
    built: bool  # False when the tag was already there
    notes: tuple[str, ...] = ()  # what the install dropped or replaced (kept on the image as a label)


def base_spec_for(recipe: EnvRecipe) -> BaseSpec:
    """The base image a recipe starts from."""
    if recipe.base_image:
        return BaseSpec(registry_image=recipe.base_image)
    return BaseSpec(suite=suite_for_python(recipe.python))


def env_tag(recipe: EnvRecipe, base_tag: str) -> str:
    key = hashlib.sha256(f"{base_tag}\n{recipe.recipe_hash()}".encode()).hexdigest()[:16]
    return f"patchsmith-env:{key}"


def build_env_image(
    repo: str | Path,
    commit: str | None = "HEAD",
    recipe: EnvRecipe | None = None,
    *,
    cache_dir: str | Path | None = None,
    log_path: str | Path | None = None,
    ca_bundle: str | Path | None = "auto",
    network: bool | str = True,
    timeout: float = 3600,
) -> EnvImage:
    """The environment image for a repository at commit (a git directory or work tree; commit
    None = the work tree as it is): the recipe (inferred when None) run on its base image."""
    if recipe is None:
        recipe = infer_recipe(read_dependency_files(repo, commit))
    base_tag = ensure_base_image(base_spec_for(recipe), cache_dir=cache_dir, log_path=log_path)
    tag = env_tag(recipe, base_tag)
    log = Path(log_path) if log_path else None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    mounts = {}
    if cache_dir:
        # pip's download cache, shared by every build on this machine (not part of the image).
        pip_cache = Path(cache_dir).resolve() / "pip"
        pip_cache.mkdir(parents=True, exist_ok=True)
        mounts[str(pip_cache)] = "/root/.cache/pip"
    what = f"the environment image {tag}"
    build = ImageBuild(
        tag, base_tag, what, env={**_BUILD_ENV, **dict(recipe.env)}, build_only=("DEBIAN_FRONTEND",),
        labels={engine.LABEL_RECIPE: recipe.recipe_hash()}, network=network, ca_bundle=ca_bundle,
        mounts=mounts, log_path=log, lock_dir=Path(cache_dir) if cache_dir else None)
    built = build_image(build, lambda container: _fill(container, recipe, repo, commit, timeout, what, log)) == "built"
    image = EnvImage(tag, base_tag, recipe, built=built, notes=image_notes(tag))
    if not built and log is not None:  # the recipe's account still goes into the log (a run folder's)
        with log.open("a", encoding="utf-8") as handle:
            handle.write(explain(recipe, image.notes) + f"\nimage {tag} exists; not built again\n")
    return image


_BUILD_ENV = {"PATH": VENV_PATH, "VIRTUAL_ENV": VENV, "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive",
              "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def image_notes(tag: str) -> tuple[str, ...]:
    return tuple(json.loads(image_labels(tag).get(_LABEL_NOTES, "[]")))


def _fill(container: Container, recipe: EnvRecipe, repo, commit, timeout: float, what: str, log: Path | None) -> dict[str, str]:
    """The recipe's steps in the build container; what the install dropped or replaced, as the
    image's notes label."""
    if log is not None:
        with log.open("a", encoding="utf-8") as handle:  # the account of the recipe heads its build log
            handle.write(explain(recipe) + "\n")
    steps: list[tuple[str, str]] = []
    # A registry image may lack the tools the sandbox itself needs.
    steps.append(("tools", "command -v git >/dev/null && command -v patch >/dev/null || "
                  "(apt-get update -qq && apt-get install -y -qq --no-install-recommends git patch >/dev/null)"))
    if recipe.system_packages:
        steps.append(("system packages", "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
                      + " ".join(recipe.system_packages) + " && rm -rf /var/lib/apt/lists/*"))
    # The suite's own Python (a recipe asking for 3.10 gets bullseye's 3.9); python3 elsewhere.
    suite_python = base_spec_for(recipe).python if not recipe.base_image else ""
    python = f"python{suite_python}" if suite_python else "python3"
    steps.append(("virtual environment", f"command -v {python} >/dev/null || {{ echo 'no {python} in the base image'; exit 1; }}; "
                  f"[ -x {VENV}/bin/python ] || {python} -m venv {VENV}"))
    for name, command in steps:
        run_step(container, name, command, timeout, what)
    archive = tar_worktree(Path(repo)) if commit is None else git_archive(repo, commit)
    container.exec(["mkdir", "-p", WORKDIR])
    container.put_archive(WORKDIR, archive)
    notes: list[str] = []
    for command in recipe.setup:
        first_line = command.splitlines()[0] if command else command
        notes += notes_in(run_step(container, first_line[:80], command, timeout, what))
    container.commit_base_state()
    return {_LABEL_NOTES: json.dumps(notes)}
