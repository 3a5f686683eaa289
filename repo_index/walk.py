"""Which files an index covers: a working tree (honouring .gitignore) or a commit read without checkout."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple
from fnmatch import translate
from functools import lru_cache

from patchsmith.repo_index.languages import language_name, language_of
from patchsmith.repo_index.model import RepoIndexError
from patchsmith.repo_index.settings import IndexSettings


@dataclass(frozen=True)
class Source:
    root: str  # absolute path of what was asked for
    git_dir: str | None  # the repository's git directory, when there is one
    commit: str | None  # full commit id when reading a commit, None for a working tree


class Candidate(NamedTuple):  # a tuple: thousands are made on every run, and a dataclass costs more to build
    path: str  # repository-relative, "/"-separated
    size: int
    blob_id: str | None = None  # known up front when reading a commit
    stat_key: tuple[int, int, int] | None = None  # (mtime_ns, size, inode) of a working-tree file


def blob_id_of(data: bytes) -> str:
    """The id git gives these bytes as a blob, computed without git."""
    digest = hashlib.sha1(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


_NO_GIT = "git is not installed (or not on PATH); repo_index needs it to list and read files."


def _git(args: list[str], cwd: str | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True)
    except FileNotFoundError:
        raise RepoIndexError(_NO_GIT) from None


def open_source(root: str, commit: str | None) -> Source:
    """Check what `root` is and resolve `commit`; every problem here is the user's, in one sentence.

    Plain `git rev-parse` rather than GitPython here: this is on the path of every warm index,
    and importing GitPython alone costs a fifth of a warm run's budget.
    """
    path = os.path.abspath(os.path.expanduser(str(root)))
    if not os.path.exists(path):
        raise RepoIndexError(f"{root} does not exist.")
    if not os.path.isdir(path):
        raise RepoIndexError(f"{root} is not a folder.")
    if commit is None and os.path.isdir(os.path.join(path, ".git")):
        return Source(path, os.path.join(path, ".git"), None)  # a working tree's top: no need to ask git
    out = _git(["-C", path, "rev-parse", "--is-bare-repository", "--absolute-git-dir"])
    if out.returncode != 0:
        if commit is not None:
            raise RepoIndexError(f"{root} is not a git repository, so --commit {commit} cannot be read from it.")
        return Source(path, None, None)
    bare, git_dir = out.stdout.decode("utf-8", errors="surrogateescape").splitlines()[:2]
    if commit is None and (bare == "true" or os.path.realpath(git_dir) == os.path.realpath(path)):
        commit = "HEAD"  # a git directory has no working tree: read what HEAD names
    if commit is None:
        return Source(path, git_dir, None)
    out = _git(["--git-dir", git_dir, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{commit}^{{commit}}"])
    if out.returncode != 0:
        raise RepoIndexError(f"{commit} is not a commit of the repository at {root}.")
    return Source(path, git_dir, out.stdout.decode().strip())


@lru_cache(maxsize=8)
def _glob_matcher(globs: tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a file name matches any glob. Most globs are "*.ext": those become one set lookup
    (ignoring case); the rest one compiled expression. Calling fnmatch per glob per file is slow."""
    suffixes = frozenset(g[1:].lower() for g in globs if g.startswith("*.") and not any(c in g[2:] for c in "*?[."))
    others = [g for g in globs if g[1:].lower() not in suffixes]
    pattern = re.compile("|".join(translate(g) for g in others)).match if others else None

    def matches(name: str) -> bool:
        dot = name.rfind(".")
        if dot >= 0 and name[dot:].lower() in suffixes:
            return True
        return pattern is not None and pattern(name) is not None

    return matches


@lru_cache(maxsize=8)
def _skip_rule(settings: IndexSettings) -> Callable[[str], bool]:
    """Whether a path is left out of the index (vendored folder, skipped name, unparsed language).

    Made once per settings: hashing the settings for every path would cost more than the test.
    Folders are decided once each and remembered (a re-index in the same process asks again)."""
    vendored = frozenset(settings.vendored_dirs)
    name_skipped = _glob_matcher(settings.skip_globs)
    only_parsed, languages = settings.only_parsed, settings.languages
    folder_vendored: dict[str, bool] = {"": False}

    def skipped(path: str) -> bool:
        folder, _, name = path.rpartition("/")
        inside = folder_vendored.get(folder)
        if inside is None:
            inside = folder_vendored[folder] = not vendored.isdisjoint(folder.split("/"))
        if inside or name_skipped(name):
            return True
        if only_parsed:
            language = language_of(path)
            return not language or language_name(language) not in languages
        return False

    return skipped


