"""What the bot writes on GitHub: the start comment, the pull request's title and body, and the
comments that say why there is no fix.

Text that comes from the issue is quoted, never rendered: the title appears in a body only as a
code span (no headings, links, mentions or HTML of its own), and evidence in a fence that it
cannot close.
"""

from __future__ import annotations

import re
from typing import Any

EVIDENCE_CHARS = 4000
REPORT_CHARS = 30000  # GitHub refuses bodies over 65536 characters
REPORT_TITLE = "# patchsmith run:"  # report.md's first line, which repeats the issue title
REPRO_GLOSS = {
    "reproduced": ": a script written for this issue showed the bug on the base commit.",
    "not reproduced": ": no script showed the bug on the base commit; the fix rests on the tests and the issue text.",
    "none": ": no reproduction was attempted.",
}
FAILURE_REASONS = {
    "no_reproduction": "no reproduction: patchsmith could not write a script that shows the bug at the base commit",
    "no_candidate_passed": "no candidate passed: every fix the model proposed failed the reproduction or the regression tests",
    "no_candidates": "no candidate: the model proposed no edit that applies to the repository",
    "cost_cap": "cost cap reached: the run stopped at the configured maximum cost before finding a fix",
    "env_build_failed": "environment build failed: patchsmith could not build a Docker image in which the repository's tests run",
    "protected_path": "the chosen fix changes a protected path (CI configuration, workflows or the action's files), which this workflow does not allow",
    "error": "internal error: patchsmith stopped on an unexpected error",
}


def one_line(text: str) -> str:
    return " ".join(text.split())


def fence(text: str) -> str:
    """A code block that the text cannot close early, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{text}\n{ticks}"


def code_span(text: str) -> str:
    """Inline code holding the text literally: markdown, HTML, @mentions and #links stay text."""
    text = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    return f"{ticks} {text} {ticks}"


def _evidence(detail: str) -> str:
    detail = detail.strip()
    if len(detail) > EVIDENCE_CHARS:  # the end of a log is where the error is
        detail = "[... earlier output cut ...]\n" + detail[-EVIDENCE_CHARS:]
    return detail


def _cost_line(outcome: Any, settings: Any) -> str:
    cost = "unknown" if outcome.cost_usd is None else f"${outcome.cost_usd:.2f}"
    cap = "" if settings.model.max_cost is None else f" (cap ${settings.model.max_cost:.2f})"
    return f"{cost}{cap} in {outcome.seconds:.0f} s, model `{settings.model.model}`, {settings.repair.samples} samples"


def start_comment(run_url: str | None) -> str:
    where = f"Follow the run here: {run_url}" if run_url else "The run's log is in this workflow run."
    return f"patchsmith is looking into this issue. {where}"


def pull_request_title(issue_number: int, title: str) -> str:
    return f"Fix #{issue_number}: {one_line(title)[:200]}"


def pull_request_body(issue_number: int, title: str, outcome: Any, settings: Any, run_url: str | None) -> str:
    files = ", ".join(f"`{path}`" for path in outcome.files_touched) or "(none listed)"
    failed = outcome.tests_run - outcome.tests_passed
    tests = f"{outcome.tests_passed} of {outcome.tests_run} tests passed" + (f", {failed} failed" if failed else "")
    lines = [
        f"Fixes #{issue_number}",
        "",
        f"Issue title: {code_span(title)}",
        "",
        "## What changed and why",
        outcome.explanation.strip() or "(no explanation given)",
        "",
        f"Files: {files}",
        "",
        "## Tests",
        tests + " with this change applied.",
        "",
        "## Reproduction",
        f"Verdict: **{outcome.repro_verdict}**" + REPRO_GLOSS.get(outcome.repro_verdict, "."),
        "",
        "## Cost",
        _cost_line(outcome, settings),
        "",
        "This pull request was written by patchsmith; review it as you would any contribution.",
    ]
    if run_url:
        lines.append(f"Run: {run_url} (the run folder is attached to it as an artifact).")
    report = outcome.report_md.strip()
    if report.startswith(REPORT_TITLE):  # the title, rendered as a heading: quoted above instead
        report = report.partition("\n")[2].strip()
    report = report.replace("</details", "&lt;/details")  # only ours may close the block
    if report:
        if len(report) > REPORT_CHARS:
            report = report[:REPORT_CHARS] + "\n\n[... cut; the whole report.md is in the run folder ...]"
        lines += ["", "<details><summary>Full report</summary>", "", report, "", "</details>"]
    return "\n".join(lines)


def failure_comment(outcome: Any, failure: str, settings: Any, run_url: str | None) -> str:
    reason = FAILURE_REASONS.get(failure, failure)
    lines = [f"patchsmith found no fix it can stand behind. Reason: {reason}."]
    if outcome.failure_detail.strip():
        lines += ["", "The most useful evidence:", "", fence(_evidence(outcome.failure_detail))]
    lines += ["", f"Reproduction verdict: {outcome.repro_verdict}. Cost: {_cost_line(outcome, settings)}."]
    if run_url:
        lines.append(f"Run and full records: {run_url}")
    return "\n".join(lines)


def error_comment(message: str, run_url: str | None) -> str:
    lines = ["patchsmith stopped before it could answer this issue:", "", fence(_evidence(message))]
    if run_url:
        lines += ["", f"Run: {run_url}"]
    return "\n".join(lines)
