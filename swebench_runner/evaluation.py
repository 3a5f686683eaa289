"""Evaluating predictions: apply the model patch and the test patch, run the tests, grade.

Files of a run (the official layout, under `out/<run_id>/`):
    <model>/<instance_id>/report.json      the official report, plus the test output, patch and eval script
    <model>/<instance_id>/test_output.txt  what the test command printed
    <model>/<instance_id>/patch.diff       the model patch
    <model>/<instance_id>/eval.sh          the commands run after the model patch was applied
    <model>/<instance_id>/run_instance.log every command run in the container, with its output
    <model>.<run_id>.json                  the run's summary
    env-failures.json                      instances whose environment did not build, and why

A report.json is written (atomically) only once an instance is graded, and an instance whose
report graded the same patch under the same rules is skipped, so a killed run resumes where it
stopped and grades each instance once (run_records.py: reuse, submissions, the summary).
"""

from __future__ import annotations

import io
import json
import shlex
import tarfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from patchsmith.sandbox import OFFICIAL_METHODS, apply_script, parse_log, read_apply_output, shorten_path_parameters, with_both_unittest_forms
from patchsmith.swebench_runner.dataset import Instance
from patchsmith.swebench_runner.environments import (
    WORKDIR,
    EnvBuild,
    environment_for,
    install_script,
    local_internet_capabilities,
)
from patchsmith.swebench_runner.errors import SwebenchError
from patchsmith.swebench_runner import run_records
from patchsmith.swebench_runner.grading import GRADING_RULES, grade, official_view
from patchsmith.swebench_runner.predictions import Prediction
from patchsmith.swebench_runner.repos import find_mirror
from patchsmith.swebench_runner.inferred import spec_or_inferred
from patchsmith.swebench_runner.instances import ensure_instance_image, touches_build
from patchsmith.swebench_runner.sources import SourceIncomplete, files_at
from patchsmith.swebench_runner.env_spec import EnvSpec
from patchsmith.swebench_runner.settings import SwebenchSettings
from patchsmith.swebench_runner.specs import directives_of, patched_files, spec_for

START_MARKER = ">>>>> Start Test Output"
END_MARKER = ">>>>> End Test Output"
TEST_PATCH_PATH = "/tmp/.patchsmith-swebench/test.patch"
_CHOSEN = SwebenchSettings()  # the defaults of what the settings tree chooses (declared there)


@dataclass(frozen=True)
class EvalSettings:
    """What an evaluation's workers are handed: the run's folders and the swebench settings chosen."""
    run_dir: Path  # out/<run_id>
    repo_cache: Path
    cache_dir: Path  # patchsmith's cache root
    timeout: float = _CHOSEN.timeout
    workers: int = _CHOSEN.workers
    # Specs for (repo, version) pairs beyond SWE-bench's twelve repositories (tests use a toy one).
    extra_specs: tuple[EnvSpec, ...] = ()
    grader: str = _CHOSEN.grader
    image_registry: str | None = _CHOSEN.image_registry
    settings_json: str = ""  # the run's whole settings tree, written as settings.json when the run starts

    def spec(self, repo: str, version: str) -> EnvSpec:
        return spec_for(repo, version, self.extra_specs)


BASE_TESTS_DIR = "/tmp/.patchsmith-swebench/base"
# A container evaluates once and is thrown away: bytecode written by the test run would only
# serve a second run (and would make one faster than the first).
_EVAL_ENV = {"PYTHONDONTWRITEBYTECODE": "1"}
MODEL_PATCH_PATH = "/tmp/.patchsmith-swebench/model.patch"


def eval_script(instance: Instance, spec: EnvSpec, absent_at_base: list[str]) -> tuple[str, str]:
    """(prepare, test): put the test patch's files back as they are at the base commit (a model
    patch may have touched them; their base copies wait in BASE_TESTS_DIR), apply the test patch;
    then the test command on the test directives."""
    restore = []
    for path in patched_files(instance.test_patch):
        quoted = shlex.quote(path)
        if path in absent_at_base:
            restore.append(f"rm -f {quoted}")
        else:
            restore.append(f"mkdir -p \"$(dirname {quoted})\" && cp -a {BASE_TESTS_DIR}/{quoted} {quoted}")
    prepare = "\n".join(["set -e", f"cd {WORKDIR}", *restore, f"git apply -v {TEST_PATCH_PATH}"])
    test = " ".join([spec.test_run, *(shlex.quote(d) for d in directives_of(instance.repo, instance.test_patch))])
    return prepare, test


