"""Unified diffs (git-style a/ b/ headers) from a base and an edited file map, checked with unidiff."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

from patchsmith.repair.apply import common_ends, split_lines

CONTEXT = 3
NO_EOL = "\\ No newline at end of file\n"


def _range(start: int, length: int) -> str:
    # Unified diff convention: an empty range names the line before it.
    return f"{start if length else start - 1},{length}" if length != 1 else str(start)


def _line(prefix: str, line: str) -> str:
    return prefix + line if line.endswith("\n") else prefix + line + "\n" + NO_EOL


def _hunks(old: list[str], new: list[str]) -> list[str]:
    # Skip the common head and tail first: SequenceMatcher is slow on long files.
    head, tail = common_ends(old, new)
    lo = max(0, head - CONTEXT)
    old_mid, new_mid = old[lo : len(old) - max(0, tail - CONTEXT)], new[lo : len(new) - max(0, tail - CONTEXT)]
    matcher = difflib.SequenceMatcher(None, old_mid, new_mid)  # autojunk: huge rewrites stay fast
    out: list[str] = []
    for group in matcher.get_grouped_opcodes(CONTEXT):
        a1, a2, b1, b2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(lo + a1 + 1, a2 - a1)} +{_range(lo + b1 + 1, b2 - b1)} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(_line(" ", line) for line in old_mid[i1:i2])
                continue
            out.extend(_line("-", line) for line in old_mid[i1:i2])
            out.extend(_line("+", line) for line in new_mid[j1:j2])
    return out


def unified_diff(base: Mapping[str, str], edited: Mapping[str, str]) -> str:
    """A diff that `git apply` takes, from `base` to `edited` (edited: only the files changed or created)."""
    out: list[str] = []
    for path in sorted(edited):
        old_text, new_text = base.get(path), edited[path]
        if old_text == new_text:
            continue
        old = split_lines(old_text or "")
        out.append(f"diff --git a/{path} b/{path}\n")
        if old_text is None:
            out.append("new file mode 100644\n--- /dev/null\n")
        else:
            out.append(f"--- a/{path}\n")
        out.append(f"+++ b/{path}\n")
        out.extend(_hunks(old, split_lines(new_text)))
    return "".join(out)


def check_diff(diff: str, base: Mapping[str, str], edited: Mapping[str, str]) -> str:
    """"" when unidiff reads `diff` as exactly the change from `base` to `edited`; else what is wrong."""
    try:
        patch = PatchSet(diff)
    except UnidiffParseError as error:
        return f"the diff does not parse: {error}."
    changed = {path for path in edited if base.get(path) != edited[path]}
    if {f.path for f in patch} != changed:
        return "the diff does not name exactly the files changed."
    for patched in patch:
        old = split_lines(base.get(patched.path) or "")
        new = split_lines(edited[patched.path])
        for hunk in patched:
            # unidiff drops "\r" from line values; compare without line ends.
            source = [line.value.rstrip("\r\n") for line in hunk if line.is_context or line.is_removed]
            target = [line.value.rstrip("\r\n") for line in hunk if line.is_context or line.is_added]
            at_old = [line.rstrip("\r\n") for line in old[max(hunk.source_start - 1, 0) :][: len(source)]]
            at_new = [line.rstrip("\r\n") for line in new[max(hunk.target_start - 1, 0) :][: len(target)]]
            if source != at_old or target != at_new:
                return f"a hunk of the diff for {patched.path} does not match the files."
    return ""
