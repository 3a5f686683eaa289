"""What loading litellm in the background saves: the time until both the repository index and the
model gateway are ready, with the gateway imported first (serial) or in a thread while the
index is built (overlapped, `patchsmith.preflight.start_loading_litellm`).

Each measurement runs in a fresh process (so litellm is really imported) with an empty index
cache (so the index is really built). No model is called.

    python bench/litellm_preload.py [--repo PATH] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = r"""
import json, sys, time
started = time.monotonic()
mode, repo, cache = sys.argv[1:4]
if mode == "overlapped":
    from patchsmith.preflight import start_loading_litellm
    loading = start_loading_litellm()
else:
    import patchsmith.llm
gateway_ready = time.monotonic() - started
from patchsmith import repo_index
index = repo_index.build_index(repo, cache_dir=cache)
index_ready = time.monotonic() - started
if mode == "overlapped":
    loading.join()
    import patchsmith.llm
both_ready = time.monotonic() - started
print(json.dumps({"index_ready": index_ready, "both_ready": both_ready, "files": len(index.files)}))
"""


def measure(mode: str, repo: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="preload-bench-") as cache:
        done = subprocess.run([sys.executable, "-c", PROBE, mode, str(repo), cache],
                              capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode:
        sys.exit(f"the {mode} probe failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"serial": [], "overlapped": []}
    for _ in range(args.repeat):
        for mode in runs:  # alternate, so load on the machine falls on both alike
            runs[mode].append(measure(mode, args.repo))
    load = os.getloadavg()[0]
    print(f"repository {args.repo} ({runs['serial'][0]['files']} files), {os.cpu_count()} cores, load average {load:.1f}")
    medians = {}
    for mode, rows in runs.items():
        both = [r["both_ready"] for r in rows]
        index = [r["index_ready"] for r in rows]
        medians[mode] = statistics.median(both)
        print(f"{mode:>10}: index and gateway ready {medians[mode]:.2f} s (median of {len(both)}: "
              f"{', '.join(f'{b:.2f}' for b in both)}); index ready after {statistics.median(index):.2f} s")
    saved = medians["serial"] - medians["overlapped"]
    print(f"overlap saves {saved:.2f} s ({saved / medians['serial']:.0%} of the serial time)")


if __name__ == "__main__":
    main()
