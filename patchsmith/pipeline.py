"""The one place where the stages are called in order:
index -> localize -> reproduce -> measure -> localize again -> repair -> validate and select.

"measure" runs the reproduction (the chosen script or the --failing-test tests) and regression tests
under coverage; with a failing run, localization's element and line steps run again on that signal.

Each stage's result is written to the run folder as soon as it exists, so a stopped run can be
inspected and resumed (`--resume`) from the first stage that has no result yet.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from patchsmith import __version__, measure
from patchsmith.runs import RunFolder

Progress = Callable[[str, str], None]  # (stage, message)


class Workspace(Protocol):
    """A sandbox for one repository at its base commit, and how its tests are run there."""

    def start(self, logs: Path) -> Any:
        """A started sandbox.Container holding the repository at the base commit as its base state."""

    def test_runner(self, box: Any) -> Any:
        """A reproduce.TestRunner for the repository's tests in that container."""


@dataclass
class RecipeWorkspace:
    """The environment inferred from the repository's files (or its [tool.patchsmith.sandbox]
    table), on a debootstrap base image or the registry image the user named."""

    repo: str
    commit: str | None
    base_image: str | None = None
    test_command: str = ""  # the recipe's, once start() built the environment

    def start(self, logs: Path) -> Any:
        from patchsmith.settings import cache_root
        from patchsmith.sandbox import Container, build_env_image, infer_recipe, read_dependency_files

        recipe = None
        if self.base_image:
            recipe = replace(infer_recipe(read_dependency_files(self.repo, self.commit)), base_image=self.base_image)
        env = build_env_image(self.repo, self.commit, recipe, cache_dir=cache_root() / "sandbox", log_path=logs / "env-build.log")
        self.test_command = env.recipe.test_command
        return start_container(Container(env.tag, log_path=logs / "container.log"), self.repo, self.commit)

    def test_runner(self, box: Any) -> Any:
        from patchsmith.reproduce import CommandTestRunner

        return CommandTestRunner(box, self.test_command, guess_parser(self.test_command))


@dataclass(frozen=True)
class SolveRequest:
    repo: Path
    issue_title: str
    issue_body: str
    model: str
    samples: int = 4  # repair candidates per location set (one greedy, the rest at a temperature)
    max_cost: float | None = None  # dollars; the run stops when they are spent
    out_dir: Path | None = None
    base_image: str | None = None  # a registry image instead of the debootstrap base
    api_base: str | None = None  # a self-hosted, OpenAI-compatible server
    commit: str | None = None  # None: the working tree as it is
    repro_samples: int = 4
    location_sets: int = 2
    test_budget: float = 120.0  # seconds the regression tests may take at the base commit
    script_timeout: float = 60.0
    require_reproduction: bool = False  # treat "no script reproduced the issue" as a failure
    # Tests that show the bug (pytest node ids): the reproduction instead of a model-written script.
    failing_tests: tuple[str, ...] = field(default=(), metadata={
        "flag": "--failing-test", "help": "a test that shows the bug (repeatable); the fix must make it pass and may not edit it"})
    resume: bool = False
    # Where candidates run: None builds an environment image from the repository's own files
    # (RecipeWorkspace); SWE-bench passes its prepared per-(repo, version) environments.
    workspace: Workspace | None = None

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
    failure: str | None = None  # no_reproduction | no_candidate_passed | cost_cap | env_build_failed | no_candidates | error
    failure_detail: str = ""
    explanation: str = ""
    report_md: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)


class PipelineError(Exception):
    user_error = True


