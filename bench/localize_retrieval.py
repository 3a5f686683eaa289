"""Retrieval-only localization on SWE-bench Lite: repo_index.search against plain BM25.

For every instance the repository is read in place at its base commit (no checkout) and the
problem statement is the query. Reported:
- file recall@1/3/5/10 of the gold patch's files, for `repo_index.search` and, measured in the
  same run, the pinned plain-BM25 baseline (bm25s defaults; documents = each .py file's path
  with "/" replaced by spaces, then its text; tokens [A-Za-z_][A-Za-z0-9_]+ lowercased);
- function recall@5/@10: the definitions enclosing the gold patch's changed lines (at the base
  commit) among the top retrieved definitions;
- the same figures for the development half of the repositories (where the ranker's settings
  were chosen) and the held-out half, and per repository.

The split is fixed by rule, chosen before any result was seen: repositories sorted by
"owner/name", the first six are the development half.

    python bench/localize_retrieval.py [--data FILE] [--repo-cache DIR] [--cache-dir DIR]
                                       [--repos a/b,c/d] [--instances ID,ID] [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np
import unidiff

from patchsmith.paths import cache_root
from patchsmith.repo_index import RepoIndex, build_index, search
from patchsmith.swebench_runner.dataset import Instance, load_instances
from patchsmith.swebench_runner.repos import find_mirror

KS = (1, 3, 5, 10)
FUNCTION_KS = (5, 10)
DEFAULT_DATA = Path("/work/shared/data/swebench_lite_test.jsonl")
DEFAULT_REPO_CACHE = Path("/work/repo-cache")
BASELINE_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")


# ---------------------------------------------------------------- reading a commit (baseline only)


class CommitReader:
    """Reads the .py files of a commit from a git directory with one long-lived `git cat-file`.

    Texts are kept by blob id, so consecutive base commits of one repository, which share most
    blobs, are read once. The baseline uses this, independent of repo_index.
    """

    def __init__(self, git_dir: Path):
        self.git_dir = git_dir
        self._cat = subprocess.Popen(
            ["git", "--git-dir", str(git_dir), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._texts: dict[str, str] = {}

    def python_files(self, commit: str) -> list[tuple[str, str]]:
        """(path, blob id) of every .py blob in `commit`, sorted by path."""
        out = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "ls-tree", "-r", "-z", commit],
            check=True, capture_output=True,
        ).stdout.decode("utf-8", "replace")
        files = []
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, path = entry.split("\t", 1)
            mode, kind, blob = meta.split()
            if kind == "blob" and mode != "120000" and path.endswith(".py"):
                files.append((path, blob))
        return sorted(files)

    def text(self, blob: str) -> str:
        if blob not in self._texts:
            assert self._cat.stdin and self._cat.stdout
            self._cat.stdin.write(blob.encode() + b"\n")
            self._cat.stdin.flush()
            header = self._cat.stdout.readline().split()
            size = int(header[2]) if len(header) == 3 else 0
            data = self._cat.stdout.read(size + 1)[:size] if len(header) == 3 else b""
            self._texts[blob] = data.decode("utf-8", "replace")
        return self._texts[blob]

    def close(self) -> None:
        if self._cat.stdin:
            self._cat.stdin.close()
        self._cat.wait()


class PlainBM25:
    """The pinned baseline, tokens cached by blob id across the commits of one repository."""

    def __init__(self, reader: CommitReader):
        self.reader = reader
        self._tokens: dict[str, list[str]] = {}

    def rank(self, commit: str, query: str) -> list[str]:
        files = self.reader.python_files(commit)
        corpus = []
        for path, blob in files:
            if blob not in self._tokens:
                self._tokens[blob] = [t.lower() for t in BASELINE_TOKEN.findall(self.reader.text(blob))]
            corpus.append([t.lower() for t in BASELINE_TOKEN.findall(path.replace("/", " "))] + self._tokens[blob])
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        scores = retriever.get_scores([t.lower() for t in BASELINE_TOKEN.findall(query)])
        order = np.argsort(-scores, kind="stable")[:max(KS)]
        return [files[i][0] for i in order]


# ---------------------------------------------------------------- gold locations


def gold_files(patch: str) -> list[str]:
    return sorted({(f.source_file[2:] if f.source_file.startswith("a/") else f.target_file[2:]) for f in unidiff.PatchSet(patch)})


def gold_lines(patch: str) -> dict[str, set[int]]:
    """Base-commit lines each file's hunks touch: removed lines, and for a pure insertion the
    line before it (the insertion point's neighbour in the old file)."""
    lines: dict[str, set[int]] = defaultdict(set)
    for patched in unidiff.PatchSet(patch):
        if patched.is_added_file:
            continue
        path = patched.source_file[2:]
        for hunk in patched:
            last_old = hunk.source_start
            for line in hunk:
                if line.is_removed:
                    lines[path].add(line.source_line_no)
                elif line.is_added:
                    lines[path].add(last_old)
                if line.source_line_no:
                    last_old = line.source_line_no
    return lines


def enclosing_definitions(index, path: str, lines: set[int]) -> set[tuple[str, str]]:
    """The innermost function/method (else class) enclosing each line: (path, qualname)."""
    entry = index.files.get(path)
    if entry is None:
        return set()
    found = set()
    for line in lines:
        around = [d for d in entry.definitions if d.start <= line <= d.end and d.kind != "variable"]
        if around:
            innermost = min(around, key=lambda d: d.end - d.start)
            found.add((path, innermost.qualname))
    return found


# ---------------------------------------------------------------- scoring


@dataclass
class Tally:
    """Recall sums for one group of instances."""

    n: int = 0
    failed: int = 0  # instances whose index could not be built (scored as misses)
    ours: dict[int, float] = field(default_factory=lambda: dict.fromkeys(KS, 0.0))
    baseline: dict[int, float] = field(default_factory=lambda: dict.fromkeys(KS, 0.0))
    n_functions: int = 0
    functions: dict[int, float] = field(default_factory=lambda: dict.fromkeys(FUNCTION_KS, 0.0))

    def add(self, other: "Tally") -> None:
        self.n += other.n
        self.failed += other.failed
        self.n_functions += other.n_functions
        for k in KS:
            self.ours[k] += other.ours[k]
            self.baseline[k] += other.baseline[k]
        for k in FUNCTION_KS:
            self.functions[k] += other.functions[k]

    def row(self, name: str) -> str:
        def fmt(values: dict[int, float], n: int) -> str:
            return " ".join(f"{values[k] / n:.2f}" if n else "  - " for k in values)

        return (f"{name:<26} {self.n:>4} | {fmt(self.ours, self.n)} | {fmt(self.baseline, self.n)} | "
                f"{self.n_functions:>4} {fmt(self.functions, self.n_functions)}")


def recall(ranked: list[str], gold: list[str], k: int) -> float:
    return len(set(ranked[:k]) & set(gold)) / len(gold)


def run_instance(instance: Instance, git_dir: Path, baseline: PlainBM25, cache_dir: Path | None) -> tuple[Tally, dict]:
    query = instance.problem_statement
    gold = gold_files(instance.patch)
    base_ranked = baseline.rank(instance.base_commit, query)

    started = time.perf_counter()
    try:
        index = build_index(git_dir, commit=instance.base_commit, cache_dir=cache_dir)
    except Exception as exc:  # noqa: BLE001 - counted as a miss and reported, never hidden
        print(f"{instance.instance_id}: indexing failed, counted as a miss: {exc!r}", file=sys.stderr)
        index = RepoIndex(str(git_dir), instance.base_commit)
    indexed = time.perf_counter()
    hits = search(index, query, k=max(KS))
    files_ranked = [h.path for h in hits if h.kind == "file"]
    definitions_ranked = [(h.path, h.qualname) for h in hits if h.kind == "definition"]
    searched = time.perf_counter()
    search(index, query, k=max(KS))  # again: the engine built by the first search is reused
    searched_again = time.perf_counter()

    tally = Tally(n=1, failed=int(not index.files))
    for k in KS:
        tally.ours[k] = recall(files_ranked, gold, k)
        tally.baseline[k] = recall(base_ranked, gold, k)
    gold_functions = set()
    for path, lines in gold_lines(instance.patch).items():
        gold_functions |= enclosing_definitions(index, path, lines)
    if gold_functions:
        tally.n_functions = 1
        for k in FUNCTION_KS:
            tally.functions[k] = len(set(definitions_ranked[:k]) & gold_functions) / len(gold_functions)
    record = {
        "instance_id": instance.instance_id, "gold": gold, "ours": files_ranked[:10], "baseline": base_ranked[:10],
        "gold_functions": sorted(gold_functions), "definitions": definitions_ranked[:10],
        "index_seconds": round(indexed - started, 3), "search_seconds": round(searched - indexed, 3),
        "search_again_seconds": round(searched_again - searched, 4),
    }
    return tally, record


# ---------------------------------------------------------------- main


def development_repos(repos: list[str]) -> set[str]:
    """The fixed split: the first half of the repositories in alphabetical order."""
    ordered = sorted(set(repos))
    return set(ordered[: len(ordered) // 2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repo-cache", type=Path, default=DEFAULT_REPO_CACHE)
    parser.add_argument("--cache-dir", type=Path, default=cache_root() / "index",
                        help="repo_index's on-disk cache (consecutive base commits share most blobs)")
    parser.add_argument("--repos", default="", help="comma-separated owner/name list (default: all)")
    parser.add_argument("--instances", default="", help="comma-separated instance ids (default: all)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many instances per repository")
    parser.add_argument("--json", type=Path, help="write per-instance rankings here")
    args = parser.parse_args(argv)

    instances = load_instances(args.data)
    dev = development_repos([i.repo for i in instances])
    if args.repos:
        instances = [i for i in instances if i.repo in set(args.repos.split(","))]
    if args.instances:
        instances = [i for i in instances if i.instance_id in set(args.instances.split(","))]
    by_repo: dict[str, list[Instance]] = defaultdict(list)
    for instance in sorted(instances, key=lambda i: (i.repo, i.created_at)):
        by_repo[instance.repo].append(instance)
    if args.limit:
        by_repo = {repo: items[: args.limit] for repo, items in by_repo.items()}
    args.cache_dir.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    per_repo: dict[str, Tally] = {}
    records = []
    index_seconds, search_seconds, again_seconds = [], [], []
    for repo, items in by_repo.items():
        git_dir = find_mirror(repo, args.repo_cache)
        reader = CommitReader(git_dir)
        baseline = PlainBM25(reader)
        per_repo[repo] = Tally()
        for instance in items:
            tally, record = run_instance(instance, git_dir, baseline, args.cache_dir)
            per_repo[repo].add(tally)
            records.append(record)
            index_seconds.append(record["index_seconds"])
            search_seconds.append(record["search_seconds"])
            again_seconds.append(record["search_again_seconds"])
        reader.close()
        print(per_repo[repo].row(repo), file=sys.stderr, flush=True)

    header = (f"{'group':<26} {'n':>4} | ours file recall@1 3 5 10 | plain BM25 @1 3 5 10 | "
              f"n_fn function recall@5 10")
    print(header)
    print("-" * len(header))
    groups = {"development half": Tally(), "held-out half": Tally(), "all": Tally()}
    for repo, tally in per_repo.items():
        print(tally.row(repo))
        groups["development half" if repo in dev else "held-out half"].add(tally)
        groups["all"].add(tally)
    print("-" * len(header))
    for name, tally in groups.items():
        if tally.n:
            print(tally.row(name))
    total = groups["all"]
    if total.n:
        ratios = " ".join(f"@{k} {(total.ours[k] - total.baseline[k]) / total.n:+.2f}" for k in KS)
        print(f"ours minus plain BM25 (all): {ratios}")
    print(f"development half (settings chosen there): {', '.join(sorted(dev))}")
    if total.failed:
        print(f"indexing failed on {total.failed} instance(s), counted as misses for ours (see stderr)")
    if search_seconds:
        print(f"per instance: build_index median {np.median(index_seconds):.2f} s; first search (builds the "
              f"BM25 indexes) median {np.median(search_seconds):.2f} s, max {max(search_seconds):.2f} s; "
              f"later searches median {np.median(again_seconds) * 1000:.0f} ms, max {max(again_seconds) * 1000:.0f} ms; "
              f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
