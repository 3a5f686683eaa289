"""What loading litellm in the background saves: the time until the repository index, the
sandbox environment (examples/shopcart's, image already built: a lookup and a container start)
and the model gateway are all ready, in three orders:
- serial: import the gateway, index, start the environment;
- overlapped: load the gateway in a thread (`patchsmith.preflight.start_loading_litellm`) from the
  start, index and start the environment meanwhile;
- after-index: index first, then load the gateway in a thread while the environment starts. The
  index forks its parse workers, and forking while another thread is importing can leave a child
  waiting on a lock no thread will release; this order never forks while the thread runs.

Each measurement runs in a fresh process (so litellm is really imported) with an empty index
cache (so the index is really built). No model is called. Needs Docker and the bookworm base image.

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
from pathlib import Path
started = time.monotonic()
mode, repo, cache, example = sys.argv[1:5]
from patchsmith.preflight import start_loading_litellm
if mode == "serial":
    import patchsmith.llm
elif mode == "overlapped":
    loading = start_loading_litellm()
from patchsmith import repo_index
index = repo_index.build_index(repo, cache_dir=str(Path(cache) / "index"))
index_ready = time.monotonic() - started
if mode == "after-index":
    loading = start_loading_litellm()
from patchsmith.workspace import RecipeWorkspace
box = RecipeWorkspace(example, None).start(Path(cache))
box.close()
if mode != "serial":
    loading.join()
import patchsmith.llm
both_ready = time.monotonic() - started
print(json.dumps({"index_ready": index_ready, "both_ready": both_ready, "files": len(index.files)}))
"""

MODES = ("serial", "overlapped", "after-index")


def measure(mode: str, repo: Path) -> dict:
    example = Path(__file__).resolve().parent.parent / "examples" / "shopcart"
    with tempfile.TemporaryDirectory(prefix="preload-bench-") as cache:
        done = subprocess.run([sys.executable, "-c", PROBE, mode, str(repo), cache, str(example)],
                              capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode:
        sys.exit(f"the {mode} probe failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
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
        print(f"{mode:>11}: all ready {medians[mode]:.2f} s (median of {len(both)}: "
              f"{', '.join(f'{b:.2f}' for b in both)}); index ready after {statistics.median(index):.2f} s")
    for mode in MODES[1:]:
        saved = medians["serial"] - medians[mode]
        print(f"{mode} saves {saved:.2f} s ({saved / medians['serial']:.0%} of the serial time)")


if __name__ == "__main__":
    main()
