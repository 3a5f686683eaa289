"""Shared fixtures for tests that need a real Docker engine.

`bookworm_base_image` (session): the tag of the Debian bookworm base image, built once per
recipe on a machine (debootstrap | docker import, a few minutes on a fresh machine) and reused
afterwards. Its tarball is cached under the patchsmith cache root, so a removed image comes
back in seconds.
`sandbox_cache_dir` (session): the cache folder the sandbox uses (locks, base tarballs).
`sandbox_fixture_repo` (session): a small git repository (package `calc`, ten pytest tests,
one real dependency from PyPI, `six`).
`sandbox_env_image` (session): the environment image of that repository (an EnvImage).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# The fixture repository's files (a project folder, copied into a fresh git repository).
FIXTURE_REPO = Path(__file__).resolve().parent / "fixtures" / "sandbox_calc"
# Its tests run inside containers, never in this suite.
collect_ignore_glob = ["fixtures/*"]


def fixture_repo_files() -> dict[str, str]:
    return {p.relative_to(FIXTURE_REPO).as_posix(): p.read_text() for p in sorted(FIXTURE_REPO.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def _docker_or_fail() -> None:
    from patchsmith.sandbox.engine import client

    client()  # raises DockerUnavailable with what to do


def make_git_repo(root: Path, files: dict[str, str] | None = None, *, branch: str | None = None, date: str | None = None,
                  message: str = "fixture") -> str:
    """Write files (none: commit what root holds) into a new git repository at root and commit
    them, on `branch` when given and dated `date` (e.g. "2021-06-01T12:00:00Z") when given, so
    that the commit id is the same on every run; returns the commit."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    init = ["init", "-q", *(["-b", branch] if branch else [])]
    for args in (init, ["add", "-A"], ["-c", "commit.gpgsign=false", "commit", "-q", "-m", message]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def indexed_repo(tmp_path_factory, name: str, files: dict[str, str]):
    """A repo_index index of a new git repository holding `files` (for localize's tests without an engine)."""
    from patchsmith import repo_index

    root = tmp_path_factory.mktemp(name)
    make_git_repo(root, files)
    return repo_index.build_index(str(root))


@pytest.fixture
def server():
    """A scripted OpenAI-compatible model server (tests/scripted_model.py), stopped afterwards."""
    from tests.scripted_model import ScriptedModel

    with ScriptedModel() as running:
        yield running


@pytest.fixture(scope="session")
def sandbox_cache_dir() -> Path:
    from patchsmith.paths import cache_root

    path = cache_root() / "sandbox"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def bookworm_base_image(sandbox_cache_dir: Path, tmp_path_factory) -> str:
    """The bookworm base image's tag (built once per machine and recipe)."""
    _docker_or_fail()
    from patchsmith.sandbox import BaseSpec, ensure_base_image

    log = tmp_path_factory.mktemp("base-build") / "build.log"
    return ensure_base_image(BaseSpec(suite="bookworm"), cache_dir=sandbox_cache_dir, log_path=log)


@pytest.fixture(scope="session")
def sandbox_fixture_repo(tmp_path_factory) -> tuple[Path, str]:
    """(repository folder, commit) of the small `calc` project."""
    root = tmp_path_factory.mktemp("calc-repo")
    return root, make_git_repo(root, fixture_repo_files())


@pytest.fixture(scope="session")
def sandbox_env_image(bookworm_base_image: str, sandbox_fixture_repo, sandbox_cache_dir: Path, tmp_path_factory):
    """The environment image of the fixture repository (its recipe inferred, six from PyPI)."""
    from patchsmith.sandbox import build_env_image

    root, commit = sandbox_fixture_repo
    log = tmp_path_factory.mktemp("env-build") / "build.log"
    return build_env_image(root, commit, cache_dir=sandbox_cache_dir, log_path=log)
