"""Grading fidelity: does `gold` resolve and `empty` not, instance by instance, per repository?

    python -m swebench_runner.fidelity GOLD_RUN_DIR EMPTY_RUN_DIR [GOLD_RUN_DIR EMPTY_RUN_DIR ...] [--dataset FILE]

An instance agrees when its gold report says resolved and its empty report says not resolved.
An instance whose environment did not build (or that could not be graded) counts as not built.
With several pairs of runs (stages, reruns), a later pair's report of an instance replaces an
earlier one's.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def _reports(run_dir: Path, model: str) -> dict[str, dict]:
    found = {}
    for path in (run_dir / model).glob("*/report.json"):
        try:
            found.update(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return found


def fidelity_table(pairs: list[tuple[Path, Path]], repo_of: dict[str, str]) -> list[tuple[str, int, int, int, list[str]]]:
    """Rows (repo, attempted, built and graded both ways, agreeing, disagreeing ids)."""
    gold: dict[str, dict] = {}
    empty: dict[str, dict] = {}
    ids: set[str] = set()
    for gold_dir, empty_dir in pairs:
        gold.update(_reports(gold_dir, "gold"))
        empty.update(_reports(empty_dir, "empty"))
        for run_dir in (gold_dir, empty_dir):
            failures = run_dir / "env-failures.json"
            if failures.is_file():
                recorded = json.loads(failures.read_text())
                ids |= set(recorded.get("environment", {})) | set(recorded.get("errors", {}))
    ids |= set(gold) | set(empty)
    attempted: dict[str, set[str]] = defaultdict(set)
    for iid in ids:
        attempted[repo_of.get(iid, "?")].add(iid)
    rows = []
    for repo in sorted(attempted):
        ids = attempted[repo]
        graded = [iid for iid in ids if iid in gold and iid in empty]
        agree = [iid for iid in graded if gold[iid]["resolved"] and not empty[iid]["resolved"]]
        rows.append((repo, len(ids), len(graded), len(agree), sorted(set(graded) - set(agree))))
    return rows


def main() -> int:
    from patchsmith.swebench_runner.dataset import load_instances

    parser = argparse.ArgumentParser(description="gold/empty agreement per repository")
    parser.add_argument("runs", type=Path, nargs="+", metavar="GOLD_RUN EMPTY_RUN", help="pairs of run folders")
    parser.add_argument("--dataset", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "swebench_lite_test.jsonl")
    args = parser.parse_args()
    repo_of = {i.instance_id: i.repo for i in load_instances(args.dataset)}
    if len(args.runs) % 2:
        parser.error("run folders come in pairs: a gold run, then an empty run")
    rows = fidelity_table(list(zip(args.runs[::2], args.runs[1::2])), repo_of)
    print("| repository | instances run | built and graded | agree (gold resolves, empty does not) | disagree |")
    print("|---|---|---|---|---|")
    for repo, attempted, graded, agree, disagree in rows:
        print(f"| {repo} | {attempted} | {graded} | {agree} | {', '.join(disagree) or '-'} |")
    total = [sum(row[i] for row in rows) for i in (1, 2, 3)]
    print(f"| all | {total[0]} | {total[1]} | {total[2]} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
