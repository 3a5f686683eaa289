"""`patchsmith swebench infer`: run `solve` over SWE-bench instances and write predictions in the
official JSON Lines format (instance_id, model_name_or_path, model_patch), ready for
`patchsmith swebench eval` or the official harness.

Each instance runs in its (repo, version) environment image with the repository moved to the
instance's base commit, exactly as evaluation prepares it. A prediction line is appended (and
flushed) as soon as an instance finishes, and instances already in the file are skipped, so a
killed run resumes where it stopped; a line a kill tore is cut off first. A total cost cap stops
starting new instances once spent. An instance whose environment did not build, or whose own
cost cap ran out, gets no line: that is no answer of the model's, and a rerun tries it again.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchsmith.swebench_runner import run_records
from patchsmith.swebench_runner.dataset import Instance
from patchsmith.swebench_runner.environments import environment_for, local_internet_capabilities
from patchsmith.swebench_runner.instances import ensure_instance_image
from patchsmith.swebench_runner.repos import find_mirror
from patchsmith.swebench_runner.inferred import spec_or_inferred
from patchsmith.swebench_runner.env_spec import EnvSpec
from patchsmith.swebench_runner.settings import SwebenchSettings
from patchsmith.swebench_runner.specs import spec_for


@dataclass
class InstanceWorkspace:
    """An instance's environment image with /testbed moved to its base commit (the pipeline's
    Workspace protocol: start() and test_runner())."""

    instance: Instance
    spec: EnvSpec
    env_image: str
    env_commit: str
    repo_cache: Path
    cache_dir: Path  # patchsmith's cache root, for build locks

    def start(self, logs: Path) -> Any:
        from patchsmith.sandbox import Container, Limits

        git_dir = find_mirror(self.instance.repo, self.repo_cache)
        image = ensure_instance_image(self.instance, self.spec, self.env_image, self.env_commit, git_dir,
                                      self.cache_dir, logs / "instance_image.log")
        # The image carries the environment's variables (with the base commit's release).
        box = Container(image.tag, capabilities=local_internet_capabilities(self.spec), limits=Limits(memory="8g"),
                        log_path=logs / "container.log")
        box.start()
        try:
            # Candidates are validated one after another in this container: reset() must return
            # to the instance's base commit, not the environment's.
            box.commit_base_state()
        except BaseException:
            box.close()
            raise
        return box

    def describe(self) -> dict[str, Any]:
        return {"kind": "swebench-instance", "instance_id": self.instance.instance_id, "env_image": self.env_image}

    def test_runner(self, box: Any) -> Any:
        from patchsmith.reproduce import CommandTestRunner, django_label

        label = django_label if self.spec.parser == "django" else (lambda path: path)
        return CommandTestRunner(box, self.spec.test_run, self.spec.parser, label, shorten_path_ids=self.spec.shorten_path_ids)


_CHOSEN = SwebenchSettings()  # the defaults of what the settings tree chooses (declared there)


@dataclass(frozen=True)
class InferSettings:
    run_dir: Path  # predictions.jsonl and one run folder per instance go here
    repo_cache: Path
    cache_dir: Path  # patchsmith's cache root
    model_name: str = ""  # what predictions.jsonl names as model_name_or_path
    max_total_cost: float | None = _CHOSEN.max_total_cost  # dollars for the whole run; no new instance starts past it
    workers: int = _CHOSEN.workers
    extra_specs: tuple[EnvSpec, ...] = ()  # specs beyond SWE-bench's repositories (tests use a toy one)
    image_registry: str | None = _CHOSEN.image_registry
    settings_json: str = ""  # the run's whole settings tree, written as settings.json when the run starts

    def spec(self, repo: str, version: str) -> EnvSpec:
        return spec_for(repo, version, self.extra_specs)

    @property
    def predictions_path(self) -> Path:
        return self.run_dir / "predictions.jsonl"


@dataclass
class InferState:
    done: set[str]
    spent: float = 0.0
    outcomes: dict[str, str] = field(default_factory=dict)  # instance id -> "patch" | failure
    lock: threading.Lock = field(default_factory=threading.Lock)


def already_predicted(path: Path) -> set[str]:
    """Instance ids with a whole line in the predictions file (a torn last line is ignored)."""
    done: set[str] = set()
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                done.add(json.loads(line)["instance_id"])
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return done


# Outcomes that say nothing about the model's answer: never saved as a prediction, retried on a rerun.
RETRIED_OUTCOMES = ("env_build_failed", "cost_cap")


def cut_torn_line(path: Path) -> bool:
    """Cut a last line that a kill left without its newline, unless it is whole JSON (then end it);
    appending to it would glue the next prediction onto it. Returns whether it was cut."""
    if not path.exists():
        return False
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    start = data.rfind(b"\n") + 1
    try:
        json.loads(data[start:])
    except ValueError:
        with path.open("r+b") as handle:
            handle.truncate(start)
        return True
    with path.open("ab") as handle:
        handle.write(b"\n")
    return False


def append_prediction(path: Path, row: dict) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _fresh_run_folder(path: Path) -> Path:
    """path, with an earlier attempt's folder there (one that saved no prediction) moved aside."""
    if path.exists():
        attempt = 1
        while path.with_name(f"{path.name}.attempt-{attempt}").exists():
            attempt += 1
        path.rename(path.with_name(f"{path.name}.attempt-{attempt}"))
    return path


