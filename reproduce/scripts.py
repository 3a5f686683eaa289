"""Reproduction scripts: the model writes them, the sandbox runs them at the base commit, we choose one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from patchsmith.reproduce.context import Locations, code_context
from patchsmith.reproduce.normalize import majority_groups
from patchsmith.reproduce.ports import ReproduceModel, Sandbox
from patchsmith.reproduce.results import ERROR, REPRODUCED, ReproReport, ReproTest, ScriptRun
from patchsmith.reproduce.verdict import MARKER, judge

STAGE = "reproduce"
OUTPUT_KEEP = 6000  # characters of a run's output kept in the record (its end, where verdicts are)


@dataclass(frozen=True)
class ReproSettings:
    samples: int = field(default=4, metadata={"flag": "--repro-samples", "min": 1, "help": "reproduction scripts sampled from the model"})
    temperature: float = 0.8
    timeout: float = field(default=60.0, metadata={"flag": "--script-timeout", "positive": True, "help": "seconds each reproduction script may run"})
    parallel: int = 2  # scripts run at once in the one container
    python: str = "python"  # the interpreter of the environment image
    context_chars: int = 24_000  # budget for the localized code shown to the model


_SYSTEM = (
    "You are a careful Python engineer. You turn bug reports into small standalone scripts that "
    "show whether the reported bug is present in the code at hand."
)

_INSTRUCTIONS = """Write one standalone Python script that checks whether the bug described above is present.

How the script is run:
- from the repository root, with the repository and its dependencies importable;
- with no network access and a limit of {timeout:g} seconds;
- as `python script.py`; no test runner, no command-line arguments.

What it must print, as the last thing it does, on a line of its own and exactly once:
- `{marker} reproduced` when the behaviour the issue complains about happens;
- `{marker} resolved` when the code behaves as the issue says it should;
- `{marker} error` when something else goes wrong and neither can be told.
Exit with status 0 whenever a verdict was printed. Catch the exception the bug raises if the bug is
an exception. Check the concrete values the issue names; keep the script short and deterministic;
write files only under /tmp.

Answer with the script in a single ```python code block."""

_CODE_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\r?\n(.*?)```", re.DOTALL | re.IGNORECASE)


def repro_messages(issue_text: str, context: str, settings: ReproSettings) -> list[dict]:
    parts = [f"# Issue\n\n{issue_text.strip()}"]
    if context:
        parts.append(f"# Code the issue is about\n\n{context}")
    parts.append(_INSTRUCTIONS.format(timeout=settings.timeout, marker=MARKER))
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def extract_script(answer: str) -> str:
    """The script in a model's answer: its longest fenced code block, or "" when it has none."""
    blocks = [block.strip("\n") for block in _CODE_BLOCK.findall(answer or "")]
    blocks = [block for block in blocks if block.strip()]
    return max(blocks, key=len) + "\n" if blocks else ""


def run_script(sandbox: Sandbox, script: str, *, timeout: float, sample: int = 0, python: str = "python") -> ScriptRun:
    """Run one script in the sandbox and judge its output. `repair` calls this after each candidate."""
    if not script.strip():
        return ScriptRun(sample, script, ERROR, "the answer held no script", "", None, False, 0.0)
    path = f"/tmp/patchsmith_repro_{sample}.py"
    sandbox.put_file(path, script)
    # The repository root goes first on the path, so the script imports the code under test
    # even when the environment did not install it.
    command = f'PYTHONPATH="$PWD${{PYTHONPATH:+:$PYTHONPATH}}" {python} {path}'
    result = sandbox.exec(command, timeout=timeout)
    verdict, reason = judge(result.output, result.exit_code, result.timed_out, timeout)
    return ScriptRun(
        sample=sample,
        script=script,
        verdict=verdict,
        reason=reason,
        output=result.output[-OUTPUT_KEEP:],
        exit_code=None if result.timed_out else result.exit_code,
        timed_out=result.timed_out,
        seconds=round(result.duration, 3),
    )


def choose(runs: Sequence[ScriptRun], timeout: float) -> ReproTest | None:
    """Majority over the normalized scripts that reproduced; the earliest sample breaks ties."""
    reproducing = [run for run in runs if run.verdict == REPRODUCED]
    if not reproducing:
        return None
    groups = majority_groups([run.script for run in reproducing])
    winner = reproducing[groups[0][0]]
    return ReproTest(
        script=winner.script,
        output_at_base=winner.output,
        sample=winner.sample,
        votes=len(groups[0]),
        timeout=timeout,
        runners_up=tuple(reproducing[group[0]].script for group in groups[1:]),
    )


def sample_and_run(
    issue_text: str,
    locations: Locations,
    sandbox: Sandbox,
    model: ReproduceModel,
    settings: ReproSettings = ReproSettings(),
    *,
    index: object | None = None,
) -> ReproReport:
    """Sample scripts, run each at the base commit, and record every verdict and the choice."""
    context = code_context(index, locations, settings.context_chars)
    answers = model.complete(
        repro_messages(issue_text, context, settings), stage=STAGE, n=settings.samples, temperature=settings.temperature
    )
    scripts = [extract_script(answer) for answer in answers]

    def run_one(sample: int) -> ScriptRun:
        return run_script(sandbox, scripts[sample], timeout=settings.timeout, sample=sample, python=settings.python)

    try:
        with ThreadPoolExecutor(max_workers=max(1, settings.parallel)) as pool:
            runs = tuple(pool.map(run_one, range(len(scripts))))
    finally:
        sandbox.reset()  # a script may have written into the repository; later stages need it clean
    chosen = choose(runs, settings.timeout)
    if chosen is not None:
        note = f"sample {chosen.sample} chosen with {chosen.votes} of {len(runs)} votes"
    else:
        counts = {verdict: sum(run.verdict == verdict for run in runs) for verdict in {run.verdict for run in runs}}
        summary = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items())) or "no samples"
        note = f"no sample reproduced the issue ({summary}); continuing without a reproduction test"
    return ReproReport(runs=runs, chosen=chosen, note=note)

