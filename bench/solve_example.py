"""Time `patchsmith solve` on examples/shopcart once its images exist, beside the validation work
alone (the candidates' runs in the sandbox), measured in the same run.

The model is the scripted one the tests use (a local OpenAI-compatible server behind the real
litellm path), so the figures measure patchsmith, not a model. Target: the pipeline's own
overhead (total minus validation) under 30 s.

    python bench/solve_example.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def one_run(work: Path, number: int) -> tuple[float, float]:
    from patchsmith.issue_source import read_issue
    from patchsmith.pipeline import SolveRequest, solve
    from tests.shopcart_model import shopcart_model
    from tests.test_solve import copy_example, scripted_settings

    repo = copy_example(work / f"shopcart-{number}")
    title, body = read_issue(str(repo / "ISSUE.md"))
    out = work / f"run-{number}"
    with shopcart_model() as server:
        outcome = solve(SolveRequest(repo=repo, issue_title=title, issue_body=body, settings=scripted_settings(server.url),
                                     out_dir=out))
    if outcome.patch is None:
        raise SystemExit(f"the example run found no fix: {outcome.failure}: {outcome.failure_detail}")
    validation = sum(json.loads(p.read_text()).get("validation", {}).get("seconds", 0.0) for p in (out / "candidates").glob("*.json"))
    return outcome.seconds, validation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "scripted")
    with tempfile.TemporaryDirectory(prefix="patchsmith-bench-") as tmp:
        work = Path(tmp)
        warm_total, _ = one_run(work, 0)  # builds (or finds) the images
        print(f"warm-up run (images built or found): {warm_total:.1f} s")
        totals, validations = [], []
        for number in range(1, args.runs + 1):
            total, validation = one_run(work, number)
            totals.append(total)
            validations.append(validation)
            print(f"run {number}: total {total:.2f} s, validation {validation:.2f} s, overhead {total - validation:.2f} s")
    total, validation = statistics.median(totals), statistics.median(validations)
    overhead = total - validation
    print(f"median over {args.runs} runs: total {total:.2f} s; validation alone (baseline) {validation:.2f} s; "
          f"pipeline overhead {overhead:.2f} s (target < 30 s): {'PASS' if overhead < 30 else 'FAIL'}")


if __name__ == "__main__":
    main()
