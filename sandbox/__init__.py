"""sandbox: Docker images built without a registry, and running code in them.

Images
    ensure_base_image(BaseSpec(suite="bookworm"), cache_dir=..., log_path=...) -> tag
        debootstrap --variant=minbase | docker import (bookworm 3.11, bullseye 3.9, trixie 3.13),
        or BaseSpec(registry_image="python:3.11-slim"). The tag is a hash of the recipe.
    infer_recipe(read_dependency_files(repo, commit)) -> EnvRecipe
        from pyproject.toml / setup.py / setup.cfg / requirements*.txt / tox.ini, overridden by
        [tool.patchsmith.sandbox] in pyproject.toml or .patchsmith.toml.
    build_env_image(repo, commit, recipe=None, cache_dir=..., log_path=..., ca_bundle="auto") -> EnvImage
        base + recipe; the repository lives at /testbed, its virtual environment at /opt/venv.
    build_image(ImageBuild(tag, base, what, env=..., labels=...), fill) -> built now?
        the one builder of every image above the base (ours, SWE-bench environments and
        instances): fill(container) runs the steps and returns labels for the image.

Containers (network off and resource limits by default)
    with Container(image).start(repo, commit) as c:   (or .start() then c.copy_worktree(folder),
                                                       or c.replace_files(tar_archive))
        c.exec(cmd, timeout=60) -> ExecResult (timed_out when the process group was killed)
        c.put_files({...}); c.get_file(path); c.copy_out(path, dest)
        c.apply_diff(diff) -> ApplyResult (git apply, git apply --3way, patch --fuzz)
        c.diff() -> str; c.reset(); c.disconnect_network()
    ContainerPool(image, repo, commit, size=N).acquire() lends a warm container, reset on return.
    run_tests(container, command, tests, parser="pytest") -> TestRun (via sandbox.log_parsers; the
        container is taken off every network first)

Clean-up: every container and temporary image carries engine.LABEL_OWNER; context managers,
atexit, Ctrl-C and SIGTERM remove them; prune() removes what crashed runs left.
Errors a user can cause are SandboxError subclasses with user_error = True.
"""

from patchsmith.sandbox.base import SUITE_PYTHON, VENV, VENV_PATH, BaseSpec, ensure_base_image, suite_for_python
from patchsmith.sandbox.certs import host_ca_bundle
from patchsmith.sandbox.container import Container, ExecResult, Limits
from patchsmith.sandbox.dating import commit_date, cutoff_of
from patchsmith.sandbox.engine import install_signal_handlers, prune
from patchsmith.sandbox.env import EnvImage, base_spec_for, build_env_image
from patchsmith.sandbox.errors import BuildFailed, DiskFull, DockerUnavailable, RecipeError, SandboxError
from patchsmith.sandbox.image_build import WORKDIR, ImageBuild, build_image, image_exists, image_labels, image_size, run_step
from patchsmith.sandbox.log_parsers import TestStatus, parse_log, shorten_path_parameters, with_both_unittest_forms
from patchsmith.sandbox.patching import OFFICIAL_METHODS, REPAIR_METHODS, ApplyResult, PatchMethod, apply_script, read_apply_output
from patchsmith.sandbox import registry
from patchsmith.sandbox.pip_calls import requirement_name
from patchsmith.sandbox.pool import ContainerPool
from patchsmith.sandbox.recipe import DEFAULT_TEST_COMMAND, EnvRecipe, infer_recipe, read_dependency_files
from patchsmith.sandbox.repo_archives import files_containing, git_archive, tar_worktree
from patchsmith.sandbox.settings import SandboxSettings
from patchsmith.sandbox.testrun import TestRun, run_tests

__all__ = [
    "SUITE_PYTHON", "BaseSpec", "ensure_base_image", "image_exists", "suite_for_python", "host_ca_bundle",
    "ApplyResult", "Container", "ExecResult", "Limits", "files_containing", "git_archive", "tar_worktree", "install_signal_handlers", "prune",
    "EnvImage", "base_spec_for", "build_env_image", "BuildFailed", "DiskFull", "DockerUnavailable",
    "RecipeError", "SandboxError", "requirement_name", "ContainerPool", "DEFAULT_TEST_COMMAND", "EnvRecipe", "infer_recipe",
    "read_dependency_files", "SandboxSettings", "TestRun", "run_tests", "VENV", "VENV_PATH", "commit_date", "cutoff_of",
    "WORKDIR", "ImageBuild", "build_image", "image_labels", "image_size", "run_step", "TestStatus", "parse_log",
    "shorten_path_parameters", "with_both_unittest_forms", "OFFICIAL_METHODS", "REPAIR_METHODS", "PatchMethod", "apply_script", "read_apply_output", "registry",
]
