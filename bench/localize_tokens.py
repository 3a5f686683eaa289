"""Prompt tokens of the localization stage per issue, under default settings (a dry run).

For 20 SWE-bench Lite instances (every 15th by instance id, so all repositories take part), each
repository read at its base commit, this runs `localize` with a model that answers nothing: every
step then falls back to retrieval and the next step's prompt is built from that, exactly as
`patchsmith localize --dry-run` does. Tokens are counted with litellm's token_counter for --model.

Baseline, measured in the same run: an Agentless-style file-level prompt, the issue followed by
the tree of the repository's non-test .py files (Agentless's first prompt; about 6,000 tokens at
the median on Lite). The target is a median of at most 25,000 tokens for our whole stage.

    python bench/localize_tokens.py [--model openai/gpt-4o] [--every 15] [--repo-cache /work/repo-cache]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from patchsmith import repo_index  # noqa: E402
from patchsmith.localize import localize  # noqa: E402
from patchsmith.llm import DryRunModel  # noqa: E402
from patchsmith.paths import cache_root  # noqa: E402
from patchsmith.swebench_runner.dataset import load_instances  # noqa: E402
from patchsmith.swebench_runner.repos import find_mirror  # noqa: E402

DATA = Path("/work/shared/data/swebench_lite_test.jsonl")
TARGET_MEDIAN = 25_000


def is_test_path(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (
        any(part in ("test", "tests", "testing") for part in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def python_tree(paths: list[str]) -> str:
    """An indented tree of the given paths, folders first seen first, as a person would draw it."""
    lines: list[str] = []
    shown: set[tuple[str, ...]] = set()
    for path in sorted(paths):
        parts = path.split("/")
        for depth in range(len(parts) - 1):
            folder = tuple(parts[: depth + 1])
            if folder not in shown:
                shown.add(folder)
                lines.append("    " * depth + parts[depth] + "/")
        lines.append("    " * (len(parts) - 1) + parts[-1])
    return "\n".join(lines)


def agentless_style_prompt(issue: str, index: repo_index.RepoIndex) -> list[dict[str, str]]:
    tree = python_tree([p for p in index.files if p.endswith(".py") and not is_test_path(p)])
    text = (
        f"The issue:\n{issue}\n\nThe repository's structure:\n{tree}\n\n"
        "List the files to edit to fix the issue, at most five, most important first."
    )
    return [{"role": "user", "content": text}]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="openai/gpt-4o", help="whose tokenizer counts (litellm model string)")
    parser.add_argument("--every", type=int, default=15, help="take every Nth instance by id (15: 20 of 300)")
    parser.add_argument("--repo-cache", type=Path, default=Path("/work/repo-cache"))
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    instances = sorted(load_instances(args.data), key=lambda i: i.instance_id)[:: args.every]
    ours: list[int] = []
    baseline: list[int] = []
    print(f"{'instance':<36} {'files':>7} {'elements':>8} {'lines':>7} {'total':>7} {'agentless-style':>15}")
    started = time.monotonic()
    for instance in instances:
        git_dir = find_mirror(instance.repo, args.repo_cache)
        index = repo_index.build_index(str(git_dir), commit=instance.base_commit, cache_dir=cache_root() / "index")
        model = DryRunModel(args.model)
        result = localize(index, instance.problem_statement, model)
        steps = {r.step: r.prompt_tokens for r in result.reports}
        agentless = model.count_tokens(agentless_style_prompt(instance.problem_statement, index))
        ours.append(result.prompt_tokens)
        baseline.append(agentless)
        print(
            f"{instance.instance_id:<36} {steps['files']:>7} {steps['elements']:>8} {steps['lines']:>7} "
            f"{result.prompt_tokens:>7} {agentless:>15}",
            flush=True,
        )
    ours_median = statistics.median(ours)
    base_median = statistics.median(baseline)
    print()
    print(f"instances: {len(ours)}; tokens counted for {args.model}; {time.monotonic() - started:.0f} s")
    print(f"localization stage, all three prompts: median {ours_median:,.0f}, max {max(ours):,} tokens per issue")
    print(f"baseline, Agentless-style file-level prompt (issue + non-test .py tree): median {base_median:,.0f} tokens")
    print(f"ratio (ours / baseline, medians): {ours_median / base_median:.2f}")
    verdict = "met" if ours_median <= TARGET_MEDIAN else "NOT met"
    print(f"target median <= {TARGET_MEDIAN:,}: {verdict}")
    return 0 if ours_median <= TARGET_MEDIAN else 1


if __name__ == "__main__":
    sys.exit(main())
