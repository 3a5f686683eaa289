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

FIXTURE_REPO_FILES = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "calc"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = ["six>=1.16"]

[tool.setuptools]
packages = ["calc"]
""",
    "calc/__init__.py": """\
import six


def add(a, b):
    return a + b


def mul(a, b):
    return a * b


def describe(value):
    # six is the real dependency installed from PyPI into the environment image
    return six.text_type(value)
""",
    "tests/test_calc.py": """\
import calc


def test_add_small():
    assert calc.add(1, 2) == 3


def test_add_negative():
    assert calc.add(-1, -2) == -3


def test_add_zero():
    assert calc.add(0, 0) == 0


def test_add_floats():
    assert calc.add(0.5, 0.25) == 0.75


def test_mul_small():
    assert calc.mul(2, 3) == 6


def test_mul_zero():
    assert calc.mul(5, 0) == 0


def test_mul_negative():
    assert calc.mul(-2, 3) == -6


def test_describe_int():
    assert calc.describe(5) == "5"


def test_describe_str():
    assert calc.describe("x") == "x"


def test_describe_none():
    assert calc.describe(None) == "None"
""",
}


def _docker_or_fail() -> None:
    from sandbox.engine import client

    client()  # raises DockerUnavailable with what to do


def make_git_repo(root: Path, files: dict[str, str]) -> str:
    """Write files into a new git repository at root and commit them; returns the commit."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "fixture"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="session")
def sandbox_cache_dir() -> Path:
    from patchsmith.settings import cache_root

    path = cache_root() / "sandbox"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def bookworm_base_image(sandbox_cache_dir: Path, tmp_path_factory) -> str:
    """The bookworm base image's tag (built once per machine and recipe)."""
    _docker_or_fail()
    from sandbox import BaseSpec, ensure_base_image

    log = tmp_path_factory.mktemp("base-build") / "build.log"
    return ensure_base_image(BaseSpec(suite="bookworm"), cache_dir=sandbox_cache_dir, log_path=log)


@pytest.fixture(scope="session")
def sandbox_fixture_repo(tmp_path_factory) -> tuple[Path, str]:
    """(repository folder, commit) of the small `calc` project."""
    root = tmp_path_factory.mktemp("calc-repo")
    return root, make_git_repo(root, FIXTURE_REPO_FILES)


@pytest.fixture(scope="session")
def sandbox_env_image(bookworm_base_image: str, sandbox_fixture_repo, sandbox_cache_dir: Path, tmp_path_factory):
    """The environment image of the fixture repository (its recipe inferred, six from PyPI)."""
    from sandbox import build_env_image

    root, commit = sandbox_fixture_repo
    log = tmp_path_factory.mktemp("env-build") / "build.log"
    return build_env_image(root, commit, cache_dir=sandbox_cache_dir, log_path=log)
