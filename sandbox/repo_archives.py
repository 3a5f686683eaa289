"""What goes into a container from the host: a commit as a git pack or a tar, or a work tree as
it is. Read with GitPython, imported late to keep `import patchsmith.sandbox` light."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from patchsmith.sandbox.errors import SandboxError


def git_pack(repo: str | Path, commit: str = "HEAD") -> tuple[bytes, str]:
    """A git pack holding commit, its tree and every blob in it; and the commit's full id.
    Deltas already in the repository are reused and no new ones searched for: speed over size."""
    import git

    try:
        repository = open_repo(repo)
        commit_id = repository.git.rev_parse("--verify", f"{commit}^{{commit}}")
    except (git.exc.GitError, git.exc.BadName, git.exc.BadObject, ValueError) as exc:
        raise SandboxError(f"Cannot read commit {commit!r} of the repository {repo}.") from exc
    objects = repository.git.rev_list("--objects", "--no-walk", commit_id)
    pack = repository.git.execute(
        ["git", "pack-objects", "--stdout", "-q", "--window=0", "--compression=1"], istream=subprocess.PIPE, as_process=True
    )
    data, _ = pack.proc.communicate((objects + "\n").encode())
    if pack.proc.returncode != 0:
        raise RuntimeError("git pack-objects failed")
    return data, commit_id


def git_archive(repo: str | Path, commit: str = "HEAD") -> bytes:
    """A tar of the repository's files at commit (repo: a git directory, bare or not, or a work tree)."""
    import git  # GitPython; imported here to keep `import sandbox` light

    try:
        repository = open_repo(repo)
        buf = io.BytesIO()
        repository.archive(buf, treeish=commit, format="tar")
    except (git.exc.GitError, git.exc.BadName, git.exc.BadObject, ValueError) as exc:
        raise SandboxError(f"Cannot read commit {commit!r} of the repository {repo}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}.") from exc
    return buf.getvalue()


def open_repo(path: str | Path):
    """A GitPython Repo that reads a repository whoever owns it (a shared mirror owned by another
    user is "dubious" to git and would read as empty): we only read what the caller named."""
    import git

    path = Path(path)
    repository = git.Repo(str(path))
    env = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*"}
    if (path / "HEAD").is_file() and (path / "objects").is_dir():
        # A git directory without a config file (a mirror) looks non-bare to GitPython, which then
        # runs git in its parent folder; naming the git directory keeps every command on it.
        env["GIT_DIR"] = str(path.resolve())
    repository.git.update_environment(**env)
    return repository


def files_containing(repo: str | Path, commit: str, text: str, pathspec: str = "*.py") -> list[str]:
    """The paths at commit whose content contains text (a fixed string)."""
    import git

    try:
        found = open_repo(repo).git.grep("-l", "-F", text, commit, "--", pathspec)
    except git.exc.GitCommandError:  # exit 1: in no file
        return []
    return [line.split(":", 1)[1] for line in found.splitlines() if ":" in line]


def tar_worktree(root: Path) -> bytes:
    """A tar of a work tree's files: what git tracks or would track (untracked, not ignored);
    every file when root is not a git repository."""
    import git

    root = Path(root)
    try:
        paths = open_repo(root).git.ls_files("--cached", "--others", "--exclude-standard").splitlines()
    except (git.exc.GitError, ValueError):
        paths = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel in paths:
            if (root / rel).is_file():
                tar.add(root / rel, arcname=rel)
    return buf.getvalue()
