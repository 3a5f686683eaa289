"""A tiny SWE-bench-format dataset for the Ray tests: repository fixture/ray, three instances in two
environments (versions 1.0 and 2.0), whose build needs no network.

The repository carries the wheels its environment installs (pip, setuptools, wheel, pytest and
its dependencies) and its `[tool.patchsmith.sandbox]` table points pip at them, because the test
nodes' dockerds have a bridge of their own and no iptables rules, so their containers reach nothing outside. The wheels
are downloaded once per session from PyPI on the host.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import make_git_repo

WHEELS = ("pip==23.3.2", "setuptools==69.5.1", "wheel==0.48.0", "pytest==8.3.3", "packaging==26.4", "pluggy==1.7.0", "iniconfig==2.3.1")
SANDBOX_TABLE = """\
[tool.patchsmith.sandbox]
date = "none"
python = "3.11"
setup = ["pip install --no-index --find-links /testbed/wheels pytest==8.3.3"]
test_command = "python -m pytest -rA -p no:cacheprovider"
env = { PIP_NO_INDEX = "1", PIP_FIND_LINKS = "/testbed/wheels" }
"""
FILES = {
    "pyproject.toml": SANDBOX_TABLE,
    "fix/__init__.py": "def one():\n    return 0\n\n\ndef two():\n    return 0\n\n\ndef three():\n    return 0\n",
    "tests/test_fix.py": "import fix\n\n\ndef test_import():\n    assert fix\n",
}
NAMES = {1: "one", 2: "two", 3: "three"}
VERSIONS = {1: "1.0", 2: "1.0", 3: "2.0"}  # two environments: 1.0 holds two instances


def download_wheels(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--dest", str(folder), "--only-binary=:all:",
                    "--python-version", "3.11", "--implementation", "py", *WHEELS], check=True, capture_output=True)
    return folder


def gold_patch(number: int) -> str:
    lines = FILES["fix/__init__.py"].splitlines()
    start = 3 * (number - 1) + (number - 1)  # each function is 2 lines plus 2 blank ones
    body = [f" {line}" for line in lines[start:start + 2]]
    return (f"diff --git a/fix/__init__.py b/fix/__init__.py\n--- a/fix/__init__.py\n+++ b/fix/__init__.py\n"
            f"@@ -{start + 1},2 +{start + 1},2 @@\n{body[0]}\n-    return 0\n+    return {number}\n")


def test_patch(number: int, sleep: float) -> str:
    return ("diff --git a/tests/test_fix.py b/tests/test_fix.py\n--- a/tests/test_fix.py\n+++ b/tests/test_fix.py\n"
            "@@ -3,3 +3,8 @@ import fix\n \n def test_import():\n     assert fix\n+\n+\n"
            f"+def test_{NAMES[number]}():\n+    __import__('time').sleep({sleep})\n+    assert fix.{NAMES[number]}() == {number}\n")


def make_dataset(root: Path, wheels: Path, sleep: float = 0, table: str = SANDBOX_TABLE) -> tuple[Path, Path]:
    """(dataset file, repo cache holding fixture+ray); table is the repository's sandbox recipe."""
    work = root / "work"
    work.mkdir(parents=True)
    shutil.copytree(wheels, work / "wheels")
    # Fixed dates: the same commit, so the same image tags, in every run (the system engine's images are reused).
    saved = {key: os.environ.get(key) for key in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE")}
    os.environ.update(GIT_AUTHOR_DATE="2024-01-01T00:00:00+00:00", GIT_COMMITTER_DATE="2024-01-01T00:00:00+00:00")
    try:
        commit = make_git_repo(work, {**FILES, "pyproject.toml": table})
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    cache = root / "mirrors"
    cache.mkdir()
    (cache / "fixture+ray").symlink_to(work)
    rows = [{"repo": "fixture/ray", "instance_id": f"fixture__ray-{n}", "base_commit": commit, "version": VERSIONS[n],
             "patch": gold_patch(n), "test_patch": test_patch(n, sleep), "environment_setup_commit": commit,
             "problem_statement": f"fix.{NAMES[n]}() should return {n}.",
             "FAIL_TO_PASS": json.dumps([f"tests/test_fix.py::test_{NAMES[n]}"]),
             "PASS_TO_PASS": json.dumps(["tests/test_fix.py::test_import"])} for n in (1, 2, 3)]
    dataset = root / "dataset.jsonl"
    dataset.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return dataset, cache


def floating_table(index_url: str) -> str:
    """A recipe whose requirement `floaty` floats: whatever release the index at index_url serves."""
    from urllib.parse import urlsplit

    return (SANDBOX_TABLE.replace('pytest==8.3.3"]', 'pytest==8.3.3", "pip install floaty"]')
            .replace('PIP_FIND_LINKS = "/testbed/wheels"',
                     f'PIP_FIND_LINKS = "/testbed/wheels {index_url}", PIP_TRUSTED_HOST = "{urlsplit(index_url).hostname}"'))


def write_wheel(folder: Path, name: str, version: str) -> Path:
    """A pure-Python wheel of `name` whose module holds VERSION = version."""
    import base64
    import hashlib
    import zipfile

    info = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": f"VERSION = {version!r}\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: ray_fixture\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
                     f"{len(text.encode())}\n" for path, text in files.items()) + f"{info}/RECORD,,\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in {**files, f"{info}/RECORD": record}.items():
            wheel.writestr(member, text)
    return path


class FolderServer:
    """A folder served over HTTP on every address of the machine (pip reads its listing as find-links)."""

    def __init__(self, folder: Path):
        import functools
        import http.server
        import threading

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

        handler = functools.partial(Quiet, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("0.0.0.0", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FolderServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def patchsmith(*args: str, env: dict | None = None, timeout: float = 900, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "patchsmith.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=cwd)


def reports(run_dir: Path, model: str = "gold") -> dict[str, dict]:
    return {path.parent.name: json.loads(path.read_text())[path.parent.name]
            for path in sorted((run_dir / model).glob("*/report.json"))}


# What differs between two gradings of one prediction: times, where it ran, what was built then.
VARYING = {"test_seconds", "eval_seconds", "step_seconds", "node", "instance_image_built", "environment_built_now",
           "environment_pulled", "test_output"}


def comparable(report: dict) -> dict:
    kept = {key: value for key, value in report.items() if key not in VARYING}
    # pytest prints its own timing; the outcome lines are what grading read
    kept["test_lines"] = sorted(line for line in report["test_output"].splitlines() if line.startswith(("PASSED", "FAILED")))
    return kept