def solve(request: SolveRequest, progress: Progress | None = None) -> SolveOutcome:
    """Run the whole pipeline for one issue; failures the evidence explains end in an outcome with
    `failure` set, never an exception (errors of configuration still raise their one sentence)."""
    from patchsmith.llm import CostCapReached, Model, ModelSettings
    from patchsmith.sandbox import BuildFailed

    run = RunFolder.create(request.out_dir)
    request = replace(request, out_dir=run.path)
    say = progress or (lambda stage, message: None)
    _write_settings(run, request)
    run.write_text("issue.md", request.issue_text + "\n")
    model = Model(ModelSettings(model=request.model, api_base=request.api_base), ledger_path=run.ledger_path, cost_cap=request.max_cost)
    state = _State(run=run, request=request, model=model, say=say)
    try:
        return state.execute()
    except CostCapReached as exc:
        return state.finish(failure="cost_cap", detail=str(exc))
    except BuildFailed as exc:
        return state.finish(failure="env_build_failed", detail=str(exc))


def _write_settings(run: RunFolder, request: SolveRequest) -> None:
    settings = {name: getattr(request, name) for name in request.__dataclass_fields__ if name not in ("issue_body", "workspace")}
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()}
    settings["workspace"] = type(request.workspace).__name__ if request.workspace else "RecipeWorkspace"
    settings["patchsmith_version"] = __version__
    run.write_json("settings.json", settings)


