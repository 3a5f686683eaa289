"""The one place where the stages are called in order:
index -> localize -> (environment) -> reproduce -> measure -> localize again -> repair -> validate and select.

"measure" runs the reproduction (the chosen script, or the --failing-test tests) and regression
tests under coverage; with a failing run, localization's element and line steps run again on
that execution signal.

Each stage's result is written to the run folder as soon as it exists, so a stopped run can be
inspected and resumed (`--resume`) from the first stage that has no result yet. A command that
runs part of the flow (`patchsmith reproduce`) runs this pipeline up to that stage (`until`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from patchsmith import __version__, measure
from patchsmith.runs import RunFolder
from patchsmith.workspace import RecipeWorkspace, Workspace
from patchsmith.settings import Settings, to_dict

Progress = Callable[[str, str], None]  # (stage, message)
STAGES = ("index", "localize", "reproduce", "repair", "validate")


@dataclass(frozen=True)
class SolveRequest:
    repo: Path
    issue_title: str
    issue_body: str
    settings: Settings = field(default_factory=Settings)
    commit: str | None = None  # None: the working tree as it is
    out_dir: Path | None = None
    resume: bool = False
    # Where candidates run: None builds an environment image from the repository's own files
    # (RecipeWorkspace); SWE-bench passes its prepared per-instance environments.
    workspace: Workspace | None = None
    # Paths to take as the localization instead of asking for one (`patchsmith reproduce --files`).
    given_files: tuple[str, ...] = ()
    # Tests that show the bug (pytest node ids): the reproduction instead of a model-written script.
    failing_tests: tuple[str, ...] = ()

    @property
    def issue_text(self) -> str:
        title = self.issue_title.strip()
        return f"{title}\n\n{self.issue_body.strip()}" if title else self.issue_body.strip()


@dataclass(frozen=True)
class SolveOutcome:
    patch: str | None
    out_dir: Path
    files_touched: tuple[str, ...] = ()
    tests_run: int = 0
    tests_passed: int = 0
    repro_verdict: str = "none"  # "reproduced" | "not reproduced" | "none"
    cost_usd: float | None = None
    seconds: float = 0.0
    failure: str | None = None  # no_reproduction | no_candidate_passed | cost_cap | env_build_failed | no_candidates
    failure_detail: str = ""
    explanation: str = ""
    report_md: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["out_dir"] = str(self.out_dir)
        data.pop("report_md")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], report_md: str = "") -> "SolveOutcome":
        return cls(**{**data, "out_dir": Path(data["out_dir"]), "files_touched": tuple(data["files_touched"]),
                      "report_md": report_md})


OUTCOME_FILE = "outcome.json"  # written last: a run folder that has it is finished


def solve(request: SolveRequest, progress: Progress | None = None, until: str | None = None, model: Any = None) -> SolveOutcome:
    """Run the pipeline for one issue (up to and including stage `until`, default all of it);
    failures the evidence explains end in an outcome with `failure` set, never an exception
    (errors of configuration still raise their one sentence). `model`: one made for this issue
    with Model.for_issue (its ledger in the run folder), so that many issues share one concurrency
    limit; None makes one from the request's settings."""
    return start_run(request, progress, model).execute(until)


def start_run(request: SolveRequest, progress: Progress | None = None, model: Any = None) -> "PipelineRun":
    """A run with its folder and settings.json written, ready to execute."""
    from patchsmith.llm import Model

    run = RunFolder.create(request.out_dir, resume=request.resume)
    request = replace(request, out_dir=run.path)
    workspace = request.workspace or RecipeWorkspace(str(request.repo), request.commit, request.settings.sandbox.base_image)
    request = replace(request, workspace=workspace)
    write_settings(run, request)
    run.write_text("issue.md", request.issue_text + "\n")
    model = model or Model(request.settings.model, ledger_path=run.ledger_path)
    return PipelineRun(run=run, request=request, model=model, say=progress or (lambda stage, message: None))


