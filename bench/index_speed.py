"""How fast repo_index indexes a real repository, against an ast baseline measured in the same run.

Repositories: django at the base commit of django__django-11099 and sympy at the base commit of
sympy__sympy-20590, read from the repo cache into a scratch working tree (a git repository made
from `git archive`, outside this project).

Measured, each in a fresh process so that peak memory is the measurement's own:
- ast baseline: read every .py file, ast.parse it, list its classes (with their methods) and
  functions with their spans and lines, the way Agentless builds its repository structure (one
  splitlines per file; Agentless's own code splits the file again for every element, which is
  slower, so this baseline is the stricter one);
- cold: build_index with an empty cache; once over every file the index covers ("all files",
  python and javascript parsed, the rest listed), once over the .py files only (the baseline's
  files, the like-for-like comparison);
- warm: build_index with everything cached, the first call of a fresh process (cache read from
  disk) and a second call in the same process;
- `patchsmith index` as a whole process on a warm cache (interpreter start and imports included);
- re-index after 1% of the indexed source files change (a line appended to each), in a fresh
  process (cache read from disk) and in the process that indexed just before (cache in memory);
- for information: cold and warm over the same commit read from the bare repository (--commit).

Targets: cold <= 0.35 x baseline (both repositories, 2 cores), warm django <= 0.2 s in-process,
`patchsmith index` warm <= 1 s, re-index after a 1% change <= 0.1 x cold, in-process as the warm
index is measured (the fresh-process figure is printed for information).

    python bench/index_speed.py [--repeat 3] [--repos django,sympy] [--scratch /work/scratch/index_speed]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = Path("/work/shared/data/swebench_lite_test.jsonl")
INSTANCES = {"django": "django__django-11099", "sympy": "sympy__sympy-20590"}
COLD_RATIO_TARGET = 0.35
WARM_TARGET_SECONDS = 0.2  # django, in-process
CLI_TARGET_SECONDS = 1.0
REINDEX_RATIO_TARGET = 0.1
CHANGED_SHARE = 0.01


# ---- measurements, each run in a child process -------------------------------------------------


def _peaks() -> dict:
    """Peak memory of this process and of its largest child (a parsing worker or git)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"peak_mib": own.ru_maxrss // 1024, "peak_child_mib": children.ru_maxrss // 1024}


