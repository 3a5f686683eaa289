"""report.md: the human-readable account of a run — what was found, tried, chosen and why, and
what it cost."""

from __future__ import annotations

from pathlib import Path

from patchsmith.model_costs import format_total, read_ledger
from patchsmith.transcript import FILE_NAME as TRANSCRIPT_FILE, stage_links


def _ledger_totals(path: Path) -> tuple[int, int, int, str]:
    rows = read_ledger(path)
    prompt = sum(int(r.get("prompt_tokens") or 0) for r in rows)
    completion = sum(int(r.get("completion_tokens") or 0) for r in rows)
    # "unknown" when a call had no price: a sum of the priced ones alone would read as a total.
    return len(rows), prompt, completion, format_total(r.get("cost") for r in rows)


def _transcript_line(run_dir: Path, stage: str) -> list[str]:
    """A line linking a section of the report to its stage's prompts and answers, if it had any."""
    links = stage_links(run_dir, stage)
    return [f"- model transcript: {links}"] if links else []


def render_report(outcome, request, state) -> str:  # noqa: ANN001 - pipeline types, kept import-free
    run_dir = state.run.path
    lines = [f"# patchsmith run: {request.issue_title or 'issue'}", ""]
    if outcome.patch:
        lines += [f"**Result:** a fix touching {', '.join(outcome.files_touched)}.", ""]
    else:
        lines += [f"**Result:** no fix ({outcome.failure}). {outcome.failure_detail}", ""]

    if state.localization is not None:
        loc = state.localization
        lines += ["## Localization", ""]
        lines += [f"- files: {', '.join(f'`{p}`' for p in loc.files.paths[:5]) or 'none'}"]
        lines += [f"- elements: {', '.join(f'`{e.path}:{e.qualname}`' for e in loc.elements.elements[:8]) or 'none'}"]
        lines += [f"- edit locations: {', '.join(f'`{e.path}:{e.start}-{e.end}`' for e in loc.edits.union[:8]) or 'none'}"]
        for step in loc.reports:
            note = f" (fell back to retrieval: {step.fallback})" if step.fallback else ""
            lines += [f"- {step.step} step: {step.prompt_tokens} prompt tokens, {step.samples} samples{note}"]
        lines += _transcript_line(run_dir, "localize")
        lines.append("")

    if state.repro is not None:
        lines += ["## Reproduction", "", state.repro.note, ""]
        for run in state.repro.runs:
            reason = f" ({run.reason})" if run.reason else ""
            lines.append(f"- sample {run.sample}: {run.verdict}{reason}")
        lines += _transcript_line(run_dir, "reproduce")
        if state.repro.chosen is not None:
            lines += ["", "Chosen script:", "", "```python", state.repro.chosen.script.rstrip(), "```"]
        lines.append("")
    if state.regression is not None:
        reg = state.regression
        lines += ["## Regression tests", ""]
        lines += [f"{len(reg.tests)} tests in {len(reg.test_files)} files passed at the base commit "
                  f"({reg.seconds_at_base:.1f} s; budget {reg.budget_seconds:g} s)."]
        if reg.removed_by_model:
            lines.append(f"Left out because the fix may change them: {', '.join(reg.removed_by_model)}.")
        lines += _transcript_line(run_dir, "regression")
        lines.append("")

    if state.candidates:
        validations = {v.number: v for v in state.validations}
        lines += ["## Candidates", "", "| # | location set | temperature | outcome |", "|---|---|---|---|"]
        for candidate in state.candidates:
            v = validations.get(candidate.number)
            if not candidate.edit.ok:
                result = f"rejected: {candidate.edit.reason}"
            elif v is None:
                result = "not validated"
            elif not v.applied:
                result = f"does not apply: {v.apply_error}"
            else:
                bits = [f"applies ({v.apply_method})"]
                if v.repro_verdict is not None:
                    bits.append(f"reproduction {v.repro_verdict}")
                if v.broken_tests is not None:
                    bits.append(f"{len(v.broken_tests)} regression failures")
                result = ", ".join(bits)
            lines.append(f"| {candidate.number} | {candidate.location_set} | {candidate.temperature:g} | {result.replace('|', '/')} |")
        repair_links = _transcript_line(run_dir, "repair")
        lines += ["", *repair_links, ""] if repair_links else [""]
    if state.verdict is not None:
        lines += ["## Selection", "", state.verdict.reason, ""]
    if outcome.patch:
        lines += ["## Patch", "", "```diff", outcome.patch.rstrip(), "```", ""]

    calls, prompt, completion, cost = _ledger_totals(state.run.ledger_path)
    lines += ["## Cost and time", ""]
    lines.append(f"- model calls: {calls}; tokens: {prompt} prompt, {completion} completion; cost: {cost}")
    if (run_dir / TRANSCRIPT_FILE).exists():
        lines.append(f"- every prompt and answer: [{TRANSCRIPT_FILE}]({TRANSCRIPT_FILE})")
    times = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in outcome.stage_seconds.items())
    lines.append(f"- time: {outcome.seconds:.1f} s ({times})")
    return "\n".join(lines) + "\n"
