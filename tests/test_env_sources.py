"""Inferred environments against the real engine, for causes the "specs off" bench found: test
requirements in a folder of requirement files or only in a conda environment file, compiled
build requirements of an old commit on a newer Python, a package the Cython sources cimport, a
requirement whose dependency does not build, and a tree whose history has no tags.

Each fixture repository has one cause and shares bullseye's base image (commits of 2019-2021
get Python 3.9) with tests/test_env_inference.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from patchsmith.sandbox import build_env_image, infer_recipe, read_dependency_files
from test_env_inference import assert_tests_pass, build, dated_repo, run_in

pytestmark = pytest.mark.docker


def test_requirement_folder_gives_its_main_file_and_skips_backend_alternatives(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {  # as Django's tests/requirements/{py3,postgres}.txt
        "setup.py": "from setuptools import setup\nsetup(name='folderreqs', py_modules=['folderreqs'])\n", "folderreqs.py": "",
        "tests/requirements/py3.txt": "six\n", "tests/requirements/postgres.txt": "patchsmith-no-such-driver-13==1.0\n",
        "tests/conftest.py": "import six  # only tests/requirements/py3.txt names it\n",
        "tests/test_it.py": "def test_it():\n    assert True\n"})
    image = build(root, commit, sandbox_cache_dir, tmp_path / "build.log")
    assert "six" in image.recipe.requirements
    assert not any("no-such-driver" in r for r in image.recipe.requirements)  # an alternative backend, not taken
    assert_tests_pass(image)


CONDA_ENV = """\
name: condaproj-tests
channels:
  - conda-forge
dependencies:
  - python=3.9
  - pip
  - hdf5          # a C library: not from PyPI
  - six
  - pip:
    - colorama
