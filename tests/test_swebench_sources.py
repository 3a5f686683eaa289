"""Snapshots and tree changes from a git directory, including a blob the mirror lacks."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from patchsmith.swebench_runner.sources import SourceIncomplete, missing_blobs, snapshot, tree_change
from patchsmith.swebench_runner.specs import directives_of, spec_for

ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True, env=ENV).stdout.strip()


@pytest.fixture()
def two_commits(tmp_path: Path) -> tuple[Path, str, str]:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "keep.txt").write_text("same\n")
    (root / "gone.txt").write_text("deleted later\n")
    (root / "big.dat").write_text("large table v1\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "one")
    old = git(root, "rev-parse", "HEAD")
    (root / "gone.txt").unlink()
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    os.symlink("keep.txt", root / "link")
    (root / "big.dat").write_text("large table v2\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "two")
    return root / ".git", old, git(root, "rev-parse", "HEAD")


def members(archive: bytes) -> dict[str, tarfile.TarInfo]:
    return {m.name: m for m in tarfile.open(fileobj=io.BytesIO(archive))}


def test_tree_change_carries_modes_links_and_deletions(two_commits) -> None:
    git_dir, old, new = two_commits
    change = tree_change(git_dir, old, new)
    assert change.deleted == ["gone.txt"]
    entries = members(change.archive)
    assert set(entries) == {"big.dat", "link", "run.sh"}  # keep.txt did not change
    assert entries["run.sh"].mode == 0o755 and entries["link"].issym() and entries["link"].linkname == "keep.txt"


def test_missing_blob_is_recovered_or_reported(two_commits) -> None:
    git_dir, old, new = two_commits
    blob = git(git_dir.parent, "rev-parse", f"{new}:big.dat")
    (git_dir / "objects" / blob[:2] / blob[2:]).unlink()  # as in a snapshot that dropped large blobs
    assert missing_blobs(git_dir, new) == ["big.dat"]
    with pytest.raises(SourceIncomplete, match="big.dat"):
        snapshot(git_dir, new)
    with pytest.raises(SourceIncomplete, match="big.dat"):
        tree_change(git_dir, old, new)
    recover = {"big.dat": lambda: (b"recovered\n", "a test source")}
    whole = snapshot(git_dir, new, recover)
    assert whole.recovered == {"big.dat": "a test source"}
    tar = tarfile.open(fileobj=io.BytesIO(whole.archive))
    assert tar.extractfile("big.dat").read() == b"recovered\n" and "keep.txt" in tar.getnames()
    assert tree_change(git_dir, old, new, recover).recovered == {"big.dat": "a test source"}


def test_directives_and_python_mapping() -> None:
    test_patch = (
        "diff --git a/tests/migrations/test_commands.py b/tests/migrations/test_commands.py\n"
        "diff --git a/tests/migrations/data/fixture.json b/tests/migrations/data/fixture.json\n"
    )
    assert directives_of("django/django", test_patch) == ["migrations.test_commands"]
    assert directives_of("sympy/sympy", test_patch.replace("tests/migrations", "sympy/core/tests")) == ["sympy/core/tests/test_commands.py"]
    assert spec_for("django/django", "3.0").python_wanted == "3.6" and spec_for("django/django", "3.0").python == "3.9"
    assert spec_for("django/django", "5.0").suite == "bookworm"
    assert spec_for("pydata/xarray", "0.12").python_wanted == "3.10"


def test_unittest_description_shim_restores_the_older_rule_for_suites_recorded_on_36(tmp_path: Path) -> None:
    from patchsmith.swebench_runner.compat_shims import compat_shims

    shims = compat_shims(spec_for("django/django", "3.0"))
    assert compat_shims(spec_for("django/django", "4.1")) == {}
    assert compat_shims(spec_for("django/django", "4.0")) == {}  # its recorded ids follow the newer rule
    site = tmp_path / "site"
    site.mkdir()
    for name, text in shims.items():
        (site / name).write_text(text)
    probe = (
        "import unittest\n"
        "class T(unittest.TestCase):\n"
        "    def test_a(self):\n        '''\n        Opens with a newline.\n        '''\n"
        "    def test_b(self):\n        '''One line.'''\n"
        "print(T('test_a').shortDescription(), '|', T('test_b').shortDescription())\n"
    )
    # The .pth file runs when its folder is a site directory, as the venv's site-packages is.
    run = f"import site; site.addsitedir({str(site)!r})\n" + probe
    shown = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == "None | One line."


def test_collections_abc_shim_serves_the_aliases_without_a_warning(tmp_path: Path) -> None:
    import subprocess
    import sys

    from patchsmith.swebench_runner.compat_shims import compat_shims

    assert compat_shims(spec_for("astropy/astropy", "5.1")) == {}
    for name, text in compat_shims(spec_for("astropy/astropy", "1.3")).items():
        (tmp_path / name).write_text(text)
    probe = (f"import site; site.addsitedir({str(tmp_path)!r}); import warnings; warnings.simplefilter('error'); "
             "import collections; print(collections.MutableSequence.__module__)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "collections.abc", done.stderr


def test_code_type_shim_takes_the_37_constructor_and_stays_the_real_type(tmp_path: Path) -> None:
    import subprocess
    import sys

    from patchsmith.swebench_runner.compat_shims import compat_shims

    assert compat_shims(spec_for("scikit-learn/scikit-learn", "0.22")) == {}
    for name, text in compat_shims(spec_for("scikit-learn/scikit-learn", "0.21")).items():
        (tmp_path / name).write_text(text)
    probe = f"""
import site; site.addsitedir({str(tmp_path)!r})
import copyreg, pickle, types
import patchsmith_code_type_37_signature as shim
code = (lambda x: x).__code__
assert types.CodeType is not type(code) and isinstance(code, types.CodeType)
assert {{types.CodeType: "ours"}}[type(code)] == "ours" and {{type(code): "real"}}[types.CodeType] == "real"
assert types.CodeType.replace is type(code).replace
assert types.CodeType(*[getattr(code, a) for a in ("co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_nlocals",
    "co_stacksize", "co_flags", "co_code", "co_consts", "co_names", "co_varnames", "co_filename", "co_name", "co_qualname",
    "co_firstlineno", "co_linetable", "co_exceptiontable", "co_freevars", "co_cellvars")]) == code  # today's form passes through
seen = []
shim._CODE = lambda *args: seen.append(args)
types.CodeType(*range(15))
assert seen == [(0, 0, *range(1, 15))], seen  # 3.7's order: posonlyargcount goes in second
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
