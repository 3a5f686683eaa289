"""The quick commands as a user pipes them: `| head` ends quietly, and an ambiguous name is asked about."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import make_git_repo


def big_repo(root: Path) -> Path:
    body = "".join(f"    total += {n}\n" for n in range(30_000))
    files = {
        "pkg/__init__.py": "",
        "pkg/long.py": f"def long_sum():\n    total = 0\n{body}    return total\n",
        "pkg/models.py": "class Order:\n    def save(self):\n        return 1\n\n\nclass Invoice:\n    def save(self):\n        return 2\n",
    }
    make_git_repo(root, files)
    return root


def piped(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=cwd, capture_output=True, text=True)


def test_head_on_show_and_search_ends_without_a_traceback(tmp_path):
    repo = big_repo(tmp_path / "repo")
    cli = f"{sys.executable} -m patchsmith.cli"
    shown = piped(f"{cli} show --repo . pkg/long.py:long_sum | head -2", repo)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0].startswith("# pkg/long.py:1-")
    assert "Traceback" not in shown.stderr and "BrokenPipe" not in shown.stderr
    searched = piped(f"{cli} search --repo . 'total long sum' -k 50 --json | head -c 10", repo)
    assert "Traceback" not in searched.stderr and "BrokenPipe" not in searched.stderr


def test_show_asks_which_of_several_definitions(tmp_path):
    repo = big_repo(tmp_path / "repo")
    done = subprocess.run([sys.executable, "-m", "patchsmith.cli", "show", "--repo", str(repo), "pkg/models.py:save"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "pkg/models.py:Invoice.save" in done.stderr and "pkg/models.py:Order.save" in done.stderr
    assert done.stdout == ""
    one = subprocess.run([sys.executable, "-m", "patchsmith.cli", "show", "--repo", str(repo), "pkg/models.py:Invoice.save"],
                         capture_output=True, text=True)
    assert one.returncode == 0 and "return 2" in one.stdout and "return 1" not in one.stdout


def test_a_failed_clone_says_why(tmp_path):
    done = subprocess.run([sys.executable, "-m", "patchsmith.cli", "solve", "--repo", f"file://{tmp_path}/absent.git",
                           "--issue", "it breaks", "--model", "openai/x"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PATCHSMITH_CACHE_DIR": str(tmp_path / "c")})
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert f"could not clone file://{tmp_path}/absent.git: " in done.stderr
    assert "does not appear to be a git repository" in done.stderr and not done.stderr.rstrip().endswith("'")
