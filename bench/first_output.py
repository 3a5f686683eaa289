"""How soon `patchsmith solve` says something: seconds from start to its first progress line, to
the end of litellm's import, and to its exit, in a fresh process each time.

The run is stopped on purpose at the model check (no key is set), so no model is called; Docker
must answer. The baseline, measured in the same run, is a bare `import patchsmith.llm` in a fresh
process: before the head start, `solve` printed nothing until that import had finished.

    python bench/first_output.py [--repo PATH] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shopcart"


def one_run(repo: Path, cache: str) -> dict[str, float]:
    env = {**os.environ, "PATCHSMITH_CACHE_DIR": cache, "OPENAI_API_KEY": "", "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "patchsmith.cli", "solve", "--repo", str(repo),
                                "--issue", "the bulk discount is wrong", "--model", "openai/gpt-4o",
                                "--out", str(Path(cache) / "run")], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               text=True, env=env)
    seen: dict[str, float] = {}
    for line in process.stderr:
        now = time.monotonic() - started
        if not line.startswith("import time:"):
            seen.setdefault("first line", now)
        elif re.search(r"\|\s+litellm$", line.rstrip()):
            seen.setdefault("litellm imported", now)
    process.wait()
    seen["exit"] = time.monotonic() - started
    return seen


def git_copy(source: Path, dest: Path) -> Path:
    """The example as a git repository of its own (solve asks for one)."""
    import shutil

    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".git", "__pycache__"))
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=bench", "-c", "user.email=bench@localhost",
                                                     "commit", "-q", "-m", "example"]):
        subprocess.run(["git", *command], cwd=dest, check=True)
    return dest


def bare_import() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import patchsmith.llm"], check=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=EXAMPLE)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="first-output-") as cache:  # a cold index cache each time
            repo = git_copy(args.repo, Path(cache) / "repo")
            runs.append(one_run(repo, cache))
    baseline = statistics.median(bare_import() for _ in range(args.repeat))
    for key in ("first line", "litellm imported", "exit"):
        values = [run[key] for run in runs if key in run]
        print(f"{key:<17} median {statistics.median(values):6.2f} s  ({', '.join(f'{v:.2f}' for v in values)})")
    print(f"baseline: a bare `import patchsmith.llm` takes a median {baseline:.2f} s in a fresh process "
          "(no output came before it ended, before the head start)")


if __name__ == "__main__":
    main()
