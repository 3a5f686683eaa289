"""Where a run's candidates are tried: a sandbox for one repository at its base commit, and how
its tests run there. The pipeline takes any Workspace; RecipeWorkspace is the one for a user's
own repository (SWE-bench brings its per-instance ones)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol


class Workspace(Protocol):
    """A sandbox for one repository at its base commit, and how its tests are run there."""

    def start(self, logs: Path) -> Any:
        """A started sandbox.Container holding the repository at the base commit as its base state."""

    def test_runner(self, box: Any) -> Any:
        """A reproduce.TestRunner for the repository's tests in that container."""

    def describe(self) -> dict[str, Any]:
        """What settings.json records of the workspace: {"kind": ..., ...}."""


@dataclass
class RecipeWorkspace:
    """The environment inferred from the repository's files (or its [tool.patchsmith.sandbox]
    table), on a debootstrap base image or the registry image the user named."""

    repo: str
    commit: str | None
    base_image: str | None = None
    test_command: str = ""  # the recipe's, once start() built the environment; or the user's choice
    parser: str = ""  # how to read the test command's log; "" guesses from the command

    KIND = "recipe"

    def start(self, logs: Path) -> Any:
        from patchsmith.paths import cache_root
        from patchsmith.sandbox import Container, build_env_image, infer_recipe, read_dependency_files

        recipe = None
        if self.base_image:
            recipe = replace(infer_recipe(read_dependency_files(self.repo, self.commit)), base_image=self.base_image)
        env = build_env_image(self.repo, self.commit, recipe, cache_dir=cache_root() / "sandbox", log_path=logs / "env-build.log")
        self.test_command = self.test_command or env.recipe.test_command
        return start_container(Container(env.tag, log_path=logs / "container.log"), self.repo, self.commit)

    def test_runner(self, box: Any) -> Any:
        from patchsmith.reproduce import CommandTestRunner

        return CommandTestRunner(box, self.test_command, self.parser or guess_parser(self.test_command))

    def describe(self) -> dict[str, Any]:
        return {"kind": self.KIND, "base_image": self.base_image}


def guess_parser(command: str) -> str:
    """The log parser a test command's output needs."""
    if "runtests.py" in command:
        return "django"
    if "bin/test" in command:
        return "sympy"
    if "pytest" in command or "py.test" in command:
        return "pytest"
    return "unittest"


def start_container(box: Any, repo: str, commit: str | None) -> Any:
    """Start the container with the repository at `commit`, or with its work tree as it is (the
    state the index read) when no commit is given."""
    if commit is not None:
        return box.start(repo, commit)
    box.start()
    try:
        box.copy_worktree(repo)
    except BaseException:
        box.close()
        raise
    return box