# The official harness's methods and order (sandbox.patching.OFFICIAL_METHODS), run in /testbed.
_APPLY_MODEL_PATCH = f"cd {WORKDIR}\n{apply_script(MODEL_PATCH_PATH, OFFICIAL_METHODS)}"


def staging_archive(base_tests: bytes, files: dict[str, str]) -> bytes:
    """One archive, extracted at /, for everything an evaluation copies in: the test patch's files
    as the base commit has them (under BASE_TESTS_DIR) and the patches. One copy, not several."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar, tarfile.open(fileobj=io.BytesIO(base_tests)) as base:
        for member in base.getmembers():
            data = base.extractfile(member) if member.isfile() else None
            member.name = f"{BASE_TESTS_DIR.lstrip('/')}/{member.name}"
            tar.addfile(member, data)
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


_MODEL_PATCH_FAILED = 97  # the exit status of a combined command whose model patch did not apply
_TEST_PATCH_MARK = "@@TEST_PATCH"


def apply_patches(box, model_patch: bool, prepare: str | None) -> tuple[bool, str | None, str]:
    """Apply the staged model patch (when model_patch), then, when prepare is given, run it (the
    test patch) in the same command: one round trip fewer. Returns (applied, method, why not);
    raises SwebenchError when the test patch does not apply."""
    script = f"( {_APPLY_MODEL_PATCH} ) || exit {_MODEL_PATCH_FAILED}\n" if model_patch else ""
    if prepare is not None:
        script += f"echo '{_TEST_PATCH_MARK}'\n( {prepare} )"
    result = box.exec(script)
    model_output, _, test_output = result.output.partition(_TEST_PATCH_MARK)
    applied = read_apply_output(model_output, subject="patch")
    if model_patch and not applied.applied:
        return False, None, applied.message
    if not result.ok:
        raise SwebenchError(f"the test patch does not apply: {test_output.strip()[-300:]}")
    return True, applied.method, ""


def report_path(settings: EvalSettings, prediction: Prediction) -> Path:
    return run_records.report_path(settings.run_dir, prediction.model_folder, prediction.instance_id)


def evaluate_instance(
    instance: Instance,
    prediction: Prediction,
    spec: EnvSpec,
    env_image: str,
    env_commit: str,
    settings: EvalSettings,
    after_tests: Callable[[object, str], None] | None = None,
) -> dict:
    """Grade one prediction in a fresh container of the environment image; returns the report
    (and writes it with its companion files). `after_tests(container, test_command)` runs in the
    same container once the tests ran (benchmarks time the bare test command there)."""
    from patchsmith.sandbox import Container, Limits

    started = time.monotonic()
    folder = report_path(settings, prediction).parent
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run_instance.log").unlink(missing_ok=True)
    patch = prediction.model_patch or ""
    (folder / "patch.diff").write_text(patch, encoding="utf-8")
    git_dir = find_mirror(instance.repo, settings.repo_cache)
    base_tests, absent_at_base = files_at(git_dir, instance.base_commit, patched_files(instance.test_patch))
    prepare, test_command = eval_script(instance, spec, absent_at_base)
    script_text = f"# after the model patch was applied in {WORKDIR}:\n{prepare}\n: '{START_MARKER}'\n{test_command}\n: '{END_MARKER}'\n"
    (folder / "eval.sh").write_text(script_text, encoding="utf-8")
    details = {
        "environment_image": env_image,
        "python_wanted": spec.python_wanted,
        "python_used": spec.python,
        "environment_source": spec.environment_source,
        "patch_apply_method": None,
        "patch_apply_message": "",
        "reinstalled": False,
        "timed_out": False,
        "test_seconds": None,
        "eval_seconds": None,
        "step_seconds": {},  # where the evaluation time went
        "model_patch": patch,
        "eval_script": script_text,
        "test_output": "",
    }
    entry = {
        "patch_sha256": run_records.patch_digest(prediction.model_patch),
        "grading_rules": GRADING_RULES,
        "patch_is_None": prediction.model_patch is None,
        "patch_exists": not prediction.is_empty,
        "patch_successfully_applied": False,
        "resolved": False,
    }
    steps = details["step_seconds"]
    mark = started

    def step(name: str) -> None:  # time since the previous step ended, for the report
        nonlocal mark
        now = time.monotonic()
        steps[name] = round(now - mark, 3)
        mark = now

    step("prepare")  # reading the test files from the mirror
    # The instance image holds /testbed at the base commit, installed as the official eval script
    # leaves it; a model patch that touches what the install builds from is installed again here.
    image = ensure_instance_image(instance, spec, env_image, env_commit, git_dir, settings.cache_dir,
                                  folder / "instance_image.log")
    details.update(instance_image=image.tag, instance_image_built=image.built_now, reinstalled=image.reinstalled, unmet_requirements=list(image.unmet_requirements),
                   recovered_files=image.recovered)
    step("instance_image")
    install = touches_build(patched_files(patch))
    box = Container(image.tag, network=install, ca_bundle="auto" if install else None,
                    capabilities=local_internet_capabilities(spec),
                    env=_EVAL_ENV,  # the image carries the environment's variables
                    limits=Limits(memory="8g"), log_path=folder / "run_instance.log")
    try:
        box.start()
        step("start")
        box.put_archive("/", staging_archive(base_tests, {MODEL_PATCH_PATH: patch if patch.endswith("\n") else patch + "\n",
                                                          TEST_PATCH_PATH: instance.test_patch}))
        step("copy_in")
        # The official order: model patch, install when it needs one, then the test patch. Without
        # an install between them, both go in one command.
        applied, details["patch_apply_method"], details["patch_apply_message"] = apply_patches(
            box, not prediction.is_empty, None if install else prepare)
        step("patches")
        if applied and install:
            box.check(install_script(spec), f"installing {instance.instance_id} with the model patch", timeout=settings.timeout)
            details["reinstalled"] = True
            step("install")
        if install:
            box.disconnect_network()  # the tests run offline
            step("disconnect")
        if applied:
            if install:
                apply_patches(box, False, prepare)
                step("test_patch")
            entry["patch_successfully_applied"] = not prediction.is_empty
            run = box.exec(test_command, timeout=settings.timeout)
            step("tests")
            details["test_seconds"] = round(run.duration, 3)
            details["timed_out"] = run.timed_out
            details["test_output"] = run.output
            (folder / "test_output.txt").write_text(f"{START_MARKER}\n{run.output}\n{END_MARKER}\n", encoding="utf-8")
            statuses = official_view(parse_log(run.output, spec.parser), spec.parser)
            if spec.shorten_path_ids:
                statuses = shorten_path_parameters(statuses)
            if spec.parser in ("django", "unittest"):  # the dataset's Python may not be the environment's
                statuses = with_both_unittest_forms(statuses)
            if run.timed_out:
                statuses = {}  # as the official harness: a run that timed out grades nothing
            result_grade = grade(statuses, instance.fail_to_pass, instance.pass_to_pass)
            entry["resolved"] = result_grade.resolved
            entry["tests_status"] = result_grade.tests_status()
            step("grade")
        # Evaluation ends with the graded report; removing the container is clean-up after it.
        details["eval_seconds"] = round(time.monotonic() - started, 3)
        report = {instance.instance_id: {**entry, **details}}
        run_records.write_atomically(folder / "report.json", json.dumps(report, indent=2))
        if after_tests is not None and applied:
            after_tests(box, test_command)
    finally:
        box.close()
    return report


@dataclass
class RunState:
    """What happened to each instance in this invocation (the summary reads report files)."""

    env_failures: dict[str, str]  # instance id -> why its environment did not build
    errors: dict[str, str]  # instance id -> why it could not be graded
    graded: set[str]
    lock: threading.Lock


def evaluate(
    instances: list[Instance],
    predictions: dict[str, Prediction],
    settings: EvalSettings,
    progress: Callable[[str], None] = print,
    dataset: list[Instance] | None = None,
) -> dict:
    """Evaluate every instance that has a prediction and no reusable report; write and return the
    summary of the whole run (this and earlier invocations). `dataset` (default: instances) decides
    each environment's commit, so that a selection builds the same images as the whole dataset."""
    run_records.start_run(settings.run_dir, settings.settings_json)
    run_records.record_submissions(settings.run_dir, instances, predictions)
    state = RunState({}, {}, set(), threading.Lock())

    def reusable(instance: Instance) -> bool:
        prediction = predictions[instance.instance_id]
        return run_records.reusable_report(settings.run_dir, prediction.model_folder, prediction.instance_id,
                                           run_records.patch_digest(prediction.model_patch)) is not None

    todo = [i for i in instances if i.instance_id in predictions and not reusable(i)]
    skipped = sum(1 for i in instances if i.instance_id in predictions) - len(todo)
    if skipped:
        progress(f"{skipped} instance(s) already graded in this run; skipping them")
    groups: dict[tuple[str, str], list[Instance]] = {}
    for instance in todo:
        groups.setdefault((instance.repo, instance.version), []).append(instance)
    builds: dict[tuple[str, str], EnvBuild] = {}
    commits: dict[tuple[str, str], str] = {}
    done = [0]

    specs: dict[tuple[str, str], EnvSpec] = {}

    def build(key: tuple[str, str]) -> None:
        spec = specs[key] = spec_or_inferred(settings, *key, dataset or instances)
        environment = environment_for(spec, dataset or instances, settings.repo_cache, settings.cache_dir,
                                      settings.run_dir / "env-logs")
        commits[key], builds[key] = environment.commit, environment.build
        outcome = environment.build
        if outcome.cached:
            status = f"image exists (built in {outcome.seconds:.0f}s)" if outcome.seconds else "image exists"
        else:
            status = f"built in {outcome.seconds:.0f}s" if outcome.built else f"FAILED after {outcome.seconds:.0f}s"
        progress(f"environment {spec.key} (Python {spec.python_wanted} -> {spec.python}): {status}")

    def run_one(instance: Instance) -> None:
        key = (instance.repo, instance.version)
        outcome = builds[key]
        prediction = predictions[instance.instance_id]
        if not outcome.built:
            with state.lock:
                state.env_failures[instance.instance_id] = outcome.error or "environment did not build"
            return
        try:
            report = evaluate_instance(instance, prediction, specs[key], outcome.image, commits[key], settings)
            verdict = "resolved" if report[instance.instance_id]["resolved"] else "unresolved"
            with state.lock:
                state.graded.add(instance.instance_id)
        except SourceIncomplete as exc:
            verdict = f"error: {exc}"
            with state.lock:
                state.errors[instance.instance_id] = str(exc)
        except Exception as exc:  # noqa: BLE001 - one instance's failure must not stop the run
            if getattr(exc, "user_error", False) and type(exc).__name__ in ("DockerUnavailable", "DiskFull"):
                raise
            verdict = f"error: {str(exc).strip()[:300]}"
            with state.lock:
                state.errors[instance.instance_id] = str(exc)[-2000:]
        with state.lock:
            done[0] += 1
            progress(f"[{done[0]}/{len(todo)}] {instance.instance_id}: {verdict}")

    with ThreadPoolExecutor(max_workers=max(1, settings.workers)) as pool:
        # One (repo, version) at a time: its environment, then its instances at the chosen
        # parallelism, so the first grades arrive before every environment is built.
        for key, group in groups.items():
            build(key)
            list(pool.map(run_one, group))
    run_records.record_failures(settings.run_dir, state.env_failures, state.errors, state.graded)
    return run_records.write_summary(settings.run_dir)
