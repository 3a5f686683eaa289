"""What `solve` does while litellm loads, so that its first line of output comes at once.

Importing the model gateway takes about 6 s. `prepare` says what it is doing first, starts that
import in a background thread, checks everything that needs no model (the repository, the run
folder, the sandbox configuration, Docker) and indexes the repository meanwhile; the pipeline's
own index stage then reads the warm index cache. Only then does it wait for the gateway and
check the model, so every problem is still found before the first model call (patchsmith.preflight).

The index forks its parse workers, and a fork while another thread is importing can leave a
child waiting on an import lock no thread will release (bench/litellm_preload.py): while the
import runs, the index parses in this process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

Say = Callable[[str, str], None]  # (stage, message), as the pipeline's progress


def prepare(settings, *, repo: Path, out_dir: Path | None, commit: str | None, say: Say) -> None:  # noqa: ANN001 - settings.Settings
    """Every preflight check, with the repository indexed while litellm loads; PreflightError lists each problem."""
    from patchsmith.preflight import PreflightError, check_model, check_workspace, start_loading_litellm

    say("preflight", "checking the repository, the run folder and Docker while the model gateway loads")
    loading = start_loading_litellm()
    problems = check_workspace(repo, out_dir, commit=commit)
    if not problems:
        _index(settings, repo, commit, parallel=not loading.is_alive(), say=say)
    loading.join()
    problems += check_model(settings.model)
    if problems:
        raise PreflightError(problems)


def _index(settings, repo: Path, commit: str | None, *, parallel: bool, say: Say) -> None:  # noqa: ANN001
    from patchsmith import repo_index
    from patchsmith.paths import cache_root

    index_settings = settings.index if parallel else replace(settings.index, workers=1)
    index = repo_index.build_index(str(repo), commit=commit, cache_dir=cache_root() / "index", settings=index_settings)
    say("index", f"{index.stats['files']} files, {index.stats['definitions']} definitions "
                 f"({index.stats['cache_hits']} from the cache)")