def _cpu() -> float:
    """CPU seconds used by this process and its children so far. Reported next to wall time
    because this machine is shared: when other work takes cores, a parallel run's wall time
    suffers more than a serial baseline's, while CPU time does not depend on who else runs."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure_ast(tree: str) -> dict:
    """The baseline: an Agentless-style structure of every .py file."""
    cpu = _cpu()
    started = time.perf_counter()
    structure: dict[str, dict] = {}
    elements = 0
    for folder, dirs, names in os.walk(tree):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
            try:
                module = ast.parse(text)
            except (SyntaxError, ValueError):
                continue
            lines = text.splitlines()
            classes, functions, methods = [], [], set()
            for node in ast.walk(module):
                if isinstance(node, ast.ClassDef):
                    members = [
                        {"name": n.name, "start_line": n.lineno, "end_line": n.end_lineno, "text": lines[n.lineno - 1 : n.end_lineno]}
                        for n in node.body
                        if isinstance(n, ast.FunctionDef)
                    ]
                    methods.update(m["name"] for m in members)
                    classes.append({"name": node.name, "start_line": node.lineno, "end_line": node.end_lineno,
                                    "text": lines[node.lineno - 1 : node.end_lineno], "methods": members})
                    elements += 1 + len(members)
                elif isinstance(node, ast.FunctionDef) and node.name not in methods:
                    functions.append({"name": node.name, "start_line": node.lineno, "end_line": node.end_lineno,
                                      "text": lines[node.lineno - 1 : node.end_lineno]})
                    elements += 1
            structure[os.path.relpath(path, tree)] = {"classes": classes, "functions": functions, "text": lines}
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "cpu_seconds": _cpu() - cpu, "files": len(structure), "elements": elements, **_peaks()}


def _settings(py_only: bool):
    from patchsmith.repo_index import IndexSettings

    return IndexSettings(languages=("python",), only_parsed=True) if py_only else IndexSettings()


def measure_index(tree: str, cache_dir: str, py_only: bool, commit: str | None, calls: int, change: list[str] | None = None) -> dict:
    """build_index `calls` times; with `change`, those files are changed after the first call
    (and restored at the end), so the second call is a re-index in the same process."""
    from patchsmith.repo_index import build_index

    settings = _settings(py_only)
    runs = []
    originals: dict[Path, bytes] = {}
    try:
        for number in range(calls):
            if change and number == 1:
                originals = change_files(Path(tree), change, b"# changed in-process by bench/index_speed.py")
            runs.append(_timed_index(build_index, tree, commit, cache_dir, settings))
    finally:
        restore(originals)
    return {"runs": runs, **_peaks()}


def _timed_index(build_index, tree, commit, cache_dir, settings) -> dict:
    cpu = _cpu()
    started = time.perf_counter()
    index = build_index(tree, commit=commit, cache_dir=cache_dir, settings=settings)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "cpu_seconds": _cpu() - cpu, **{k: index.stats[k] for k in ("files", "definitions", "parsed", "cache_hits")}}


def child_main(argv: list[str]) -> None:
    kind, payload = argv[0], json.loads(argv[1])
    result = measure_ast(payload["tree"]) if kind == "ast" else measure_index(**payload)
    print(json.dumps(result))


def in_child(kind: str, **payload) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, json.dumps(payload)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"measurement {kind} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- the run ---------------------------------------------------------------------------------


def instance(instance_id: str):
    from patchsmith.swebench_runner.dataset import load_instances

    for item in load_instances(DATA):
        if item.instance_id == instance_id:
            return item
    raise SystemExit(f"{instance_id} is not in {DATA}")


def prepare_tree(git_dir: Path, commit: str, tree: Path) -> None:
    """A git working tree of `commit`, made once: git archive, then a commit of its own."""
    if (tree / ".git").is_dir():
        return
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    archive = subprocess.Popen(["git", "--git-dir", str(git_dir), "archive", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(tree)], stdin=archive.stdout, check=True)
    archive.wait()
    git = ["git", "-C", str(tree), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", f"{commit} as archived"], check=True)


def cli_seconds(tree: Path, cache_root: str) -> tuple[float, float]:
    """Wall and CPU seconds of `patchsmith index TREE` as a whole process."""
    command = shutil.which("patchsmith")
    argv = [command] if command else [sys.executable, "-m", "patchsmith.cli"]
    cpu = _cpu()
    started = time.perf_counter()
    subprocess.run([*argv, "index", "--repo", str(tree)], env={**os.environ, "PATCHSMITH_CACHE_DIR": cache_root}, check=True, capture_output=True)
    return time.perf_counter() - started, _cpu() - cpu


def files_to_change(tree: Path, cache_root: str) -> list[str]:
    """1% of the indexed files, drawn from the parsed source files (a fixed seed)."""
    from patchsmith.repo_index import build_index

    index = build_index(tree, cache_dir=os.path.join(cache_root, "index"))
    sources = sorted(path for path, entry in index.files.items() if entry.language)
    return random.Random(20590).sample(sources, max(1, round(CHANGED_SHARE * len(index.files))))


def change_files(tree: Path, paths: list[str], line: bytes) -> dict[Path, bytes]:
    """Append a line to each file; return their original bytes."""
    originals = {}
    for path in paths:
        full = tree / path
        originals[full] = full.read_bytes()
        full.write_bytes(originals[full] + b"\n" + line + b"\n")
    return originals


def restore(originals: dict[Path, bytes]) -> None:
    for full, data in originals.items():
        full.write_bytes(data)


def fmt(seconds: float) -> str:
    return f"{seconds:.3f} s"


def bench_repo(name: str, repo_cache: Path, scratch: Path, repeat: int) -> dict:
    from patchsmith.swebench_runner.repos import find_mirror

    item = instance(INSTANCES[name])
    commit = item.base_commit
    git_dir = find_mirror(item.repo, repo_cache)
    tree = scratch / f"{name}-{commit[:12]}"
    prepare_tree(git_dir, commit, tree)
    print(f"\n== {name} at {commit[:12]} ({INSTANCES[name]}), {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, {tree}")

    work = Path(tempfile.mkdtemp(prefix=f"index-speed-{name}-", dir=scratch))
    baseline, cold_all, cold_py = [], [], []
    last_cache = ""
    try:
        for round_ in range(repeat):
            baseline.append(in_child("ast", tree=str(tree)))
            last_cache = str(work / f"all-{round_}")
            cold_all.append(in_child("index", tree=str(tree), cache_dir=os.path.join(last_cache, "index"), py_only=False, commit=None, calls=1))
            cold_py.append(in_child("index", tree=str(tree), cache_dir=str(work / f"py-{round_}" / "index"), py_only=True, commit=None, calls=1))
        warm = in_child("index", tree=str(tree), cache_dir=os.path.join(last_cache, "index"), py_only=False, commit=None, calls=2)
        cli = [cli_seconds(tree, last_cache) for _ in range(repeat)]
        changed = files_to_change(tree, last_cache)
        reindexes = []
        for round_ in range(repeat):  # new bytes each round, so each round parses the changed files again
            originals = change_files(tree, changed, b"# changed by bench/index_speed.py, round %d" % round_)
            try:
                reindexes.append(in_child("index", tree=str(tree), cache_dir=os.path.join(last_cache, "index"), py_only=False, commit=None, calls=1))
            finally:
                restore(originals)
        reindex = sorted(reindexes, key=lambda x: x["runs"][0]["seconds"])[len(reindexes) // 2]  # the median round
        # The same in one process: a warm index, then other new bytes in the same files, then the re-index.
        reindex_here = in_child("index", tree=str(tree), cache_dir=os.path.join(last_cache, "index"), py_only=False, commit=None, calls=2, change=changed)
        commit_cold = in_child("index", tree=str(git_dir), cache_dir=str(work / "commit" / "index"), py_only=False, commit=commit, calls=1)
        commit_warm = in_child("index", tree=str(git_dir), cache_dir=str(work / "commit" / "index"), py_only=False, commit=commit, calls=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base_s = statistics.median(b["seconds"] for b in baseline)
    cold_all_s = statistics.median(c["runs"][0]["seconds"] for c in cold_all)
    cold_py_s = statistics.median(c["runs"][0]["seconds"] for c in cold_py)
    b0, ca, cp = baseline[-1], cold_all[-1], cold_py[-1]
    base_cpu = statistics.median(b["cpu_seconds"] for b in baseline)
    cpu_all = statistics.median(c["runs"][0]["cpu_seconds"] for c in cold_all)
    cpu_py = statistics.median(c["runs"][0]["cpu_seconds"] for c in cold_py)
    print(f"ast baseline (.py files):   {fmt(base_s)}  median of {repeat} {[round(b['seconds'], 3) for b in baseline]}, cpu {base_cpu:.2f} s; "
          f"{b0['files']} files, {b0['elements']} classes/functions; peak {b0['peak_mib']} MiB")
    for label, seconds, cpu, runs, last in (
        (".py files only", cold_py_s, cpu_py, cold_py, cp),
        ("all files", cold_all_s, cpu_all, cold_all, ca),
    ):
        print(f"cold index, {label + ':':<15} {fmt(seconds)}  median of {repeat} {[round(c['runs'][0]['seconds'], 3) for c in runs]}, "
              f"cpu {cpu:.2f} s in all processes; {last['runs'][0]['files']} files, {last['runs'][0]['definitions']} definitions; "
              f"peak {last['peak_mib']} MiB main, {last['peak_child_mib']} MiB largest worker; "
              f"ratio {seconds / base_s:.2f} x baseline (cpu: {cpu / base_cpu:.2f})")
    w1, w2 = warm["runs"]
    print(f"warm index (in-process):    {fmt(w1['seconds'])} first call of a fresh process (cpu {w1['cpu_seconds']:.3f} s), {fmt(w2['seconds'])} second call; "
          f"{w1['cache_hits']} of {w1['files']} from cache; peak {warm['peak_mib']} MiB")
    cli_s = statistics.median(wall for wall, _ in cli)
    print(f"`patchsmith index`, warm:   {fmt(cli_s)}  whole process, median of {repeat} {[round(wall, 3) for wall, _ in cli]}, "
          f"cpu {statistics.median(cpu for _, cpu in cli):.3f} s")
    r, h = reindex["runs"][0], reindex_here["runs"][1]
    print(f"re-index after 1% change:   {fmt(r['seconds'])} (cpu {r['cpu_seconds']:.3f} s) in a fresh process, median of {repeat} "
          f"{[round(x['runs'][0]['seconds'], 3) for x in reindexes]}, {len(changed)} files changed, "
          f"{r['parsed']} parsed, {r['cache_hits']} from cache; ratio {r['seconds'] / cold_all_s:.3f} x cold (all files)")
    print(f"re-index, same process:     {fmt(h['seconds'])} (cpu {h['cpu_seconds']:.3f} s) after a warm index in that process, "
          f"{h['parsed']} parsed; ratio {h['seconds'] / cold_all_s:.3f} x cold (all files)")
    cc, cw = commit_cold["runs"][0], commit_warm["runs"][0]
    print(f"commit read from the bare repository: cold {fmt(cc['seconds'])} ({cc['files']} files), warm {fmt(cw['seconds'])}; "
          f"peak {commit_cold['peak_mib']} MiB main")
    return {
        "name": name,
        "cold_ratio_py": cold_py_s / base_s,
        "cold_ratio_all": cold_all_s / base_s,
        "warm": w1["seconds"],
        "cli": cli_s,
        "reindex_ratio": r["seconds"] / cold_all_s,
        "reindex_here_ratio": h["seconds"] / cold_all_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the cold and baseline measurements (medians reported)")
    parser.add_argument("--repos", default="django,sympy")
    parser.add_argument("--repo-cache", type=Path, default=Path("/work/repo-cache"))
    parser.add_argument("--scratch", type=Path, default=Path("/work/scratch/index_speed"))
    args = parser.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    results = [bench_repo(name, args.repo_cache, args.scratch, args.repeat) for name in args.repos.split(",")]

    print(f"\n== targets (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for r in results:
        checks = [
            (f"cold .py files <= {COLD_RATIO_TARGET} x baseline", r["cold_ratio_py"] <= COLD_RATIO_TARGET, f"{r['cold_ratio_py']:.2f}"),
            (f"cold all files <= {COLD_RATIO_TARGET} x baseline", r["cold_ratio_all"] <= COLD_RATIO_TARGET, f"{r['cold_ratio_all']:.2f}"),
            (f"`patchsmith index` warm <= {CLI_TARGET_SECONDS} s", r["cli"] <= CLI_TARGET_SECONDS, fmt(r["cli"])),
            # Measured in-process, as the issue measures the warm index: the index before the change
            # is in memory, as in a runner going from commit to commit.
            (f"re-index after 1% <= {REINDEX_RATIO_TARGET} x cold (in-process)", r["reindex_here_ratio"] <= REINDEX_RATIO_TARGET, f"{r['reindex_here_ratio']:.3f}"),
        ]
        if r["name"] == "django":
            checks.append((f"warm in-process <= {WARM_TARGET_SECONDS} s", r["warm"] <= WARM_TARGET_SECONDS, fmt(r["warm"])))
        for text, ok, figure in checks:
            print(f"{r['name']:<7} {'PASS' if ok else 'FAIL'}  {text}: {figure}")
        print(f"{r['name']:<7} info  re-index after 1% in a fresh process (cache read from disk, grammars compiled): "
              f"{r['reindex_ratio']:.3f} x cold")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        sys.exit(main())
