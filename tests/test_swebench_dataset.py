"""Dataset loading and the repository resolver."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from patchsmith.swebench_runner.dataset import load_instances
from patchsmith.swebench_runner.errors import SwebenchError
from patchsmith.swebench_runner.repos import find_mirror

ROW = {
    "repo": "toy/toy",
    "instance_id": "toy__toy-1",
    "base_commit": "abc",
    "version": "1.0",
    "patch": "",
    "test_patch": "",
    "FAIL_TO_PASS": ["tests/test_a.py::test_x"],
    "PASS_TO_PASS": [],
}


def test_lists_and_json_strings_load_alike(tmp_path: Path) -> None:
    encoded = dict(ROW, instance_id="toy__toy-2", FAIL_TO_PASS=json.dumps(ROW["FAIL_TO_PASS"]), PASS_TO_PASS="[]")
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text(json.dumps(ROW) + "\n\n" + json.dumps(encoded) + "\n")
    as_json = tmp_path / "d.json"
    as_json.write_text(json.dumps([ROW, encoded]))
    for path in (jsonl, as_json):
        first, second = load_instances(path)
        assert first.fail_to_pass == second.fail_to_pass == ("tests/test_a.py::test_x",)
        assert second.pass_to_pass == ()


def test_bad_rows_are_user_errors(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({k: v for k, v in ROW.items() if k != "base_commit"}) + "\n")
    with pytest.raises(SwebenchError, match="base_commit"):
        load_instances(path)
    path.write_text(json.dumps(dict(ROW, FAIL_TO_PASS="not json")) + "\n")
    with pytest.raises(SwebenchError, match="FAIL_TO_PASS"):
        load_instances(path)
    with pytest.raises(SwebenchError, match="cannot read"):
        load_instances(tmp_path / "absent.jsonl")


def _make_upstream(root: Path) -> Path:
    upstream = root / "upstream"
    upstream.mkdir()
    run = lambda *a: subprocess.run(["git", "-C", str(upstream), *a], check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (upstream / "f.txt").write_text("hi\n")
    run("add", "f.txt")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    return upstream


def test_find_mirror_layouts_and_clone(tmp_path: Path) -> None:
    upstream = _make_upstream(tmp_path)
    cache = tmp_path / "cache"
    # Absent: cloned (bare) from the remote into owner+name.
    found = find_mirror("toy/toy", cache, url_template=f"file://{upstream}")
    assert found == cache / "toy+toy" and (found / "HEAD").is_file()
    # A second call reuses it, even with an unreachable remote.
    assert find_mirror("toy/toy", cache, url_template="file:///nonexistent") == found
    # owner/name with a work tree (non-bare) resolves to its .git; owner__name via a symlink.
    (cache / "own").mkdir()
    (cache / "own" / "work").symlink_to(upstream)
    assert find_mirror("own/work", cache) == upstream / ".git"
    (cache / "a__b").symlink_to(found)
    assert find_mirror("a/b", cache) == found
    with pytest.raises(SwebenchError, match="cloning"):
        find_mirror("no/such", cache, url_template="file:///nonexistent/{repo}")
    assert not (cache / "no+such").exists()
