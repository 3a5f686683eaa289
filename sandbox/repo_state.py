"""What a container does with the repository it holds: copy it in, record its base state, read
the diff against it, apply a diff, and reset.

A container made from an environment image holds the repository under `workdir`, committed to a
throw-away git repository at start ("the base state"). Candidates are applied on top, read back
as a diff, and wiped with `reset()`, so that one container validates many candidates in turn.
"""

from __future__ import annotations

import base64
import shlex
import uuid
from pathlib import Path

from patchsmith.sandbox import strays
from patchsmith.sandbox.errors import SandboxError
from patchsmith.sandbox.patching import (
    REPAIR_METHODS,
    ApplyResult,
    apply_script,
    read_apply_output,
)
from patchsmith.sandbox.repo_archives import git_archive, git_pack, tar_worktree

# Files tests and installs leave behind that are never part of a candidate's diff.
_ALWAYS_IGNORED = ("__pycache__/", "*.py[cod]", ".pytest_cache/", "*.egg-info/", ".eggs/", ".tox/", ".coverage", ".hypothesis/")
_GIT = "git -c user.name=patchsmith -c user.email=patchsmith@localhost -c core.quotepath=off -c advice.detachedHead=false"
STATE_DIR = "/tmp/.patchsmith"  # pid files and diffs, outside the repository



class RepositoryState:
    """The repository half of sandbox.container.Container, which supplies `workdir`,
    `has_base_state`, exec(), check(), put_file() and put_archive()."""

    # ---- the repository and its base state ----

    def copy_repo(self, repo: str | Path, commit: str = "HEAD") -> None:
        """Replace the repository files under workdir with the repository's files at commit, and
        record them as the base state. Untracked build products of an environment image stay.

        The commit's objects travel as one git pack, so the container's git never hashes the
        work tree; where the image already holds a snapshot of the repository, only the files
        that differ are written. A plain `git archive` copy is the fallback."""
        try:
            pack, commit_id = git_pack(repo, commit)
        except SandboxError:
            raise
        except Exception:  # noqa: BLE001 - packing is an optimisation; the archive path still works
            pack = None
        if pack is not None and self._checkout_pack(pack, commit_id):
            self.commit_base_state()
            return
        self.replace_files(git_archive(repo, commit))

    def copy_worktree(self, root: str | Path) -> None:
        """Copy a work tree's files as they are (tracked and untracked, not ignored) in, and
        record them as the base state."""
        self.replace_files(tar_worktree(Path(root)))

    def replace_files(self, archive: bytes) -> None:
        """Replace the repository files under workdir with the archive's, and record them as the
        base state. The tracked files of the image's own snapshot go first, so deleted files do
        not linger; its untracked build products stay."""
        self.exec(f"if [ -d .git ]; then {_GIT} ls-files -z | xargs -0 -r rm -f; fi")
        self.put_archive(self.workdir, archive)
        self.commit_base_state()

    def _checkout_pack(self, pack: bytes, commit_id: str) -> bool:
        pack_path = f"{STATE_DIR}/repo-{uuid.uuid4().hex[:8]}.pack"
        self.put_file(pack_path, pack)
        tree = f"{commit_id}^{{tree}}"
        script = f"""set -e
if [ -d .git ] && {_GIT} rev-parse -q --verify HEAD >/dev/null; then
  {_GIT} index-pack --stdin < {pack_path} >/dev/null
  # A two-tree merge writes only the files that differ from the image's snapshot.
  {_GIT} reset -q
  {_GIT} read-tree -m -u HEAD {tree}
else
  rm -rf .git; git init -q
  {_GIT} index-pack --stdin < {pack_path} >/dev/null
  {_GIT} read-tree {tree}
  {_GIT} checkout-index -a -f -u  # -u: the index learns the files' stat, so nothing is hashed again
fi
rm -f {pack_path}"""
        return self.exec(script).ok

    def commit_base_state(self) -> None:
        """Record what is under workdir now as the state reset() returns to."""
        exclude = "\\n".join(_ALWAYS_IGNORED)
        script = (
            f"set -e; [ -d .git ] || git init -q; mkdir -p .git/info; printf '{exclude}\\n' > .git/info/exclude; "
            f"{_GIT} add -A . && {_GIT} commit -q --allow-empty --no-verify -m 'patchsmith base' && {_GIT} tag -f patchsmith-base >/dev/null"
        )
        self.check(script, "recording the repository's base state")
        self.has_base_state = True

    def diff(self) -> str:
        """The current changes against the base state, new files included, as a unified diff."""
        self._require_base()
        result = self.check(f"{_GIT} add -A . && {_GIT} diff --cached --no-color --no-ext-diff patchsmith-base", "reading the diff")
        return result.stdout

    def reset(self) -> None:
        """Return to the base state: tracked files restored, new files removed (ignored build
        products such as compiled extensions stay, as they were made by the environment), and
        every process an earlier command left running killed, whatever session it made."""
        self._require_base()
        self.check(f"{strays.kill_all_marked_but_mine()}; {_GIT} reset -q --hard patchsmith-base && {_GIT} clean -fdq",
                   "resetting the repository")

    def _require_base(self) -> None:
        if self.has_base_state:
            return
        # An environment image may carry the base state it was built with.
        if self.exec(f"{_GIT} rev-parse -q --verify patchsmith-base^{{commit}}").ok:
            self.has_base_state = True
            return
        raise RuntimeError("the container has no base state; start it with a repo or call commit_base_state()")

    def apply_diff(self, diff: str) -> ApplyResult:
        """Apply a unified diff with sandbox.patching's REPAIR_METHODS: `git apply`, then
        `git apply --3way`, then `patch --fuzz`. A method that fails leaves the files as they were."""
        text = diff if diff.endswith("\n") else diff + "\n"
        p = shlex.quote(f"{STATE_DIR}/candidate-{uuid.uuid4().hex[:8]}.diff")
        if len(text) < 64_000:
            # Small diffs ride in the command itself: one round trip to the engine, not three.
            encoded = base64.b64encode(text.encode()).decode()
            write = f"mkdir -p {STATE_DIR} && echo {encoded} | base64 -d > {p}"
        else:
            self.put_file(p.strip("'"), text)
            write = "true"
        # One exec for every attempt (sandbox.patching says how a failed one is undone).
        script = f"{write}\ntrap 'rm -f {p}' EXIT\n{apply_script(p, REPAIR_METHODS, git=_GIT)}\n"
        result = self.exec(script)
        return read_apply_output(result.stdout if "@@" in result.stdout else result.output)