@dataclass
class _State:
    """What the stages have produced so far in this run."""

    run: RunFolder
    request: SolveRequest
    model: object
    say: Progress
    started: float = field(default_factory=time.monotonic)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    index: object = None
    localization: object = None
    repro: object = None  # reproduce.ReproReport
    failing: object = None  # reproduce.FailingTests, when the request named failing tests
    runs: tuple = ()  # sandbox.coverage.CoveredRun: the measured executions
    regression: object = None  # reproduce.RegressionSet | None
    candidates: tuple = ()
    validations: tuple = ()
    verdict: object = None

    def timed(self, stage: str, work: Callable[[], object]) -> object:
        began = time.monotonic()
        self.say(stage, "started")
        result = work()
        self.stage_seconds[stage] = round(self.stage_seconds.get(stage, 0.0) + time.monotonic() - began, 3)
        return result

    def execute(self) -> SolveOutcome:
        from patchsmith import repo_index
        from patchsmith.localize import Localization, localize
        from patchsmith.settings import cache_root

        request, run = self.request, self.run
        repo = str(request.repo)
        self.index = self.timed("index", lambda: repo_index.build_index(repo, commit=request.commit, cache_dir=cache_root() / "index"))

        saved = run.load_stage("localize") if request.resume else None
        if saved is not None:
            self.localization = Localization.from_json(saved)
        else:
            self.localization = self.timed("localize", lambda: localize(self.index, request.issue_text, self.model))
            run.save_stage("localize", self.localization)
        self.say("localize", "files: " + ", ".join(self.localization.files.paths[:5]))

        workspace = request.workspace or RecipeWorkspace(repo, request.commit, request.base_image)
        box = self.timed("environment", lambda: workspace.start(run.path / "logs"))
        with box:
            tests = workspace.test_runner(box)
            self.timed("reproduce", lambda: self.reproduce(box, tests))
            self.timed("measure", lambda: self.measure(box))
            self.timed("localize", self.localize_with_execution)
            self.timed("repair", self.repair)
            self.timed("validate", lambda: self.validate(box, tests))
        return self.finish()

    def reproduce(self, box: object, tests: object) -> None:
        from patchsmith.reproduce import (
            FailingTests, RegressionSet, RegressionSettings, ReproReport, ReproSettings, check_at_base, sample_and_run,
            select_regression_tests,
        )

        saved = self.run.load_stage("reproduce") if self.request.resume else None
        if saved is not None:
            self.repro = ReproReport.from_dict(saved["repro"])
            self.regression = RegressionSet.from_dict(saved["regression"]) if saved["regression"] else None
            self.failing = FailingTests.from_dict(saved["failing"]) if saved.get("failing") else None
            return
        if self.request.failing_tests:
            self.failing = check_at_base(tests, self.request.failing_tests, timeout=self.request.test_budget)
            self.repro = ReproReport(runs=(), chosen=None, note=f"{len(self.failing.tests)} named failing tests fail at base")
        else:
            settings = ReproSettings(samples=self.request.repro_samples, timeout=self.request.script_timeout)
            self.repro = sample_and_run(self.request.issue_text, self.localization, box, self.model, settings, index=self.index)
        self.say("reproduce", self.repro.note)
        self.regression = select_regression_tests(
            self.index, self.localization, tests, model=self.model, issue_text=self.request.issue_text,
            settings=RegressionSettings(budget_seconds=self.request.test_budget))
        self.say("reproduce", f"regression set: {len(self.regression.tests)} tests in {len(self.regression.test_files)} files")
        self.run.save_stage("reproduce", {"repro": self.repro.to_dict(), "regression": self.regression.to_dict(),
                                          "failing": self.failing.to_dict() if self.failing else None})

    def measure(self, box: object) -> None:
        if self.localization.execution is None:  # else resumed after the second localization
            self.runs = measure.measure_reproduction(box, self.failing, self.repro.chosen, self.regression)
            self.say("measure", measure.summary(self.runs))

    def localize_with_execution(self) -> None:
        """The file ranking fused again and the element and line steps run anew with the execution signal."""
        from patchsmith.localize import localize

        if not any(run.failed for run in self.runs):
            return
        self.localization = localize(self.index, self.request.issue_text, self.model, runs=self.runs, files=self.localization.files)
        self.run.save_stage("localize", self.localization)
        top = self.localization.execution.elements[:3]
        self.say("localize", "executed by the failing run: " + ", ".join(f"{e.element.qualname} {e.score:.2f}" for e in top))

    def repair(self) -> None:
        from patchsmith.repair.generate import Candidate, RepairSettings, generate_candidates, location_sets

        saved = self.run.load_stage("repair") if self.request.resume else None
        if saved is not None:
            self.candidates = tuple(Candidate.from_json(c) for c in saved["candidates"])
            return
        edits = self.localization.edits
        sets = location_sets(edits.union, edits.samples, self.request.location_sets)
        if not sets:  # the line step found nothing: fall back to the top elements
            sets = [tuple(self.localization.elements.elements[:5])]
        script = self.repro.chosen.script if self.repro.chosen else ""
        settings = RepairSettings(samples=self.request.samples, location_sets=self.request.location_sets)
        self.candidates = generate_candidates(self.request.issue_text, self.index, sets, self.model, settings, repro_script=script)
        if self.failing is not None:
            self.candidates = measure.keep_tests_unedited(self.candidates, self.failing.files)
        for candidate in self.candidates:
            self.run.save_candidate(candidate.number, {"candidate": candidate.to_json()})
        self.run.save_stage("repair", {"candidates": [c.to_json() for c in self.candidates]})
        usable = sum(c.edit.ok for c in self.candidates)
        self.say("repair", f"{usable} of {len(self.candidates)} candidates produced a diff")

    def validate(self, box: object, tests: object) -> None:
        from patchsmith.repair.validate import validate_candidates
        from patchsmith.reproduce import broken_tests, run_failing_tests, run_script

        chosen_script = self.repro.chosen

        def repro_check() -> tuple[str, str]:
            if self.failing is not None:  # the named tests are the reproduction
                verdict, output, _ = run_failing_tests(tests, self.failing.tests, timeout=self.request.test_budget)
                return verdict, output
            result = run_script(box, chosen_script.script, timeout=chosen_script.timeout)
            return result.verdict, result.output[-2000:]

        def regression_check() -> tuple[str, ...]:
            return broken_tests(tests, self.regression)

        def record(validation) -> None:  # noqa: ANN001 - repair.validate.Validation
            candidate = self.candidates[validation.number]
            self.run.save_candidate(candidate.number, {"candidate": candidate.to_json(), "validation": validation.to_json()})
            self.say("validate", f"candidate {validation.number}: " + _validation_line(validation))

        self.validations = validate_candidates(
            self.candidates, box,
            repro=repro_check if chosen_script or self.failing else None,
            regressions=regression_check if self.regression and self.regression.test_files else None,
            on_result=record,
        )

    def finish(self, failure: str | None = None, detail: str = "") -> SolveOutcome:
        from patchsmith.report import render_report
        from patchsmith.repair.select import ValidatedCandidate, choose

        run, request = self.run, self.request
        patch = None
        files: tuple[str, ...] = ()
        tests_run = tests_passed = 0
        chosen_validation = None
        if failure is None:
            pool = [
                ValidatedCandidate(
                    number=v.number,
                    diff=self.candidates[v.number].edit.diff,
                    normalized_diff=self.candidates[v.number].edit.normalized_diff,
                    regression_failures=None if v.broken_tests is None else len(v.broken_tests),
                    repro_verdict=v.repro_verdict,
                )
                for v in self.validations
                if v.applied
            ]
            self.verdict = choose(pool)
            run.save_stage("select", self.verdict)
            if not any(c.edit.ok for c in self.candidates):
                failure = "no_candidates"
                reasons = sorted({c.edit.reason for c in self.candidates})
                detail = "no candidate produced a usable diff: " + "; ".join(reasons[:5])
            elif self.verdict.chosen is None:
                failure, detail = "no_candidate_passed", "no candidate's diff applied in the sandbox"
            else:
                chosen_validation = next(v for v in self.validations if v.number == self.verdict.chosen)
                if (self.repro.chosen or self.failing) is not None and chosen_validation.repro_verdict != "resolved":
                    failure = "no_candidate_passed"
                    detail = ("no candidate made the named failing tests pass" if self.failing else
                              "no candidate made the reproduction script report the issue resolved")
                elif request.require_reproduction and self.repro.chosen is None:
                    failure, detail = "no_reproduction", self.repro.note
                else:
                    candidate = self.candidates[self.verdict.chosen]
                    patch, files = candidate.edit.diff, candidate.edit.files
            if chosen_validation is not None and self.regression is not None:
                tests_run = len(self.regression.tests)
                broken = chosen_validation.broken_tests or ()
                tests_passed = tests_run - len(broken)
        if patch:
            run.write_text("patch.diff", patch)
        cost = self.model.spent if self.model is not None else None
        repro_verdict = "none" if self.repro is None else ("reproduced" if self.repro.chosen or self.failing else "not reproduced")
        outcome = SolveOutcome(
            patch=patch,
            out_dir=run.path,
            files_touched=tuple(files),
            tests_run=tests_run,
            tests_passed=tests_passed,
            repro_verdict=repro_verdict,
            cost_usd=cost,
            seconds=round(time.monotonic() - self.started, 3),
            failure=failure,
            failure_detail=detail,
            explanation=self.verdict.reason if self.verdict is not None else "",
            stage_seconds=dict(self.stage_seconds),
        )
        report = render_report(outcome, request, self)
        run.write_text("report.md", report)
        return replace(outcome, report_md=report)