def write_settings(run: RunFolder, request: SolveRequest) -> None:
    run.write_json("settings.json", {
        "patchsmith_version": __version__,
        "repo": str(request.repo),
        "commit": request.commit,
        "issue_title": request.issue_title,
        "given_files": list(request.given_files),
        "failing_tests": list(request.failing_tests),
        "workspace": request.workspace.describe() if request.workspace else None,
        "settings": to_dict(request.settings),
    })


@dataclass
class PipelineRun:
    """One run and what its stages have produced so far."""

    run: RunFolder
    request: SolveRequest
    model: Any  # patchsmith.llm.Model
    say: Progress
    started: float = field(default_factory=time.monotonic)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    index: Any = None
    localization: Any = None  # localize.Localization, or the given paths
    repro: Any = None  # reproduce.ReproReport
    failing: Any = None  # reproduce.FailingTests, when the request named failing tests
    runs: tuple = ()  # sandbox.coverage.CoveredRun: the measured executions
    regression: Any = None  # reproduce.RegressionSet | None
    candidates: tuple = ()
    validations: tuple = ()
    verdict: Any = None

    def timed(self, stage: str, work: Callable[[], Any]) -> Any:
        began = time.monotonic()
        self.say(stage, "started")
        result = work()
        self.stage_seconds[stage] = round(self.stage_seconds.get(stage, 0.0) + time.monotonic() - began, 3)
        return result

    def saved(self, stage: str) -> Any | None:
        return self.run.load_stage(stage) if self.request.resume else None

    def execute(self, until: str | None = None) -> SolveOutcome:
        from patchsmith.llm import CostCapReached
        from patchsmith.sandbox import BuildFailed

        if until is not None:  # a partial run (a command's own stage) lets its errors speak as one sentence
            return self._stages(until)
        try:
            return self._stages(until)
        except CostCapReached as exc:
            return self.finish(failure="cost_cap", detail=str(exc))
        except BuildFailed as exc:
            return self.finish(failure="env_build_failed", detail=str(exc))

    def _stages(self, until: str | None) -> SolveOutcome:
        from patchsmith import repo_index
        from patchsmith.paths import cache_root

        request, settings = self.request, self.request.settings
        self.index = self.timed("index", lambda: repo_index.build_index(
            str(request.repo), commit=request.commit, cache_dir=cache_root() / "index", settings=settings.index))
        self.localize()
        if until == "localize" and not request.failing_tests:  # with failing tests, localization runs again on them
            return self.finish(partial="localize")
        workspace = request.workspace
        box = self.timed("environment", lambda: workspace.start(self.run.path / "logs"))
        with box:
            tests = workspace.test_runner(box)
            self.timed("reproduce", lambda: self.reproduce(box, tests))
            if until == "reproduce":
                return self.finish(partial="reproduce")
            self.timed("measure", lambda: self.measure(box))
            self.timed("localize", self.localize_with_execution)
            if until == "localize":
                return self.finish(partial="localize")
            self.timed("repair", self.repair)
            self.timed("validate", lambda: self.validate(box, tests))
        return self.finish()

    def localize(self) -> None:
        from patchsmith.localize import Localization, localize

        if self.request.given_files:
            unknown = [path for path in self.request.given_files if path not in self.index.files]
            if unknown:
                raise PipelineInputError(f"the repository has no file {', '.join(unknown)}")
            self.localization = list(self.request.given_files)
            return
        saved = self.saved("localize")
        if saved is not None:
            self.localization = Localization.from_json(saved)
        else:
            self.localization = self.timed("localize", lambda: localize(
                self.index, self.request.issue_text, self.model, self.request.settings.localize))
            self.run.save_stage("localize", self.localization)
        self.say("localize", "files: " + ", ".join(self.localization.files.paths[:5]))

    def reproduce(self, box: Any, tests: Any) -> None:
        from patchsmith.reproduce import (
            FailingTests, RegressionSet, ReproReport, check_at_base, sample_and_run, select_regression_tests,
        )

        saved = self.saved("reproduce")
        if saved is not None:
            self.repro = ReproReport.from_dict(saved["repro"])
            self.regression = RegressionSet.from_dict(saved["regression"]) if saved["regression"] else None
            self.failing = FailingTests.from_dict(saved["failing"]) if saved.get("failing") else None
            return
        settings = self.request.settings.reproduce
        issue = self.request.issue_text
        if self.request.failing_tests:  # the named tests are the reproduction
            self.failing = check_at_base(tests, self.request.failing_tests, timeout=settings.regression.budget_seconds)
            self.repro = ReproReport(runs=(), chosen=None, note=f"{len(self.failing.tests)} named failing tests fail at base")
        else:
            self.repro = sample_and_run(issue, self.localization, box, self.model, settings.scripts, index=self.index)
        self.say("reproduce", self.repro.note)
        if settings.select_tests:
            self.regression = select_regression_tests(self.index, self.localization, tests, model=self.model,
                                                      issue_text=issue, settings=settings.regression)
            self.say("reproduce", f"regression set: {len(self.regression.tests)} tests in {len(self.regression.test_files)} files")
        self.run.save_stage("reproduce", {"repro": self.repro.to_dict(),
                                          "regression": self.regression.to_dict() if self.regression else None,
                                          "failing": self.failing.to_dict() if self.failing else None})

    def measure(self, box: Any) -> None:
        if self.localization.execution is None:  # else resumed after the second localization
            self.runs = measure.measure_reproduction(box, self.failing, self.repro.chosen, self.regression)
            self.say("measure", measure.summary(self.runs))

    def localize_with_execution(self) -> None:
        """The file ranking fused again and the element and line steps run anew with the execution signal."""
        from patchsmith.localize import localize

        if not any(run.failed for run in self.runs):
            return
        self.localization = localize(self.index, self.request.issue_text, self.model, self.request.settings.localize,
                                     runs=self.runs, files=self.localization.files)
        self.run.save_stage("localize", self.localization)
        top = self.localization.execution.elements[:3]
        self.say("localize", "executed by the failing run: " + (", ".join(f"{e.element.qualname} {e.score:.2f}" for e in top) or "no source function"))

    def repair(self) -> None:
        from patchsmith.repair import Candidate, generate_candidates

        saved = self.saved("repair")
        if saved is not None:
            self.candidates = tuple(Candidate.from_json(c) for c in saved["candidates"])
            return
        script = self.repro.chosen.script if self.repro.chosen else ""
        self.candidates = generate_candidates(self.request.issue_text, self.index, self.localization, self.model,
                                              self.request.settings.repair, repro_script=script)
        if self.failing is not None:
            self.candidates = measure.keep_tests_unedited(self.candidates, self.failing.files)
        for candidate in self.candidates:
            self.run.save_candidate(candidate.number, {"candidate": candidate.to_json()})
        self.run.save_stage("repair", {"candidates": [c.to_json() for c in self.candidates]})
        usable = sum(c.edit.ok for c in self.candidates)
        self.say("repair", f"{usable} of {len(self.candidates)} candidates produced a diff")

    def validate(self, box: Any, tests: Any) -> None:
        from patchsmith.repair import validate_candidates
        from patchsmith.reproduce import broken_tests, run_failing_tests, run_script

        chosen_script = self.repro.chosen

        def repro_check() -> tuple[str, str]:
            if self.failing is not None:  # the named tests are the reproduction
                verdict, output, _ = run_failing_tests(tests, self.failing.tests,
                                                       timeout=self.request.settings.reproduce.regression.budget_seconds)
                return verdict, output
            result = run_script(box, chosen_script.script, timeout=chosen_script.timeout)
            return result.verdict, result.output[-2000:]

        def regression_check() -> tuple[str, ...]:
            return broken_tests(tests, self.regression)

        def record(validation: Any) -> None:
            candidate = self.candidates[validation.number]
            self.run.save_candidate(candidate.number, {"candidate": candidate.to_json(), "validation": validation.to_json()})
            self.say("validate", f"candidate {validation.number}: " + _validation_line(validation))

        self.validations = validate_candidates(
            self.candidates, box,
            repro=repro_check if chosen_script or self.failing else None,
            regressions=regression_check if self.regression and self.regression.test_files else None,
            on_result=record,
        )

    def _choose(self) -> tuple[str | None, str, Any]:
        """(failure, detail, the chosen validation) once every candidate was validated."""
        from patchsmith.repair import select_candidate

        self.verdict = select_candidate(self.candidates, self.validations)
        self.run.save_stage("select", self.verdict)
        if not any(c.edit.ok for c in self.candidates):
            reasons = sorted({c.edit.reason for c in self.candidates})
            return "no_candidates", "no candidate produced a usable diff: " + "; ".join(reasons[:5]), None
        if self.verdict.chosen is None:
            return "no_candidate_passed", "no candidate's diff applied in the sandbox", None
        chosen = next(v for v in self.validations if v.number == self.verdict.chosen)
        if (self.repro.chosen or self.failing) is not None and chosen.repro_verdict != "resolved":
            return "no_candidate_passed", ("no candidate made the named failing tests pass" if self.failing else
                                           "no candidate made the reproduction script report the issue resolved"), chosen
        if self.request.settings.reproduce.required and self.repro.chosen is None:
            return "no_reproduction", self.repro.note, chosen
        return None, "", chosen

    def finish(self, failure: str | None = None, detail: str = "", partial: str | None = None) -> SolveOutcome:
        from patchsmith.report import render_report

        patch, files, tests_run, tests_passed = None, (), 0, 0
        if failure is None and partial is None:
            failure, detail, chosen = self._choose()
            if failure is None:
                candidate = self.candidates[self.verdict.chosen]
                patch, files = candidate.edit.diff, candidate.edit.files
            if chosen is not None and self.regression is not None:
                tests_run = len(self.regression.tests)
                tests_passed = tests_run - len(chosen.broken_tests or ())
        if patch:
            self.run.write_text("patch.diff", patch)
        repro_verdict = "none" if self.repro is None else ("reproduced" if self.repro.chosen or self.failing else "not reproduced")
        outcome = SolveOutcome(
            patch=patch,
            out_dir=self.run.path,
            files_touched=tuple(files),
            tests_run=tests_run,
            tests_passed=tests_passed,
            repro_verdict=repro_verdict,
            cost_usd=self.model.cost_usd,  # None: a call had no price
            seconds=round(time.monotonic() - self.started, 3),
            failure=failure,
            failure_detail=detail,
            explanation=self.verdict.reason if self.verdict is not None else "",
            stage_seconds=dict(self.stage_seconds),
        )
        if partial is not None:
            return outcome  # a partial run (`until`) leaves its stage results, not a report
        report = render_report(outcome, self.request, self)
        self.run.write_text("report.md", report)
        self.run.write_json(OUTCOME_FILE, outcome)
        return replace(outcome, report_md=report)