def start_listing(source: Source, settings: IndexSettings) -> Callable[[], Iterator[list[Candidate]]]:
    """Start git listing the files; the returned function waits for it and yields the files to
    index in parts (a working tree's tracked files, then its untracked ones), before binary
    detection (which needs the bytes). The caller loads the cache meanwhile: git runs in its own
    process, on the other core."""
    empty = None
    if source.commit is not None:
        listings = [["--git-dir", source.git_dir, "ls-tree", "-r", "-l", "-z", "--full-tree", source.commit]]
    elif source.git_dir is not None:
        # Two listings at once: the tracked files (git reads them from its index, at once) and the
        # untracked ones that are not ignored (git walks every folder: most of the wait). The
        # tracked ones are stat'ed while git is still walking.
        listings = [["ls-files", "-z", "--cached"], ["ls-files", "-z", "--others", "--exclude-standard"]]
    else:
        # A folder outside git: borrow an empty repository so git itself applies the .gitignore rules.
        empty = tempfile.TemporaryDirectory(prefix="repo-index-")
        for part in ("objects", "refs"):  # the least git accepts as a repository (cheaper than git init)
            os.mkdir(os.path.join(empty.name, part))
        with open(os.path.join(empty.name, "HEAD"), "w") as head:
            head.write("ref: refs/heads/main\n")
        listings = [["--git-dir", empty.name, "--work-tree", ".", "ls-files", "-z", "--others", "--exclude-standard"]]
    processes = []
    try:
        for args in listings:
            processes.append(subprocess.Popen(["git", *args], cwd=source.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    except FileNotFoundError:
        raise RepoIndexError(_NO_GIT) from None

    def output_of(process: subprocess.Popen) -> bytes:
        stdout, stderr = process.communicate()
        if process.returncode != 0:
            what = f"commit {source.commit}" if source.commit else f"the files of {source.root}"
            raise RepoIndexError(f"git could not list {what}: {stderr.decode(errors='replace').strip()}")
        return stdout

    def parts() -> Iterator[list[Candidate]]:
        try:
            if source.commit is not None:
                yield _commit_candidates(output_of(processes[0]), settings)
                return
            for process in processes:
                paths = dict.fromkeys(p for p in output_of(process).decode("utf-8", errors="surrogateescape").split("\0") if p)
                yield _working_tree_candidates(source, paths, settings)
        finally:
            for process in processes:
                if process.poll() is None:  # the other listing, when one failed
                    process.kill()
                    process.wait()
            if empty is not None:
                empty.cleanup()

    return parts


def _commit_candidates(listing: bytes, settings: IndexSettings) -> list[Candidate]:
    found, skipped = [], _skip_rule(settings)
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, blob_id, size = meta.split()
        # Regular files only: a symlink (120000) is never followed, a submodule (160000) is not ours.
        if kind != b"blob" or mode not in (b"100644", b"100755"):
            continue
        path = raw_path.decode("utf-8", errors="surrogateescape")
        # A snapshot may lack large blobs (git prints their size as "BAD"): such a file is absent.
        if not size.isdigit() or int(size) > settings.max_file_bytes or skipped(path):
            continue
        found.append(Candidate(path, int(size), blob_id.decode()))
    found.sort()
    return found


def _working_tree_candidates(source: Source, paths, settings: IndexSettings) -> list[Candidate]:
    root = source.root + os.sep
    real_root = os.path.realpath(source.root)
    lstat, is_link, is_file, limit = os.lstat, stat.S_ISLNK, stat.S_ISREG, settings.max_file_bytes
    found, skipped = [], _skip_rule(settings)
    for path in paths:
        if skipped(path):
            continue
        full = root + path
        try:
            info = lstat(full)
            if is_link(info.st_mode):
                target = os.path.realpath(full)
                if os.path.commonpath([real_root, target]) != real_root:
                    continue  # never follow a link out of the tree
                info = os.stat(target)
        except (OSError, ValueError):
            continue  # vanished since listing, or a dangling link
        if is_file(info.st_mode) and info.st_size <= limit:
            found.append(Candidate(path, info.st_size, None, (info.st_mtime_ns, info.st_size, info.st_ino)))
    return found


def read_blobs(git_dir: str, blob_ids: list[str]) -> list[bytes | None]:
    """Contents of many blobs with one `git cat-file --batch`, in the order asked (None: absent from the store)."""
    if not blob_ids:
        return []
    out = subprocess.run(
        ["git", "--git-dir", git_dir, "cat-file", "--batch"],
        input="\n".join(blob_ids).encode() + b"\n",
        capture_output=True,
        check=True,
    ).stdout
    contents = []
    at = 0
    for _ in blob_ids:
        header_end = out.index(b"\n", at)
        header = out[at:header_end].split()
        if header[-1] == b"missing":
            contents.append(None)
            at = header_end + 1
            continue
        size = int(header[2])
        contents.append(out[header_end + 1 : header_end + 1 + size])
        at = header_end + 1 + size + 1  # the content is followed by a newline
    return contents
