"""Where an instance's repository lives: one resolver, used by every benchmark that needs sources.

A repo cache is a folder of git mirrors named after the upstream repository, as `owner+name`,
`owner__name` or `owner/name`, bare or with a work tree; a symlink to a fork holding the same
commits may stand in. When no entry exists the upstream is cloned (bare) into the cache.
"""

from __future__ import annotations

from pathlib import Path

from patchsmith.swebench_runner.errors import SwebenchError

GITHUB_URL = "https://github.com/{repo}"


def _git_dir(path: Path) -> Path | None:
    """The git directory at `path`: the folder itself when bare, its `.git` when it has a work tree."""
    if (path / ".git").is_dir():
        return path / ".git"
    if (path / "HEAD").is_file() and (path / "objects").is_dir():
        return path
    return None


def find_mirror(repo: str, repo_cache: Path, url_template: str = GITHUB_URL) -> Path:
    """Return the git directory of `repo` ("owner/name") in `repo_cache`, cloning it when absent.

    `url_template` is formatted with `repo=` to find the upstream; tests point it at a
    `file://` remote.
    """
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise SwebenchError(f"repository name {repo!r} is not of the form owner/name.")
    owner, name = repo.split("/")
    repo_cache = Path(repo_cache).expanduser()
    candidates = [repo_cache / f"{owner}+{name}", repo_cache / f"{owner}__{name}", repo_cache / owner / name]
    for candidate in candidates:
        if candidate.exists():
            git_dir = _git_dir(candidate.resolve())
            if git_dir is None:
                raise SwebenchError(f"{candidate} exists but is not a git repository.")
            return git_dir
    import git  # GitPython; imported here so that resolving an existing mirror stays cheap

    destination = candidates[0]
    url = url_template.format(repo=repo)
    repo_cache.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    try:
        # Never a credentials prompt: a repository the host does not have fails at once.
        git.Repo.clone_from(url, partial, bare=True, env={"GIT_TERMINAL_PROMPT": "0"})
    except git.GitCommandError as exc:
        from patchsmith.repo_index.git_errors import git_failure

        looked = ", ".join(str(c.relative_to(repo_cache)) for c in candidates)
        raise SwebenchError(f"{repo} has no mirror in the --repo-cache folder {repo_cache} (looked for {looked}), "
                            f"and cloning {url} failed: {git_failure(exc.stderr or '')}.") from None
    # A clone is renamed into place only when complete, so an interrupted clone is never mistaken for a mirror.
    partial.rename(destination)
    return destination
