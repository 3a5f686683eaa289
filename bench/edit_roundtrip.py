"""Edit round trip: SWE-bench Lite gold patches as SEARCH/REPLACE answers, applied by repair/.

For every instance, each hunk of the gold patch becomes one SEARCH/REPLACE block (SEARCH: the
hunk's old lines, i.e. its changed lines with the hunk's own context of at most 3 lines; REPLACE:
its new lines; the hint: the hunk's first old line). The blocks are written in our edit format,
parsed, applied to the files at the base commit, turned into a diff, and that diff is applied
with `git apply`; the result must equal, byte for byte, `git apply` of the gold patch.

Then the same with every SEARCH side's indentation and trailing whitespace disturbed by a seeded
random process: each instance ends applied correctly, rejected (with the applier's reason), or
applied wrongly (applied, but not equal to gold). None may be wrong.

Then once more with both sides dedented alike (a snippet pasted out of its context, which the
applier must re-indent) and the SEARCH side disturbed line by line on top. Every pass runs with
line hints and without them. The timing compares our whole path (parse,
apply, checks, diff, normalized diff) with the baseline, `git apply` of the gold patch, in the same run.

    python bench/edit_roundtrip.py [--seed N] [--limit N]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from unidiff import PatchSet

from patchsmith.repair import Edit, apply_answer, apply_edits, format_edits
from patchsmith.swebench_runner.repos import find_mirror

DATA = Path("/work/shared/data/swebench_lite_test.jsonl")
REPO_CACHE = Path("/work/repo-cache")


def read_blobs(git_dir: Path, specs: list[str]) -> list[bytes]:
    """File contents for "<commit>:<path>" specs, through one `git cat-file --batch`."""
    request = "".join(spec + "\n" for spec in specs).encode()
    out = subprocess.run(
        ["git", "--git-dir", str(git_dir), "cat-file", "--batch"], input=request, capture_output=True, check=True
    ).stdout
    blobs, pos = [], 0
    for spec in specs:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        if header[-1] == b"missing":
            raise SystemExit(f"{spec} is missing from {git_dir}")
        size = int(header[2])
        blobs.append(out[header_end + 1 : header_end + 1 + size])
        pos = header_end + 1 + size + 1
    return blobs


def hunk_edits(patch_text: str) -> list[Edit]:
    edits = []
    for patched in PatchSet(patch_text):
        for hunk in patched:
            old = "".join(line.value for line in hunk if line.is_context or line.is_removed)
            new = "".join(line.value for line in hunk if line.is_context or line.is_added)
            edits.append(Edit(path=patched.path, search=old, replace=new, line_hint=hunk.source_start))
    return edits


def git_apply(base: dict[str, bytes], patch: str, folder: Path) -> tuple[dict[str, bytes], float] | str:
    """Files after `git apply` of `patch` onto `base` in a fresh folder, and the seconds git took."""
    folder.mkdir(parents=True)
    for path, data in base.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    started = time.perf_counter()
    run = subprocess.run(
        ["git", "apply", "--whitespace=nowarn", "-"],
        input=patch.encode("utf-8", errors="surrogateescape"),
        cwd=folder,
        capture_output=True,
    )
    seconds = time.perf_counter() - started
    if run.returncode:
        return run.stderr.decode(errors="replace").strip()
    files = {}
    for path in folder.rglob("*"):
        if path.is_file():
            files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return files, seconds


INDENT_UNITS = (" ", "  ", "    ", "\t")


def disturb_line(line: str, rng: random.Random) -> str:
    body = line.rstrip("\n")
    indent = body[: len(body) - len(body.lstrip())]
    text = body.strip()
    trailing = body[len(indent) + len(text) :] if text else ""
    roll = rng.random()
    if roll < 0.15:
        indent += rng.choice(INDENT_UNITS)
    elif roll < 0.30 and indent:
        indent = indent[: rng.randrange(len(indent))]
    elif roll < 0.40:
        indent = indent.replace("    ", "\t")
    elif roll < 0.55:
        trailing += rng.choice(INDENT_UNITS)
    elif roll < 0.65:
        trailing = ""
    return indent + text + trailing + "\n"


def disturb(search: str, rng: random.Random) -> str:
    """The SEARCH side as a careless copy: per line, indentation or trailing whitespace changed;
    sometimes the whole block first dedented (a snippet pasted out of its context)."""
    lines = search.splitlines(keepends=True)
    if rng.random() < 0.3:
        indents = [len(line) - len(line.lstrip(" ")) for line in lines if line.strip()]
        common = min(indents, default=0)
        lines = [line[common:] if line.strip() else line for line in lines]
    return "".join(disturb_line(line, rng) for line in lines)


def dedent_both(edit: Edit, rng: random.Random) -> Edit:
    """Both sides pasted out of context (their common indentation removed), and then the SEARCH
    side mistyped line by line as above."""
    lines = [line for line in (edit.search + edit.replace).splitlines() if line.strip()]
    common = os.path.commonprefix([line[: len(line) - len(line.lstrip())] for line in lines])

    def dedent(text: str) -> str:
        return "".join(line[len(common) :] if line.strip() else line for line in text.splitlines(keepends=True))

    search = "".join(disturb_line(line, rng) for line in dedent(edit.search).splitlines(keepends=True))
    return replace(edit, search=search, replace=dedent(edit.replace))


def run_pass(instances, base_files, edits_by_id, scratch: Path, label: str):
    counts = collections.Counter()
    reasons = collections.Counter()
    wrong: list[str] = []
    ours = baseline = 0.0
    for row in instances:
        iid = row["instance_id"]
        base_bytes = base_files[iid]
        base = {path: data.decode("utf-8", errors="surrogateescape") for path, data in base_bytes.items()}
        answer = format_edits(edits_by_id[iid])
        started = time.perf_counter()
        result = apply_answer(answer, base)
        ours += time.perf_counter() - started
        # The baseline runs beside ours, instance by instance, so both see the same machine load.
        gold = git_apply(base_bytes, row["patch"], scratch / label / iid / "gold")
        if isinstance(gold, str):
            raise SystemExit(f"{iid}: the gold patch does not apply: {gold}")
        gold_files, seconds = gold
        baseline += seconds
        if not result.ok:
            counts["rejected"] += 1
            reasons[result.reason.split("does not apply: ")[-1][:100] + f" ({iid})"] += 1
            continue
        mine = git_apply(base_bytes, result.diff, scratch / label / iid / "ours")
        if isinstance(mine, str):
            counts["diff does not apply"] += 1
            wrong.append(f"{iid}: our diff does not apply: {mine}")
            continue
        # The applier's own file map, beside the diff made from it, both against gold.
        edited, _ = apply_edits(base, edits_by_id[iid])
        direct = {p: t.encode("utf-8", errors="surrogateescape") for p, t in edited.items()}
        if mine[0] == gold_files and all(gold_files[p] == data for p, data in direct.items()):
            counts["correct"] += 1
        else:
            counts["wrong"] += 1
            wrong.append(f"{iid}: applied, but differs from gold")
    return counts, reasons, wrong, ours, baseline


def report(title: str, total: int, counts, reasons, wrong, ours: float, baseline: float) -> None:
    print(f"\n{title}")
    print(f"  correct {counts['correct']}/{total}, rejected {counts['rejected']}, "
          f"wrong {counts['wrong'] + counts['diff does not apply']}")
    for reason, n in reasons.most_common():
        print(f"    rejected x{n}: {reason}")
    for line in wrong:
        print(f"    WRONG {line}")
    print(f"  time: ours (parse+apply+checks+diff+normalize) {ours:.2f} s, "
          f"baseline git apply of gold {baseline:.2f} s, ratio {ours / baseline:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repo-cache", type=Path, default=REPO_CACHE)
    parser.add_argument("--seed", type=int, default=None, help="seed of the disturbance (default: random)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N instances")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)

    instances = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    if args.limit:
        instances = instances[: args.limit]
    started = time.perf_counter()
    base_files: dict[str, dict[str, bytes]] = {}
    by_repo = collections.defaultdict(list)
    for row in instances:
        by_repo[row["repo"]].append(row)
    for repo, rows in by_repo.items():
        git_dir = find_mirror(repo, args.repo_cache)
        specs = [(row, f.path) for row in rows for f in PatchSet(row["patch"])]
        blobs = read_blobs(git_dir, [f"{row['base_commit']}:{path}" for row, path in specs])
        for (row, path), blob in zip(specs, blobs):
            base_files.setdefault(row["instance_id"], {})[path] = blob
    print(f"read {sum(len(f) for f in base_files.values())} files of {len(instances)} instances "
          f"in {time.perf_counter() - started:.1f} s")

    exact = {row["instance_id"]: hunk_edits(row["patch"]) for row in instances}
    blocks = sum(len(e) for e in exact.values())
    rng = random.Random(seed)
    disturbed = {
        iid: [replace(edit, search=disturb(edit.search, rng)) for edit in edits] for iid, edits in exact.items()
    }
    changed = sum(d.search != e.search for iid in exact for d, e in zip(disturbed[iid], exact[iid]))
    shifted = {iid: [dedent_both(edit, rng) for edit in edits] for iid, edits in exact.items()}
    moved = sum(d.replace != e.replace for iid in exact for d, e in zip(shifted[iid], exact[iid]))
    without_hints = {iid: [replace(e, line_hint=0) for e in edits] for iid, edits in exact.items()}
    disturbed_without_hints = {iid: [replace(e, line_hint=0) for e in edits] for iid, edits in disturbed.items()}
    shifted_without_hints = {iid: [replace(e, line_hint=0) for e in edits] for iid, edits in shifted.items()}

    print(f"{blocks} SEARCH/REPLACE blocks from {len(instances)} gold patches; disturbance seed {seed} "
          f"changed {changed} SEARCH sides; dedenting both sides moved {moved} REPLACE sides")
    failed = False
    with tempfile.TemporaryDirectory(prefix="edit-roundtrip-") as scratch:
        # Only exact SEARCH sides with line hints must all apply: without hints a SEARCH side that
        # occurs more than once in its file is rightly rejected as ambiguous.
        for number, (title, edits, all_must_apply) in enumerate([
            ("exact SEARCH sides, with line hints", exact, True),
            ("exact SEARCH sides, without line hints", without_hints, False),
            (f"disturbed SEARCH sides (seed {seed}), with line hints", disturbed, False),
            (f"disturbed SEARCH sides (seed {seed}), without line hints", disturbed_without_hints, False),
            (f"both sides dedented, SEARCH disturbed (seed {seed}), with line hints", shifted, False),
            (f"both sides dedented, SEARCH disturbed (seed {seed}), without line hints", shifted_without_hints, False),
        ], start=1):
            counts, reasons, wrong, ours, baseline = run_pass(
                instances, base_files, edits, Path(scratch), f"pass{number}"
            )
            report(title, len(instances), counts, reasons, wrong, ours, baseline)
            failed |= bool(wrong) or (all_must_apply and counts["correct"] != len(instances))
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