@dataclass(frozen=True)
class InstanceTask:
    """One instance as the solver gets it: its repository (the mirror), the workspace to validate
    in, and its run folder."""

    instance: Instance
    repo: Path
    workspace: InstanceWorkspace
    out_dir: Path


# Solves one instance; returns an object with patch, cost_usd and failure (patchsmith's pipeline,
# handed in by the command as patchsmith.instance_solver, so that this package never imports the
# package that imports it).
Solver = Callable[[InstanceTask], Any]


def solve_instance(solver: Solver, instance: Instance, spec: EnvSpec, image: str, commit: str, settings: InferSettings,
                   out_dir: Path) -> tuple[str, float, str]:
    """Solve one instance in its environment image, its run folder at out_dir (the step the local
    and the Ray runner share): (patch, cost, "patch" or the failure)."""
    workspace = InstanceWorkspace(instance, spec, image, commit, settings.repo_cache, settings.cache_dir)
    outcome = solver(InstanceTask(instance, find_mirror(instance.repo, settings.repo_cache), workspace, out_dir))
    patch = outcome.patch or ""
    return patch, outcome.cost_usd or 0.0, "patch" if patch else str(outcome.failure)


def infer(
    instances: list[Instance],
    settings: InferSettings,
    solver: Solver,
    progress: Callable[[str], None] = print,
    dataset: list[Instance] | None = None,
) -> dict:
    """Solve each instance not yet in the predictions file with solver; return a summary."""
    run_records.start_run(settings.run_dir, settings.settings_json)
    if cut_torn_line(settings.predictions_path):
        progress(f"cut a torn last line off {settings.predictions_path} (a killed run's)")
    state = InferState(done=already_predicted(settings.predictions_path))
    todo = [i for i in instances if i.instance_id not in state.done]
    if len(todo) < len(instances):
        progress(f"{len(instances) - len(todo)} instance(s) already have predictions in this run; skipping them")
    images: dict[tuple[str, str], tuple[str, str, str]] = {}  # key -> (image, commit, error)
    image_lock = threading.Lock()

    def environment(instance: Instance) -> tuple[str, str, str]:
        key = (instance.repo, instance.version)
        with image_lock:
            if key not in images:
                spec = spec_or_inferred(settings, *key, dataset or instances)
                environment = environment_for(spec, dataset or instances, settings.repo_cache, settings.cache_dir,
                                              settings.run_dir / "env-logs")
                build = environment.build
                images[key] = (build.image, environment.commit, "" if build.built else build.error)
                progress(f"environment {spec.key}: {'ready' if build.built else 'FAILED: ' + build.error[-200:]}")
            return images[key]

    def run_one(instance: Instance) -> None:
        with state.lock:
            if settings.max_total_cost is not None and state.spent >= settings.max_total_cost:
                state.outcomes[instance.instance_id] = "not started: total cost cap reached"
                return
        image, commit, error = environment(instance)
        patch = ""
        if error:
            with state.lock:
                state.outcomes[instance.instance_id] = "env_build_failed"
        else:
            spec = spec_or_inferred(settings, instance.repo, instance.version, dataset or instances)
            out_dir = _fresh_run_folder(settings.run_dir / "runs" / instance.instance_id)
            patch, cost, result = solve_instance(solver, instance, spec, image, commit, settings, out_dir)
            with state.lock:
                state.spent += cost
                state.outcomes[instance.instance_id] = result
        with state.lock:
            if state.outcomes[instance.instance_id] not in RETRIED_OUTCOMES:
                append_prediction(settings.predictions_path,
                                  {"instance_id": instance.instance_id, "model_name_or_path": settings.model_name,
                                   "model_patch": patch})
        progress(f"{instance.instance_id}: {state.outcomes[instance.instance_id]}")

    with ThreadPoolExecutor(max_workers=max(1, settings.workers)) as pool:
        list(pool.map(run_one, todo))
    summary = {
        "total": len(instances),
        "predicted": len(already_predicted(settings.predictions_path)),
        "with_patch": sorted(i for i, o in state.outcomes.items() if o == "patch"),
        "outcomes": state.outcomes,
        "cost_usd": round(state.spent, 6),
        "predictions": str(settings.predictions_path),
    }
    (settings.run_dir / "infer-summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary
