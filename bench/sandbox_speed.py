"""Sandbox speed against plain Docker, measured in the same run (issue 3's targets).

    python bench/sandbox_speed.py [--repeat N] [--repo GITDIR --commit REV]

1. start + exec `python -c pass` + removal through the sandbox, median, vs
   `docker run --rm IMAGE python -c pass` from the docker CLI            (target <= 1.2x)
2. reset between candidates vs starting a fresh container from the same image with the
   repository copied in                                                  (target <= 0.2x)
3. apply a 20-line diff + run a 10-test pytest file in a warm container vs the same pytest
   run by `docker exec` directly                                         (target <= 1.5x)
4. a test that sleeps forever: killed within its limit + 2 s, and no container left behind.

The image is the environment image of tests/fixtures/sandbox_calc (built once, then reused).
--repo/--commit copy a bigger repository (for example a SWE-bench mirror) in for figure 2.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from patchsmith.sandbox import Container, build_env_image, run_tests  # noqa: E402
from patchsmith.sandbox.engine import client  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "sandbox_calc"
PYTEST = "python -m pytest -rA -p no:cacheprovider tests/test_calc.py"


def fixture_repo(folder: Path) -> tuple[Path, str]:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    subprocess.run(["cp", "-r", f"{FIXTURE}/.", str(folder)], check=True)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "fixture"]):
        subprocess.run(["git", *args], cwd=folder, check=True, env=env)
    return folder, subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True).stdout.strip()


def twenty_line_diff() -> str:
    """A 20-line change to calc/__init__.py: ten helper functions appended (10 lines) and a
    docstring block added (10 lines) - every test still passes."""
    added = "".join(f"+def helper_{i}(x): return x + {i}\n" for i in range(10))
    doc = "".join(f"+# note {i}\n" for i in range(10))
    return (
        "--- a/calc/__init__.py\n+++ b/calc/__init__.py\n"
        "@@ -1,3 +1,13 @@\n" + doc + " import six\n \n \n"
        "@@ -13,3 +23,13 @@ def mul(a, b):\n def describe(value):\n"
        "     # six is the real dependency installed from PyPI into the environment image\n"
        "     return six.text_type(value)\n" + added
    )


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def report(name: str, ours: list[float], baseline: list[float], target: float, better: str = "<=") -> bool:
    a, b = statistics.median(ours), statistics.median(baseline)
    ratio = a / b
    ok = ratio <= target
    print(f"{name}\n    sandbox  median {a * 1000:8.1f} ms  (n={len(ours)})\n    baseline median {b * 1000:8.1f} ms  (n={len(baseline)})\n"
          f"    ratio {ratio:.3f}  (target {better} {target})  {'OK' if ok else 'MISSED'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--repo", default=None, help="a git directory to copy in for the reset figure (default: the fixture)")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()

    from patchsmith.paths import cache_root

    cache_dir = Path(args.cache_dir) if args.cache_dir else cache_root() / "sandbox"
    results = []
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        repo, commit = fixture_repo(Path(tmp))
        started = time.perf_counter()
        image = build_env_image(repo, commit, cache_dir=cache_dir, log_path=Path(tmp) / "build.log").tag
        print(f"image {image} ready in {time.perf_counter() - started:.1f}s")

        # 1. start + exec + removal, interleaved with the baseline so noise hits both alike.
        ours, base = [], []
        for _ in range(args.repeat):
            base.append(timed(lambda: subprocess.run(["docker", "run", "--rm", image, "python", "-c", "pass"], check=True)))

            def through_sandbox():
                with Container(image) as c:
                    assert c.exec(["python", "-c", "pass"]).exit_code == 0

            ours.append(timed(through_sandbox))
        results.append(report("1. start + exec `python -c pass` + remove", ours, base, 1.2))

        # 2. reset vs a fresh container with the repository copied in.
        big_repo, big_commit = (args.repo, args.commit) if args.repo else (repo, commit)
        ours, base = [], []
        with Container(image).start(big_repo, big_commit) as warm:
            for _ in range(args.repeat):
                base.append(timed(lambda: Container(image).start(big_repo, big_commit).close()))
                # What a candidate leaves: an edited file and a new one.
                warm.exec("echo '# edit' >> $(git ls-files '*.py' | head -1) && echo x > new_file.txt")
                ours.append(timed(warm.reset))
            assert warm.diff() == ""
        # The fresh container's time includes its removal, as it would be removed too.
        results.append(report(f"2. reset between candidates ({'--repo ' + str(args.repo) if args.repo else 'fixture repo'})", ours, base, 0.2))

        # 3. apply a 20-line diff + 10-test pytest in a warm container vs docker exec pytest.
        diff = twenty_line_diff()
        ours, base = [], []
        with Container(image).start(repo, commit) as warm:
            for _ in range(args.repeat):
                base.append(timed(lambda: subprocess.run(["docker", "exec", "-w", "/testbed", warm.id, "bash", "-c", PYTEST], check=True, capture_output=True)))

                def apply_and_test():
                    applied = warm.apply_diff(diff)
                    assert applied.applied, applied.message
                    run = run_tests(warm, "python -m pytest -rA -p no:cacheprovider", ["tests/test_calc.py"], timeout=120)
                    assert len(run.passed) == 10, run.log[-2000:]

                ours.append(timed(apply_and_test))
                warm.reset()
        results.append(report("3. apply a 20-line diff + run a 10-test pytest file (warm container)", ours, base, 1.5))

        # 4. a test that sleeps forever.
        def our_containers() -> int:
            return len(client().api.containers(all=True, filters={"label": "patchsmith.sandbox=1", "ancestor": image}))

        before = our_containers()
        limit = 5.0
        with Container(image).start(repo, commit) as c:
            c.put_file("tests/test_forever.py", "import time\n\ndef test_forever():\n    while True:\n        time.sleep(1)\n")
            started = time.perf_counter()
            run = run_tests(c, "python -m pytest -rA -p no:cacheprovider", ["tests/test_forever.py"], timeout=limit)
            elapsed = time.perf_counter() - started
        after = our_containers()
        ok = run.timed_out and elapsed <= limit + 2 and after == before
        print(f"4. a test that sleeps forever, limit {limit:.0f}s\n    killed after {elapsed:.2f}s (target <= {limit + 2:.0f}s), "
              f"timed_out={run.timed_out}; sandbox containers of this image before {before}, after {after}  {'OK' if ok else 'MISSED'}")
        results.append(ok)
    print(f"{sum(results)} of {len(results)} targets met")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
