"""The pipeline as `swebench infer`'s solver (swebench_runner.inference takes it as an argument,
so that it never imports this package, which imports it).

One Model serves the whole run: one concurrency limit, one rate-limit pause and one response
cache across every worker, so `--workers N` does not multiply the requests in flight by N. Each
instance gets `for_issue()` of it: its own ledger and its own cost cap.
"""

from __future__ import annotations

from collections.abc import Callable

from patchsmith import pipeline
from patchsmith.llm import Model
from patchsmith.settings import Settings
from patchsmith.swebench_runner.inference import InstanceTask


def instance_solver(settings: Settings) -> Callable[[InstanceTask], pipeline.SolveOutcome]:
    """A solver for swebench_runner.inference.infer. A cap on an unpriced model is refused here,
    before any instance starts."""
    model = Model(settings.model)

    def solve_instance(task: InstanceTask) -> pipeline.SolveOutcome:
        request = pipeline.SolveRequest(
            repo=task.repo, commit=task.instance.base_commit, issue_title="", issue_body=task.instance.problem_statement,
            settings=settings, out_dir=task.out_dir, workspace=task.workspace)
        issue_model = model.for_issue(ledger_path=task.out_dir / "model_calls.jsonl", cost_cap=settings.model.max_cost)
        return pipeline.solve(request, model=issue_model)

    return solve_instance
