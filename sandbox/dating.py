"""The date of a commit's package world: when its dependency files last changed.

Commits that change no dependency file share a date, and so an environment image. A work tree
whose dependency files have uncommitted changes is dated today: nothing older describes it.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

# Files whose change moves the date (requirement files anywhere in the tree, by name).
DEPENDENCY_PATHSPECS = (
    "pyproject.toml", "setup.py", "setup.cfg", "tox.ini",
    ":(glob)**/*requirements*.txt", ":(glob)**/*requirements*.in", ":(glob)requirements/**",
)
DATE_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}")


def cutoff_of(date: str) -> str:
    """pip's --uploaded-prior-to value for a recipe date: the end of that day, UTC."""
    day = dt.date.fromisoformat(date) + dt.timedelta(days=1)
    return f"{day.isoformat()}T00:00:00Z"


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    bare = (repo / "HEAD").is_file() and not (repo / ".git").exists()
    base = ["git", f"--git-dir={repo}"] if bare else ["git", "-C", str(repo)]
    return subprocess.run([*base, *args], capture_output=True, text=True)


def commit_date(repo: str | Path, commit: str) -> str:
    """The commit's committer date (UTC day), or "" when it cannot be read."""
    done = _git(Path(repo), "show", "-s", "--format=%cI", commit)
    if done.returncode != 0 or not done.stdout.strip():
        return ""
    when = dt.datetime.fromisoformat(done.stdout.strip().replace("Z", "+00:00"))
    return when.astimezone(dt.timezone.utc).date().isoformat()


def dependency_date(repo: str | Path, commit: str | None) -> tuple[str, str]:
    """(date, why): the UTC day of the last commit up to `commit` that changed a dependency file;
    commit None reads the work tree, dated today when its dependency files have uncommitted changes."""
    repo = Path(repo)
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    if commit is None:
        status = _git(repo, "status", "--porcelain", "--", *DEPENDENCY_PATHSPECS)
        if status.returncode != 0:
            return today, "not a git repository: dated today"
        if status.stdout.strip():
            return today, "uncommitted changes to dependency files: dated today"
        commit = "HEAD"
    done = _git(repo, "log", "-1", "--format=%H %cI", commit, "--", *DEPENDENCY_PATHSPECS)
    if done.returncode != 0:
        return today, f"cannot read the history of {commit}: dated today"
    if not done.stdout.strip():
        date = commit_date(repo, commit)
        return (date, f"no commit changed a dependency file; dated by {commit[:12]} itself") if date else (today, "no history: dated today")
    sha, when = done.stdout.split()
    day = dt.datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(dt.timezone.utc).date().isoformat()
    return day, f"last change to a dependency file: commit {sha[:12]} on {day}"


def nearest_version_tag(repo: str | Path, commit: str | None) -> str:
    """The newest tag reachable from commit that looks like a version ("v1.2", "0.16.2"), or "".
    A tree copied without history gets it back, so setuptools-scm and versioneer report the
    release the code is near rather than 0.1.dev1 (which other packages' bounds refuse)."""
    done = _git(Path(repo), "describe", "--tags", "--abbrev=0", "--match", "*[0-9]*", commit or "HEAD")
    tag = done.stdout.strip()
    return tag if done.returncode == 0 and re.fullmatch(r"v?\d+(\.\d+)+", tag) else ""