class PipelineInputError(Exception):
    user_error = True


def read_outcome(run: RunFolder) -> SolveOutcome | None:
    """The outcome of a finished run, or None while it is unfinished."""
    data = run.read_json(OUTCOME_FILE)
    if data is None:
        return None
    report = run.path / "report.md"
    return SolveOutcome.from_json(data, report.read_text(encoding="utf-8") if report.exists() else "")


def _validation_line(v: Any) -> str:
    if not v.applied:
        return f"does not apply ({v.apply_error[:120]})"
    parts = [f"applies ({v.apply_method})"]
    if v.repro_verdict is not None:
        parts.append(f"reproduction: {v.repro_verdict}")
    if v.broken_tests is not None:
        parts.append(f"{len(v.broken_tests)} regression failures")
    return ", ".join(parts)


def saved_run(folder: Path) -> dict[str, Any]:
    """The settings.json of a run folder, as written by write_settings."""
    path = Path(folder) / "settings.json"
    if not path.is_file():
        raise PipelineInputError(f"{folder} is not a run folder (it has no settings.json)")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PipelineInputError(f"cannot read {path}: {exc}") from None
    if not isinstance(saved, dict) or "settings" not in saved:
        raise PipelineInputError(f"{path} was written by an older patchsmith and cannot be resumed; start the run again")
    return saved
