"""Fitting prompt material into a token budget, dropping from the lowest rank up."""

from __future__ import annotations

from collections.abc import Callable

Counter = Callable[[str], int]


def _keep_lines(lines: list[str], budget: int, count: Counter, joiner: Callable[[int], str]) -> str:
    """The longest `joiner(k)` that fits, found by shrinking a proportional first guess."""
    total = max(1, count(joiner(len(lines))))
    keep = min(len(lines), int(len(lines) * budget / total))
    while keep > 0 and count(joiner(keep)) > budget:
        keep = int(keep * 0.9)
    return joiner(keep) if keep > 0 else ""


def truncate(text: str, budget: int, count: Counter) -> str:
    """`text` cut after its last whole line that fits, with a note of what was cut."""
    if count(text) <= budget:
        return text
    lines = text.splitlines()

    def joiner(k: int) -> str:
        note = f"... ({len(lines) - k} more lines not shown)" if k < len(lines) else ""
        return "\n".join(lines[:k] + ([note] if note else []))

    return _keep_lines(lines, budget, count, joiner)


def head_and_tail(text: str, budget: int, count: Counter) -> str:
    """A long text's first and last lines (two thirds and one third), the middle cut out."""
    if count(text) <= budget:
        return text
    lines = text.splitlines()

    def joiner(k: int) -> str:
        head, tail = lines[: (2 * k + 2) // 3], lines[len(lines) - k // 3 :] if k // 3 else []
        cut = len(lines) - len(head) - len(tail)
        return "\n".join(head + [f"... ({cut} lines cut) ..."] + tail)

    return _keep_lines(lines, budget, count, joiner)


def take_ranked(blocks: list[str], budget: int, count: Counter) -> list[str]:
    """The best-ranked blocks that fit together; the first is cut to fit when it alone does not."""
    kept: list[str] = []
    used = 0
    for block in blocks:
        size = count(block) + 2  # the blank line between blocks
        if used + size > budget:
            if not kept:
                kept.append(truncate(block, budget, count))
            break
        kept.append(block)
        used += size
    return kept
