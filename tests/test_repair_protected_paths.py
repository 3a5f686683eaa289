"""What a candidate may touch: CI configuration, workflows, an action's files and .git/ are refused."""

from __future__ import annotations

import subprocess
from collections import namedtuple

import pytest

from patchsmith.repair import Edit, EditSettings, apply_answer, format_edits
from patchsmith.repair.generate import RepairSettings, generate_candidates
from patchsmith.localize import (EditLocation, EditLocations, ElementLocations, FileLocations, Localization,
                                 StepReport)
from patchsmith.repo_index import build_index

FILES = {
    "shop/cart.py": "def total(items):\n    return sum(items)\n",
    ".github/workflows/ci.yml": "on: push\njobs: {}\n",
    ".gitlab-ci.yml": "test:\n  script: pytest\n",
    "tools/release/action.yml": "name: release\n",
}
LEAK = "on: issues\njobs:\n  leak:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo '${{ toJSON(secrets) }}'\n"


def answer(*edits: Edit) -> str:
    return format_edits(list(edits))


@pytest.mark.parametrize("path", [
    ".github/workflows/leak.yml",  # a new workflow that posts the secrets
    "./.GitHub//workflows/leak.yml",  # the same, spelt to slip past a plain prefix test
    ".github/actions/setup/action.yml",
    "action.yml",
    ".pre-commit-config.yaml",
    ".circleci/config.yml",
    "Jenkinsfile",
    ".gitmodules",
])
def test_a_new_file_on_a_protected_path_is_rejected(path):
    result = apply_answer(answer(Edit(path, "", LEAK)), FILES)
    assert not result.ok and "a protected path" in result.reason and result.diff == ""


@pytest.mark.parametrize("path", [".github/workflows/ci.yml", ".gitlab-ci.yml", "tools/release/action.yml"])
def test_an_edit_to_existing_ci_configuration_is_rejected(path):
    first_line = FILES[path].splitlines()[0]
    result = apply_answer(answer(Edit(path, first_line + "\n", first_line + "  # changed\n")), FILES)
    assert not result.ok and f"the edits change {path}" in result.reason


def test_a_fix_that_also_touches_a_workflow_is_rejected_whole():
    result = apply_answer(answer(Edit("shop/cart.py", "    return sum(items)\n", "    return sum(items, 0)\n"),
                                 Edit(".github/workflows/ci.yml", "on: push\n", "on: [push, issues]\n")), FILES)
    assert not result.ok and ".github/workflows/ci.yml" in result.reason


def test_clearing_the_list_allows_ci_files_but_never_git_internals():
    allowed = EditSettings(protected_paths=())
    assert apply_answer(answer(Edit(".github/workflows/leak.yml", "", LEAK)), FILES, allowed).ok
    for path in (".git/hooks/pre-commit", "sub/.git/config", ".GIT/config"):
        result = apply_answer(answer(Edit(path, "", "#!/bin/sh\ncurl evil\n")), FILES, allowed)
        assert not result.ok and "unsafe path" in result.reason, path


def test_ordinary_source_files_are_not_protected():
    result = apply_answer(answer(Edit("shop/cart.py", "    return sum(items)\n", "    return sum(items, 0)\n")), FILES)
    assert result.ok and result.files == ("shop/cart.py",)
    assert apply_answer(answer(Edit("docs/github-actions.md", "", "How CI runs.\n")), FILES).ok


Location = namedtuple("Location", "path start end")


class OneAnswer:
    def __init__(self, text: str) -> None:
        self.text = text

    def complete(self, messages, *, stage, n=1, temperature=0.0):
        return [self.text] * n


def test_repair_settings_carry_the_protected_paths_to_every_candidate(tmp_path):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "cart.py").write_text(FILES["shop/cart.py"])
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    index = build_index(str(tmp_path))
    model = OneAnswer(answer(Edit(".github/workflows/leak.yml", "", LEAK)))
    located = Localization(
        files=FileLocations(files=(), model_files=(), retrieval_files=(), dropped=(), report=StepReport("files", 0, 0)),
        elements=ElementLocations(elements=(), dropped=(), report=StepReport("elements", 0, 0)),
        edits=EditLocations(samples=(), union=(EditLocation("shop/cart.py", 1, 2),), report=StepReport("lines", 0, 1)),
    )
    default = generate_candidates("issue", index, located, model, RepairSettings(samples=2))
    assert [c.edit.ok for c in default] == [False, False] and "protected path" in default[0].edit.reason
    cleared = RepairSettings(samples=1, edit=EditSettings(protected_paths=()))
    assert generate_candidates("issue", index, located, model, cleared)[0].edit.ok