def _validation_line(v) -> str:  # noqa: ANN001 - repair.validate.Validation
    if not v.applied:
        return f"does not apply ({v.apply_error[:120]})"
    parts = [f"applies ({v.apply_method})"]
    if v.repro_verdict is not None:
        parts.append(f"reproduction: {v.repro_verdict}")
    if v.broken_tests is not None:
        parts.append(f"{len(v.broken_tests)} regression failures")
    return ", ".join(parts)


def guess_parser(command: str) -> str:
    """The log parser a test command's output needs."""
    if "runtests.py" in command:
        return "django"
    if "bin/test" in command:
        return "sympy"
    if "pytest" in command or "py.test" in command:
        return "pytest"
    return "unittest"


def start_container(box, repo: str, commit: str | None):  # noqa: ANN001, ANN201 - sandbox.Container
    """Start the container with the repository at `commit`, or with its work tree as it is (the
    state the index read) when no commit is given."""
    if commit is not None:
        return box.start(repo, commit)
    box.start()
    try:
        box.copy_worktree(repo)
    except BaseException:
        box.close()
        raise
    return box


def outcome_json(outcome: SolveOutcome) -> str:
    data = asdict(outcome)
    data["out_dir"] = str(outcome.out_dir)
    data.pop("report_md")
    return json.dumps(data, indent=2)
