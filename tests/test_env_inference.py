"""Inferred environments against the real engine: each fixture repository has one cause that
today's releases or a narrow reading of its files would break on.

Most fixtures are committed in 2021, so they share Debian bullseye's Python 3.9 (the newest we
have that was out by then) and one base image; their dependencies are tiny pure-Python packages.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import make_git_repo
from patchsmith.sandbox import Container, build_env_image, infer_recipe, read_dependency_files

pytestmark = pytest.mark.docker

STAMP_2021 = "2021-03-01T12:00:00+00:00"
NOSE_TEST = """\
class TestNoseStyle:
    def setup(self):  # nose-style: pytest 8 and later no longer call it
        self.value = 1

    def test_value(self):
        assert self.value == 1
"""


def dated_repo(root: Path, files: dict[str, str], stamp: str | None = STAMP_2021) -> str:
    saved = {k: os.environ.get(k) for k in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE")}
    try:
        for key in saved:
            if stamp:
                os.environ[key] = stamp
        return make_git_repo(root, files)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build(root: Path, commit: str, cache: Path, log: Path):
    recipe = infer_recipe(read_dependency_files(root, commit))
    return build_env_image(root, commit, recipe, cache_dir=cache, log_path=log)


def run_in(image, command: str):
    with Container(image.tag, workdir="/testbed") as box:
        return box.exec(command, timeout=300)


def assert_tests_pass(image) -> None:
    run = run_in(image, image.recipe.test_command + " tests")
    assert run.ok and "1 passed" in run.output, run.output[-2000:]


def test_nose_style_setup_passes_dated_and_fails_with_date_none(tmp_path: Path, sandbox_cache_dir: Path):
    files = {"setup.py": "from setuptools import setup\nsetup(name='nosey', py_modules=['nosey'])\n",
             "nosey.py": "", "tests/test_nose.py": NOSE_TEST}
    root = tmp_path / "dated"
    commit = dated_repo(root, files)
    dated = build(root, commit, sandbox_cache_dir, tmp_path / "dated.log")
    assert dated.recipe.date == "2021-03-01" and dated.recipe.python == "3.9"
    account = (tmp_path / "dated.log").read_text()  # the build log (a run folder's) opens with the recipe's account
    assert "date:         2021-03-01" in account and "python:       3.9" in account and "came after 2021-03-01" in account
    run = run_in(dated, dated.recipe.test_command + " tests")
    assert run.ok and "1 passed" in run.output, run.output[-2000:]
    assert "PYTEST 6." in run_in(dated, "python -c 'import pytest; print(\"PYTEST\", pytest.__version__)'").output

    undated_files = {**files, "pyproject.toml": '[tool.patchsmith.sandbox]\ndate = "none"\n'}
    root = tmp_path / "undated"
    commit = dated_repo(root, undated_files)
    undated = build(root, commit, sandbox_cache_dir, tmp_path / "undated.log")
    assert undated.recipe.date == "" and undated.tag != dated.tag
    run = run_in(undated, undated.recipe.test_command + " tests")
    assert not run.ok and "test_value" in run.output


def test_tests_extra_only_in_setup_py_extras_require_is_installed(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {
        "setup.py": "from setuptools import setup\nEXTRAS = {'tests': ['six']}\nsetup(name='withextra', py_modules=['withextra'], extras_require=EXTRAS)\n",
        "withextra.py": "", "tests/conftest.py": "import six  # only the tests extra brings it\n",
        "tests/test_it.py": "def test_it():\n    assert True\n"})
    image = build(root, commit, sandbox_cache_dir, tmp_path / "build.log")
    assert "six" in image.recipe.requirements
    assert_tests_pass(image)


def test_tox_extras_line_is_installed(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {
        "setup.cfg": "[metadata]\nname = toxextra\n\n[options]\npy_modules = toxextra\n\n[options.extras_require]\nci = colorama\n",
        "setup.py": "from setuptools import setup\nsetup()\n", "toxextra.py": "",
        "tox.ini": "[tox]\nenvlist = py39\n\n[testenv]\nextras = ci\ncommands = pytest\n",
        "tests/test_it.py": "import colorama\n\n\ndef test_it():\n    assert colorama\n"})
    image = build(root, commit, sandbox_cache_dir, tmp_path / "build.log")
    assert "colorama" in image.recipe.requirements
    assert_tests_pass(image)


def test_unresolvable_dev_requirement_is_dropped_and_noted(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {
        "setup.py": "from setuptools import setup\nsetup(name='baddev', py_modules=['baddev'])\n", "baddev.py": "",
        "requirements-dev.txt": "six\npatchsmith-no-such-package-13==1.0\n",
        "tests/test_it.py": "import six\n\n\ndef test_it():\n    assert six\n"})
    log = tmp_path / "build.log"
    image = build(root, commit, sandbox_cache_dir, log)
    assert any("patchsmith-no-such-package-13" in note and "dropped" in note for note in image.notes), image.notes
    assert "dropped: patchsmith-no-such-package-13==1.0" in log.read_text()  # the run folder's build log says so
    assert_tests_pass(image)


def test_setuptools_scm_project_without_git_gets_a_version(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools", "wheel", "setuptools_scm"]\nbuild-backend = "setuptools.build_meta"\n',
        "setup.py": "from setuptools import setup\nsetup(name='scmproj', py_modules=['scmproj'], use_scm_version=True)\n",
        "scmproj.py": "", "tests/test_it.py": "def test_it():\n    assert True\n"})
    subprocess.run(["git", "tag", "v1.4"], cwd=root, check=True)  # the archive carries no tags: the recipe does
    image = build(root, commit, sandbox_cache_dir, tmp_path / "build.log")
    run = run_in(image, "python -c 'import importlib.metadata as m; print(\"VERSION\", m.version(\"scmproj\"))'")
    assert run.ok and "VERSION 1.4\n" in run.output, run.output[-2000:]


def test_python_requires_in_setup_py_chooses_3_9_over_3_11(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {  # committed today: only python_requires keeps it off 3.11
        "setup.py": "from setuptools import setup\nsetup(name='old', py_modules=['old'], python_requires='>=3.6, <3.10')\n",
        "old.py": "", "tests/test_it.py": "def test_it():\n    assert True\n"}, stamp=None)
    image = build(root, commit, sandbox_cache_dir, tmp_path / "build.log")
    assert image.recipe.python == "3.9" and "python_requires" in dict(image.recipe.why)["python"]
    run = run_in(image, "python -c 'import sys; print(\"PY\", sys.version_info[:2])'")
    assert "PY (3, 9)" in run.output


def test_requirement_with_no_release_before_the_date_gets_the_oldest_that_installs(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {  # tomli's first release came in 2021
        "setup.py": "from setuptools import setup\nsetup(name='early', py_modules=['early'])\n", "early.py": "",
        "requirements-test.txt": "tomli\n", "tests/test_it.py": "import tomli\n\n\ndef test_it():\n    assert tomli\n"},
        stamp="2020-11-01T12:00:00+00:00")
    image = build(root, commit, sandbox_cache_dir, tmp_path / "build.log")
    fallback = [note for note in image.notes if note.startswith("fallback:") and "tomli" in note]
    assert fallback and "had no release before 2020-11-01" in fallback[0], image.notes
    assert_tests_pass(image)


def test_a_commit_older_than_the_python_gets_build_tools_that_run_on_it(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {  # setuptools of mid-2018 fails to import on Python 3.9 (HTMLParser.unescape)
        "setup.py": "from setuptools import setup\nsetup(name='old2018', py_modules=['old2018'])\n", "old2018.py": "",
        "tests/test_it.py": "def test_it():\n    assert True\n"}, stamp="2018-06-01T12:00:00+00:00")
    image = build(root, commit, sandbox_cache_dir, tmp_path / "build.log")
    assert image.recipe.python == "3.9"
    assert any(note.startswith("fallback: setuptools of 2018-06-01 does not run") for note in image.notes), image.notes
    assert_tests_pass(image)
