"""bench/edit_roundtrip.py judges each pass by its own expectation: only exact SEARCH sides with
line hints must all apply; without hints, a SEARCH side found twice is rightly rejected."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LITE = Path("/work/shared/data/swebench_lite_test.jsonl")
MIRRORS = Path("/work/mirrors")
# Its one hunk's old lines occur twice in sympy/sets/sets.py: only the line hint tells them apart.
AMBIGUOUS_WITHOUT_HINT = "sympy__sympy-16988"


@pytest.mark.skipif(not LITE.is_file() or not (MIRRORS / "sympy+sympy").exists(), reason="needs the Lite split and the sympy mirror")
def test_the_expected_rejection_without_line_hints_does_not_fail_the_benchmark(tmp_path: Path) -> None:
    rows = [line for line in LITE.read_text().splitlines() if json.loads(line)["instance_id"] == AMBIGUOUS_WITHOUT_HINT]
    data = tmp_path / "one.jsonl"
    data.write_text(rows[0] + "\n")
    ran = subprocess.run([sys.executable, str(ROOT / "bench" / "edit_roundtrip.py"), "--data", str(data),
                          "--repo-cache", str(MIRRORS), "--seed", "1"], capture_output=True, text=True, timeout=300)
    passes = ran.stdout.split("\n\n")
    with_hints = next(p for p in passes if p.startswith("exact SEARCH sides, with line hints"))
    without_hints = next(p for p in passes if p.startswith("exact SEARCH sides, without line hints"))
    assert "correct 1/1" in with_hints
    assert "correct 0/1, rejected 1, wrong 0" in without_hints and "is not unique" in without_hints
    assert ran.returncode == 0, ran.stdout + ran.stderr
