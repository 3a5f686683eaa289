"""Recipes inferred from dependency files, and the user's overrides (no Docker needed)."""

from __future__ import annotations

import pytest

from patchsmith.sandbox import BaseSpec, RecipeError, infer_recipe, suite_for_python
from patchsmith.sandbox.base import host_debian_mirror
from patchsmith.sandbox.env import base_spec_for, env_tag


def _infer(files: dict[str, str], mode: str = "dated"):
    return infer_recipe({path: text.encode() for path, text in files.items()}, mode=mode)


def test_legacy_pyproject_with_test_extra_is_installed_editable_with_it():
    recipe = _infer(mode="legacy", files={"pyproject.toml": '[project]\nname="x"\nrequires-python=">=3.12"\n[project.optional-dependencies]\ntest=["pytest"]\n'})
    assert "python -m pip install -e '.[test]'" in recipe.setup
    assert recipe.setup[-1] == "python -m pip install pytest"
    assert recipe.python == "3.13"  # the newest of ours that requires-python allows
    assert recipe.source == "inferred"


def test_legacy_setup_py_requirements_and_tox_deps():
    recipe = _infer(mode="legacy", files={
        "setup.py": "from setuptools import setup\nsetup()\n",
        "requirements.txt": "six\n",
        "requirements-docs.txt": "sphinx\n",
        "tox.ini": "[testenv]\ndeps =\n    mock>=4\n    -rrequirements.txt\n    py38: old\ncommands = pytest\n",
    })
    assert "python -m pip install -r requirements.txt" in recipe.setup
    assert not any("docs" in step for step in recipe.setup)
    assert "python -m pip install 'mock>=4'" in recipe.setup
    assert "python -m pip install -e ." in recipe.setup
    assert recipe.python == ""


def test_recipe_hash_follows_dependency_files_only():
    a = _infer({"setup.py": "setup()\n"})
    b = _infer({"setup.py": "setup()  # changed\n"})
    assert a.recipe_hash() != b.recipe_hash()
    assert a.recipe_hash() == _infer({"setup.py": "setup()\n"}).recipe_hash()
    assert env_tag(a, "base:1") != env_tag(a, "base:2")


def test_overrides_from_pyproject_table():
    recipe = _infer({"pyproject.toml": (
        '[project]\nname="x"\n[tool.patchsmith.sandbox]\nimage="python:3.11-slim"\n'
        'setup=["pip install -e .", "pip install hypothesis"]\ntest_command="pytest -x"\nsystem_packages=["libxml2-dev"]\n'
        'env={DJANGO_SETTINGS_MODULE="s"}\n'
    )})
    assert recipe.setup == ("pip install -e .", "pip install hypothesis")
    assert recipe.test_command == "pytest -x"
    assert recipe.system_packages == ("libxml2-dev",)
    assert recipe.env == (("DJANGO_SETTINGS_MODULE", "s"),)
    assert recipe.source == "pyproject.toml"
    assert base_spec_for(recipe) == BaseSpec(registry_image="python:3.11-slim")
    assert base_spec_for(recipe).tag == "python:3.11-slim"


def test_patchsmith_toml_wins_and_bad_input_is_one_sentence():
    recipe = _infer({"setup.py": "setup()\n", ".patchsmith.toml": '[sandbox]\npython = "3.9"\nsetup = "make install"\n'})
    assert recipe.setup == ("make install",) and recipe.python == "3.9" and recipe.source == ".patchsmith.toml"
    assert base_spec_for(recipe).suite == "bullseye"
    with pytest.raises(RecipeError, match="unknown sandbox setting"):
        _infer({".patchsmith.toml": '[sandbox]\nimgae = "x"\n'})
    with pytest.raises(RecipeError, match="not valid TOML"):
        _infer({"pyproject.toml": "[project\n"})
    with pytest.raises(RecipeError, match="list of strings"):
        _infer({".patchsmith.toml": "[sandbox]\nsetup = 3\n"})
    assert RecipeError.user_error is True


def test_python_versions_map_to_suites():
    assert [suite_for_python(v) for v in ("3.6", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", None)] == [
        "bullseye", "bullseye", "bullseye", "bullseye", "bookworm", "bookworm", "trixie", "bookworm"]


def test_base_tag_is_a_hash_of_the_recipe():
    assert BaseSpec().tag == BaseSpec().tag
    assert BaseSpec().tag != BaseSpec(packages=BaseSpec().packages + ("curl",)).tag
    assert BaseSpec(suite="trixie").tag.startswith("patchsmith-base:trixie-")
    assert host_debian_mirror().startswith("http")
