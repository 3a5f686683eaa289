"""Checks made before any model call, so that a run never pays a model and then finds that Docker
is down or the run folder cannot be written. Each failure is one sentence; all are reported at once.

Two parts, because litellm's import takes about 6 s:
- `check_workspace` needs no litellm: the repository is a git repository (at the commit asked
  for), the run folder can be written, the sandbox configuration parses, Docker answers;
- `check_model` needs litellm: the model string resolves, a key is there (or an api_base is set),
  and a cost cap has a price to count with.
`start_loading_litellm()` imports the gateway in a background thread, so that a command can
build the environment while litellm loads; `check_model` (or any import of patchsmith.llm) then
waits for the import if it is still running (Python's import lock makes that safe). Start it
after the index is built, not before: the index forks its parse workers, and a fork while
another thread is importing is both slower (bench/litellm_preload.py) and unsafe (a child can
wait forever on an import lock held by a thread it does not have).
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path


class PreflightError(Exception):
    """One or more problems found before any model call, one sentence per line."""

    user_error = True

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def start_loading_litellm() -> threading.Thread:
    """Import patchsmith.llm (and so litellm) in a daemon thread; join it, or just import, to wait."""

    def load() -> None:
        try:
            import patchsmith.llm  # noqa: F401 - the import is the work
        except Exception:  # noqa: BLE001 - the import is retried, and its error shown, where it is needed
            pass

    thread = threading.Thread(target=load, name="load-litellm", daemon=True)
    thread.start()
    return thread


def check_workspace(repo: str | Path, out_dir: str | Path | None, *, commit: str | None = None,
                    docker: bool = True) -> list[str]:
    """Problems with the repository, the run folder, the sandbox configuration and Docker."""
    problems = []
    repo_problem = _check_repo(Path(repo), commit)
    if repo_problem:
        problems.append(repo_problem)
    out_problem = _check_writable(Path(out_dir) if out_dir else Path("patchsmith-runs"))
    if out_problem:
        problems.append(out_problem)
    if not repo_problem:
        recipe_problem = _check_sandbox_config(Path(repo), commit)
        if recipe_problem:
            problems.append(recipe_problem)
    if docker:
        from patchsmith.sandbox import DockerUnavailable
        from patchsmith.sandbox.engine import client

        try:
            client()
        except DockerUnavailable as exc:
            problems.append(str(exc))
    return problems


def _check_repo(repo: Path, commit: str | None) -> str | None:
    import git

    if not repo.is_dir():
        return f"the repository {repo} is not a folder"
    try:
        repository = git.Repo(repo, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return f"{repo} is not a git repository (run `git init` and commit, or give another --repo)"
    if commit is not None:
        try:
            repository.commit(commit)
        except (git.BadName, ValueError):
            return f"the repository {repo} has no commit {commit!r}"
    return None


def check_run_folder(out_dir: str | Path | None, what: str = "the run folder") -> None:
    """PreflightError when the folder cannot be made or written (for the commands that run part
    of the pipeline, or a SWE-bench run, and need no other check before they start)."""
    problem = _check_writable(Path(out_dir) if out_dir else Path("patchsmith-runs"), what)
    if problem:
        raise PreflightError([problem])


def _check_writable(out_dir: Path, what: str = "the run folder") -> str | None:
    """The folder, or the nearest folder above it that exists, must take a new file."""
    probe = out_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return f"{what} {out_dir} cannot be made: {probe} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        return f"{what} {out_dir} cannot be written ({exc.strerror or exc})"
    return None


def _check_sandbox_config(repo: Path, commit: str | None) -> str | None:
    from patchsmith.sandbox import RecipeError, infer_recipe, read_dependency_files

    try:
        infer_recipe(read_dependency_files(repo, commit))
    except RecipeError as exc:
        return f"the sandbox configuration does not parse: {exc}".rstrip(".")
    return None


def check_model(settings, *, cost_cap: float | None = None) -> list[str]:  # noqa: ANN001 - llm.ModelSettings
    """Problems with the model string, its key, its time limit and the cost cap's price."""
    import os

    from patchsmith.llm import ModelError, resolve_provider
    from patchsmith.model_costs import estimate, unpriced_cap

    try:
        provider = resolve_provider(settings.model, settings.api_base)
    except ModelError as exc:
        return [str(exc)]
    problems = []
    if settings.api_key_env:
        if not os.environ.get(settings.api_key_env):
            problems.append(f"the variable {settings.api_key_env} (named by --api-key-env) is not set")
    elif not settings.api_key and not settings.api_base:
        missing = _missing_keys(settings.model)
        if missing:
            empty = [name for name in missing if name in os.environ]
            problems.append(
                f"no API key for {settings.model}: set {' or '.join(missing)}"
                + (f" ({', '.join(empty)} is set but empty)" if empty else "")
                + ", or name the variable that holds it with --api-key-env NAME "
                "(a self-hosted server given with --api-base needs none)"
            )
    if settings.timeout <= 0:
        problems.append(f"the model timeout must be more than 0 seconds, not {settings.timeout:g}")
    cap = cost_cap if cost_cap is not None else settings.max_cost
    if cap is not None and estimate(settings.model, provider, 1, 1, settings.price_per_token) is None:
        problems.append(unpriced_cap(settings.model, cap))
    return problems


def _missing_keys(model: str) -> list[str]:
    """The key variables litellm wants for model and does not find. litellm counts a variable set
    to "" as a key, and the run would then fail at its first request; here an empty one is missing."""
    import os

    import litellm

    blank = {name: value for name, value in os.environ.items() if not value.strip()}
    for name in blank:  # the loader thread has finished: nothing else reads the environment now
        del os.environ[name]
    try:
        return list(litellm.validate_environment(model=model).get("missing_keys") or [])
    finally:
        os.environ.update(blank)


def preflight(settings, *, repo: str | Path, out_dir: str | Path | None, commit: str | None = None,  # noqa: ANN001
              docker: bool = True, cost_cap: float | None = None) -> None:
    """Every check at once; PreflightError with one sentence per problem."""
    problems = check_workspace(repo, out_dir, commit=commit, docker=docker) + check_model(settings, cost_cap=cost_cap)
    if problems:
        raise PreflightError(problems)
