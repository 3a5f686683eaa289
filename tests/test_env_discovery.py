"""Recipe inference without Docker: the date, the Python, where test requirements are found,
the test command, the recipe table, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_git_repo
from patchsmith.sandbox import RecipeError, infer_recipe, read_dependency_files
from patchsmith.sandbox.dating import cutoff_of, dependency_date
from patchsmith.sandbox.discovery import test_command as inferred_test_command
from patchsmith.sandbox.discovery import test_requirements as discovered


def _infer(files: dict[str, str], date: str = ""):
    from patchsmith.sandbox.recipe import DependencyFiles

    found = DependencyFiles({p: t.encode() for p, t in files.items()})
    found.date, found.date_reason = date, "given"
    return infer_recipe(found)


def _commit(root: Path, files: dict[str, str], stamp: str) -> str:
    env = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "c"], cwd=root, check=True, env={**os.environ, **env})
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def test_date_is_the_last_dependency_change_and_today_for_uncommitted_changes(tmp_path: Path):
    root = tmp_path / "repo"
    make_git_repo(root, {"README": "x\n"})
    first = _commit(root, {"setup.py": "setup()\n"}, "2021-03-01T12:00:00+00:00")
    later = _commit(root, {"pkg.py": "x = 1\n"}, "2022-05-05T12:00:00+00:00")  # no dependency file changed
    assert dependency_date(root, first)[0] == "2021-03-01"
    assert dependency_date(root, later)[0] == "2021-03-01"  # shares the image of `first`
    assert infer_recipe(read_dependency_files(root, later)).recipe_hash() == infer_recipe(read_dependency_files(root, first)).recipe_hash()
    _commit(root, {"tests/requirements-test.txt": "six\n"}, "2022-06-01T12:00:00+00:00")
    assert dependency_date(root, "HEAD")[0] == "2022-06-01"  # requirement files below the root count
    assert dependency_date(root, None)[0] == "2022-06-01"
    (root / "setup.py").write_text("setup(name='changed')\n")
    date, why = dependency_date(root, None)
    assert date > "2026-01-01" and "uncommitted" in why
    assert cutoff_of("2021-03-01") == "2021-03-02T00:00:00Z"


@pytest.mark.parametrize("files, date, python", [
    ({"setup.py": "setup(python_requires='>=3.6,<3.10')"}, "", "3.9"),
    ({"setup.cfg": "[options]\npython_requires = >=3.12\n"}, "2025-01-01", "3.13"),
    ({"setup.py": "setup()"}, "2021-03-01", "3.9"),  # 3.11 came out in October 2022
    ({"setup.py": "setup()"}, "", "3.11"),  # says nothing: the default
    ({"setup.py": "setup(classifiers=['Programming Language :: Python :: 3.8'])"}, "2024-01-01", "3.9"),
    ({"tox.ini": "[tox]\nenvlist = py{311,313}\n", "setup.py": "setup()"}, "2025-01-01", "3.13"),
    ({".github/workflows/ci.yml": "python-version: ['3.8', '3.9']\n", "setup.py": "setup()"}, "2023-01-01", "3.9"),
])
def test_python_from_metadata_and_date(files, date, python):
    recipe = _infer(files, date)
    assert recipe.python == python, dict(recipe.why)["python"]


def test_test_requirements_from_every_place_without_linters():
    files = {
        "setup.py": "from setuptools import setup\nsetup(name='proj', extras_require={'testing': ['six'], 'dev': ['black', 'mock'], 'docs': ['sphinx']})\n",
        "pyproject.toml": '[dependency-groups]\ntest = ["attrs", {include-group = "base"}]\nbase = ["toml"]\n',
        "tox.ini": "[tox]\nenvlist = py39-django32\n\n[testenv]\nextras = special\ndeps =\n    -rci/requirements-ci.txt\n    django32: Django>=3.2,<4\n    django22: Django>=2.2,<3\n    flake8\n",
        "setup.cfg": "[options.extras_require]\nspecial = colorama\n",
        "ci/requirements-ci.txt": "pytest-timeout\n",
        "requirements/lint.txt": "pylint==2.4\n",
        "dev-requirements.txt": "types-requests\nproj[testing]\nfreezegun\n",
    }
    found, _, left_out, _ = discovered({p: t for p, t in files.items()}, __import__("tomllib").loads(files["pyproject.toml"]))
    for wanted in ("six", "mock", "attrs", "toml", "colorama", "pytest-timeout", "Django>=3.2,<4", "freezegun", "pytest"):
        assert wanted in found, wanted
    for unwanted in ("black", "sphinx", "flake8", "pylint==2.4", "Django>=2.2,<3", "types-requests", "proj[testing]"):
        assert unwanted not in found, unwanted
    assert "black" in left_out and "types-requests" in left_out


def test_unreadable_setup_py_extras_are_asked_from_the_installed_metadata():
    recipe = _infer({"setup.py": "from setuptools import setup\nsetup(name='p', extras_require=make_extras())\n"})
    assert "installed metadata" in dict(recipe.why)["requirements"]
    assert '"extra_names": [\n  "test"' in "\n".join(recipe.setup)  # in the plan the installer reads


def test_test_command_from_the_projects_configuration():
    assert inferred_test_command({"tests/runtests.py": ""})[0] == "python tests/runtests.py"
    command, why = inferred_test_command({"setup.cfg": "[tool:pytest]\naddopts = -q\n"})
    assert command.startswith("python -m pytest") and "setup.cfg" in why


def test_date_override_and_bad_date(tmp_path: Path):
    assert _infer({"setup.py": "setup()", "pyproject.toml": '[tool.patchsmith.sandbox]\ndate = "2020-01-02"\n'}, "2023-01-01").date == "2020-01-02"
    assert _infer({"setup.py": "setup()", "pyproject.toml": '[tool.patchsmith.sandbox]\ndate = "none"\n'}, "2023-01-01").date == ""
    with pytest.raises(RecipeError, match="YYYY-MM-DD"):
        _infer({"setup.py": "setup()", "pyproject.toml": '[tool.patchsmith.sandbox]\ndate = "last week"\n'})


def test_only_the_sandbox_table_is_read_from_the_repository():
    with pytest.raises(RecipeError, match="unknown sandbox setting"):
        _infer({"pyproject.toml": '[tool.patchsmith.sandbox]\nmodel = "openai/evil"\napi_base = "http://evil"\n'})


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "patchsmith.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_explain_and_write_config_on_the_command_line(tmp_path: Path):
    root = tmp_path / "repo"
    make_git_repo(root, {"README": "x\n"})
    _commit(root, {"setup.py": "from setuptools import setup\nsetup(name='p', extras_require={'test': ['six']})\n",
                   "requirements-lint.txt": "flake8\n"}, "2021-03-01T12:00:00+00:00")
    done = _cli("sandbox", "build", str(root), "--explain", "--no-build")
    assert done.returncode == 0, done.stderr
    assert "python:       3.9" in done.stdout and "date:         2021-03-01" in done.stdout and "six" in done.stdout
    assert "test command: python -m pytest" in done.stdout
    config = tmp_path / "recipe.toml"
    assert _cli("sandbox", "build", str(root), "--write-config", str(config), "--no-build").returncode == 0
    table = __import__("tomllib").loads(config.read_text())["tool"]["patchsmith"]["sandbox"]
    assert table["date"] == "2021-03-01" and table["python"] == "3.9" and "six" in table["requirements"]
    (root / "pyproject.toml").write_text(config.read_text().replace('"2021-03-01"', '"2020-06-01"'))
    done = _cli("sandbox", "build", str(root), "--explain", "--no-build")
    assert "date:         2020-06-01" in done.stdout  # the written table is read back and edited
    again = _cli("sandbox", "build", str(root), "--write-config", str(config), "--no-build")
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
    assert "2021-03-01" in config.read_text()  # nothing already written is lost


def test_build_requirements_from_setup_py_imports():
    from patchsmith.sandbox.discovery import build_requirements

    setup_py = ("import os\nimport numpy\nfrom Cython.Build import cythonize\nimport setupext\n"
                "try:\n    import wheelhouse_uploader\nexcept ImportError:\n    pass\n"
                "from setuptools import setup\nsetup(name='p', setup_requires=['cffi>=1.0'])\n")
    found, where = build_requirements({"setup.py": setup_py}, {}, {"setupext"})
    assert found == ["numpy", "Cython", "cffi>=1.0"] and "setup.py" in where
    declared, _ = build_requirements({"setup.py": setup_py}, {"build-system": {"requires": ["setuptools", "oldest-supported-numpy"]}}, set())
    assert declared == ["setuptools", "oldest-supported-numpy"]


def test_requirement_folders_take_their_main_files_and_leave_alternatives():
    from patchsmith.sandbox.discovery import requirement_files

    paths = ["requirements.txt", "requirements/tests.txt", "requirements/tests-pallets-min.txt", "requirements/docs.txt",
             "requirements/testing/minver.txt", "requirements/testing/all.txt", "tests/requirements/py3.txt",
             "tests/requirements/postgres.txt", "tests/requirements/oracle.txt"]
    assert requirement_files(dict.fromkeys(paths, "")) == [
        "requirements.txt", "requirements/testing/all.txt", "requirements/tests.txt", "tests/requirements/py3.txt"]


def test_conda_specs_become_pip_requirements():
    from patchsmith.sandbox.conda_files import chosen_conda_file, pip_requirement

    assert [pip_requirement(s) for s in ("numpy=1.17", "dask>=2.9", "conda-forge::pint", "matplotlib-base", "hdf5",
                                         "python=3.8", "netcdf4 1.5.3 py38_0")] == [
        "numpy==1.17.*", "dask>=2.9", "pint", "matplotlib", "", "", "netcdf4==1.5.3"]
    files = dict.fromkeys(["ci/requirements/doc.yml", "ci/requirements/py37-min-all-deps.yml", "ci/requirements/environment.yml",
                           "ci/requirements/environment-windows.yml", ".binder/environment.yml"], "")
    assert chosen_conda_file(files) == "ci/requirements/environment.yml"
