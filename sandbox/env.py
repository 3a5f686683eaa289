"""Environment images: a base image plus a recipe, made by running the recipe's setup in a
build container and committing it. The tag is a hash of the base image and the recipe, so a
second build is a tag lookup."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import docker.errors

from patchsmith.sandbox import engine
from patchsmith.sandbox.base import VENV, BaseSpec, build_lock, ensure_base_image, image_exists, suite_for_python
from patchsmith.sandbox.certs import resolve_ca_bundle
from patchsmith.sandbox.container import Container, Limits, git_archive, tar_worktree
from patchsmith.sandbox.explain import explain, notes_in
from patchsmith.sandbox.errors import BuildFailed, DiskFull, SandboxError, looks_like_disk_full
from patchsmith.sandbox.recipe import EnvRecipe, infer_recipe, read_dependency_files

WORKDIR = "/testbed"
_LABEL_NOTES = "patchsmith.notes"
_PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


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
    if image_exists(tag):
        return _found(tag, base_tag, recipe, log_path)
    with build_lock(Path(cache_dir) if cache_dir else None, tag.replace(":", "-")):
        if image_exists(tag):
            return _found(tag, base_tag, recipe, log_path)
        notes = _build(recipe, base_tag, tag, repo, commit, log_path, resolve_ca_bundle(ca_bundle), network, timeout, cache_dir)
    return EnvImage(tag, base_tag, recipe, built=True, notes=notes)


def _found(tag: str, base_tag: str, recipe: EnvRecipe, log_path) -> EnvImage:
    """An image already built: its recipe's account still goes into the log (a run folder's)."""
    image = EnvImage(tag, base_tag, recipe, built=False, notes=image_notes(tag))
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        with Path(log_path).open("a", encoding="utf-8") as handle:
            handle.write(explain(recipe, image.notes) + f"\nimage {tag} exists; not built again\n")
    return image


def image_notes(tag: str) -> tuple[str, ...]:
    labels = engine.client().api.inspect_image(tag).get("Config", {}).get("Labels") or {}
    return tuple(json.loads(labels.get(_LABEL_NOTES, "[]")))


def _build(recipe, base_tag, tag, repo, commit, log_path, ca_bundle, network, timeout, cache_dir) -> tuple[str, ...]:
    env = {"PATH": _PATH, "VIRTUAL_ENV": VENV, "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", **dict(recipe.env)}
    what = f"the environment image {tag}"
    log = Path(log_path) if log_path else None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as handle:  # the account of the recipe heads its build log
            handle.write(explain(recipe) + "\n")
    mounts = {}
    if cache_dir:
        # pip's download cache, shared by every build on this machine (not part of the image).
        pip_cache = Path(cache_dir).resolve() / "pip"
        pip_cache.mkdir(parents=True, exist_ok=True)
        mounts[str(pip_cache)] = "/root/.cache/pip"
    container = Container(base_tag, workdir=WORKDIR, network=network, env=env, ca_bundle=ca_bundle,
                          kind="build", log_path=log, limits=Limits(memory="8g", pids=8192), mounts=mounts)
    with container:
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
            _run_step(container, name, command, timeout, what, log)
        if commit is None:
            archive = tar_worktree(Path(repo))
        else:
            archive = git_archive(repo, commit)
        container.exec(["mkdir", "-p", WORKDIR])
        container.put_archive(WORKDIR, archive)
        notes: list[str] = []
        for command in recipe.setup:
            first_line = command.splitlines()[0] if command else command
            notes += notes_in(_run_step(container, first_line[:80], command, timeout, what, log))
        container.commit_base_state()
        # The host's CA bundle served the build's commands only (see Container.exec).
        config_env = [f"{key}={value}" for key, value in env.items() if key != "DEBIAN_FRONTEND"]
        repository, image_tag = tag.split(":", 1)
        labels = {engine.LABEL_OWNER: "1", engine.LABEL_KIND: "env", engine.LABEL_RECIPE: recipe.recipe_hash(),
                  _LABEL_NOTES: json.dumps(notes)}
        try:
            engine.client().api.commit(
                container.id, repository=repository, tag=image_tag,
                conf={"Env": config_env, "WorkingDir": WORKDIR, "Cmd": ["bash"], "Labels": labels},
            )
        except docker.errors.APIError as exc:
            engine.raise_if_disk_full(exc)
            raise SandboxError(f"Saving {what} failed: {exc}") from exc
    return tuple(notes)


def _run_step(container: Container, name: str, command: str, timeout: float, what: str, log: Path | None) -> str:
    result = container.exec(command, timeout=timeout)
    if result.ok:
        return result.output
    if looks_like_disk_full(result.output):
        raise DiskFull()
    reason = "timed out" if result.timed_out else f"exit {result.exit_code}"
    raise BuildFailed(f"{what} (step `{name}`: {reason})", result.output, str(log) if log else None)