"""


def test_conda_environment_file_gives_its_pip_installable_part(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {  # as xarray's ci/requirements/environment.yml, with no test requirement file
        "setup.py": "from setuptools import setup\nsetup(name='condaproj', py_modules=['condaproj'])\n", "condaproj.py": "",
        "ci/requirements/environment.yml": CONDA_ENV, "ci/requirements/doc.yml": "dependencies:\n  - patchsmith-no-such-doc-13\n",
        "tests/conftest.py": "import colorama, six  # declared only for conda\n",
        "tests/test_it.py": "def test_it():\n    assert True\n"})
    image = build(root, commit, sandbox_cache_dir, tmp_path / "build.log")
    assert {"six", "colorama"} <= set(image.recipe.requirements)
    assert not {"python", "pip", "hdf5"} & set(image.recipe.requirements)
    assert "ci/requirements/environment.yml" in dict(image.recipe.why)["requirements"]
    assert_tests_pass(image)


def test_old_compiled_project_on_a_newer_python_gets_build_requirements_with_wheels(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {  # as scikit-learn 0.21: numpy imported by setup.py, Cython only by a helper
        "setup.py": ("import numpy\nfrom setuptools import setup\nfrom _build import extensions\n"
                     "setup(name='fastmod', ext_modules=extensions(), include_dirs=[numpy.get_include()])\n"),
        "_build.py": "def extensions():\n    from Cython.Build import cythonize\n    return cythonize(['fastmod.pyx'])\n",
        "fastmod.pyx": "def double(int x):\n    return 2 * x\n",
        "tests/test_it.py": "import fastmod\n\n\ndef test_it():\n    assert fastmod.double(2) == 4\n"},
        stamp="2019-04-09T12:00:00+00:00")
    recipe = infer_recipe(read_dependency_files(root, commit))
    assert "Cython" in dict(recipe.why)["build requirements"]  # from the .pyx file, not from setup.py's imports
    image = build(root, commit, sandbox_cache_dir, tmp_path / "build.log")
    assert image.recipe.python == "3.9"
    notes = "\n".join(image.notes)
    # numpy of 2019 (and of Python 3.9's release day) has no wheel for 3.9: the first that has one.
    assert "numpy" in notes and "oldest release with a wheel for it, numpy==1.19.3" in notes, notes
    assert notes.count("numpy==1.19.3") == 1, notes  # that release is searched for once (each search is many pip calls)
    assert_tests_pass(image)


def test_cython_sources_cimporting_another_package_get_it_before_the_build(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {  # as scikit-learn 0.21: a .pyx cimports scipy's BLAS, which setup.py never names
        "setup.py": ("from setuptools import setup\nfrom Cython.Build import cythonize\n"
                     "setup(name='blasdot13', ext_modules=cythonize(['blasdot/fast.pyx']), packages=['blasdot'])\n"),
        "blasdot/__init__.py": "",
        "blasdot/fast.pyx": ("from scipy.linalg.cython_blas cimport ddot\ncimport helpers  # a module of the same folder\n"
                             "from libc.math cimport sqrt\n\n"
                             "def norm3(double a, double b, double c):\n"
                             "    cdef double v[3]\n    cdef int n = 3, one = 1\n    v[0], v[1], v[2] = a, b, c\n"
                             "    return sqrt(ddot(&n, v, &one, v, &one))\n"),
        "blasdot/helpers.pxd": "ctypedef double real\n",
        "tests/test_it.py": "from blasdot.fast import norm3\n\n\ndef test_it():\n    assert norm3(2, 3, 6) == 7\n"})
    recipe = infer_recipe(read_dependency_files(root, commit))
    # scipy from the cimport; Cython's own (libc) and the tree's own (helpers) are no requirements.
    assert dict(recipe.why)["build requirements"] == "Cython, scipy (from setup.py's imports and setup_requires and the Cython sources' cimports)"
    image = build(root, commit, sandbox_cache_dir, tmp_path / "build.log")
    assert_tests_pass(image)


def test_a_dependency_that_will_not_build_drops_the_requirement_that_wants_it(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {  # as xarray's scitools-iris, which wants cartopy, whose build needs GEOS
        "setup.py": "from setuptools import setup\nsetup(name='chainreq', py_modules=['chainreq'])\n", "chainreq.py": "",
        # requirement files' URL lines are skipped; the table's requirements are installed as written
        ".patchsmith.toml": '[sandbox]\nrequirements = ["six", "pytest", "parentpkg @ file:///testbed/vendor/parentpkg"]\n',
        "vendor/parentpkg/setup.py": ("from setuptools import setup\nsetup(name='parentpkg', version='0.1', "
                                      "install_requires=['brokenpkg @ file:///testbed/vendor/brokenpkg'])\n"),
        "vendor/brokenpkg/setup.py": "raise SystemExit('brokenpkg needs a C library this image lacks')\n",
        "tests/conftest.py": "import six  # the requirement that stays\n",
        "tests/test_it.py": "def test_it():\n    assert True\n"})
    image = build(root, commit, sandbox_cache_dir, tmp_path / "build.log")
    notes = "\n".join(image.notes)
    assert "dropped: parentpkg @ file:///testbed/vendor/parentpkg (a dependency of it failed to build)" in notes, notes
    assert "dropped: six" not in notes  # pip's last `Collecting` line before the failure was six's
    assert "--dry-run parentpkg" not in (tmp_path / "build.log").read_text()  # no trial install per requirement
    assert_tests_pass(image)


def test_a_requirement_that_installs_but_will_not_import_is_uninstalled_and_noted(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {  # as xarray's CI list gives cfgrib, whose eccodes finds no ecCodes library
        "setup.py": "from setuptools import setup\nsetup(name='optimp', py_modules=['optimp'])\n",
        # the project's optional import, which catches ImportError only, as xarray's backends do
        "optimp.py": "try:\n    import gribby\nexcept ImportError:\n    gribby = None\n",
        ".patchsmith.toml": '[sandbox]\nrequirements = ["six", "pytest", "gribby @ file:///testbed/vendor/gribby"]\n',
        "vendor/gribby/setup.py": "from setuptools import setup\nsetup(name='gribby', version='0.1', py_modules=['gribby'])\n",
        "vendor/gribby/gribby.py": "raise RuntimeError('Cannot find the ecCodes library')\n",
        "tests/test_it.py": "import optimp\nimport six\n\n\ndef test_it():\n    assert optimp.gribby is None\n"})
    image = build(root, commit, sandbox_cache_dir, tmp_path / "build.log")
    notes = "\n".join(image.notes)
    assert ("dropped: gribby (installed, but `import gribby` fails: RuntimeError: Cannot find the ecCodes library)"
            in notes), notes
    assert "dropped: six" not in notes and "dropped: pytest" not in notes  # they import
    assert_tests_pass(image)


def test_a_pinned_pytest_that_cannot_run_on_the_python_moves_with_its_plugins(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {  # as requests 2.7's requirements.txt, on the oldest Python we have (3.9)
        "setup.py": "from setuptools import setup\nsetup(name='oldpins', py_modules=['oldpins'])\n", "oldpins.py": "",
        "requirements.txt": "py==1.4.12\npytest==2.3.4\npytest-cov==1.6\n",
        "tests/test_it.py": "def test_it():\n    assert True\n"}, stamp="2015-08-26T12:00:00+00:00")
    image = build(root, commit, sandbox_cache_dir, tmp_path / "build.log")
    assert image.recipe.python == "3.9"
    notes = "\n".join(image.notes)
    assert "pytest of 2015-08-26 does not run on Python 3.9; pytest and its plugins (pytest-cov) as of that Python" in notes, notes
    assert "does not run a trivial test either" not in notes, notes
    run = run_in(image, "pytest -rA tests")  # the command a harness calls, which pytest 2.3 did not install
    assert run.ok and "1 passed" in run.output, run.output[-2000:]


def test_history_without_tags_gets_the_nearest_version_tag(tmp_path: Path, sandbox_cache_dir: Path):
    root = tmp_path / "repo"
    commit = dated_repo(root, {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools", "wheel", "setuptools_scm"]\nbuild-backend = "setuptools.build_meta"\n',
        "setup.py": "from setuptools import setup\nsetup(name='scmtagless', py_modules=['scmtagless'], use_scm_version=True)\n",
        "scmtagless.py": "", "tests/test_it.py": "def test_it():\n    assert True\n"})
    import subprocess

    subprocess.run(["git", "tag", "v2.7"], cwd=root, check=True)
    recipe = infer_recipe(read_dependency_files(root, commit))
    # Whoever copies the tree in may make a history of their own, as the SWE-bench runner does.
    own_history = "git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm copied && git tag copied-base"
    recipe = replace(recipe, setup=(own_history, *recipe.setup))
    image = build_env_image(root, commit, recipe, cache_dir=sandbox_cache_dir, log_path=tmp_path / "build.log")
    run = run_in(image, "python -c 'import importlib.metadata as m; print(\"VERSION\", m.version(\"scmtagless\"))'")
    assert run.ok and "VERSION 2.7\n" in run.output, run.output[-2000:]
