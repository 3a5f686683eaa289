"""action.yml and examples/workflows/patchsmith.yml pass actionlint, and keep inputs out of scripts.

actionlint lints workflows, not action metadata; it does check a local action (`uses: ./`) that a
workflow calls, inputs included. So the example workflow is linted calling this action.yml, and
the action's steps are linted again as the steps of a reusable workflow with the same inputs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
EXAMPLE = ROOT / "examples" / "workflows" / "patchsmith.yml"
USES_PATCHSMITH = re.compile(r"uses: OWNER/patchsmith@\S+")

def actionlint(project: Path, workflow: str) -> subprocess.CompletedProcess:
    # actionlint resolves `uses: ./` only inside a git repository; elsewhere it skips the action.
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    path = project / ".github" / "workflows" / "check.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(workflow)
    return subprocess.run(["actionlint", "-oneline", "-no-color", str(path)], cwd=project,
                          capture_output=True, text=True, timeout=60)


def project_with_action(tmp_path: Path) -> Path:
    shutil.copy(ACTION, tmp_path / "action.yml")
    return tmp_path


def example_calling_local_action() -> str:
    text = EXAMPLE.read_text()
    assert USES_PATCHSMITH.search(text), "the example no longer calls OWNER/patchsmith"
    return USES_PATCHSMITH.sub("uses: ./", text)


def action_as_reusable_workflow() -> str:
    action = yaml.safe_load(ACTION.read_text())
    inputs = {name: {"type": "string", "required": False} for name in action["inputs"]}
    workflow = {"on": {"workflow_call": {"inputs": inputs}},
                "jobs": {"bot": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}}}
    return yaml.safe_dump(workflow, sort_keys=False)


def test_example_workflow_and_action_pass_actionlint(tmp_path):
    done = actionlint(project_with_action(tmp_path), example_calling_local_action())
    assert done.returncode == 0, done.stdout + done.stderr


def test_action_steps_pass_actionlint(tmp_path):
    done = actionlint(tmp_path, action_as_reusable_workflow())
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_what_these_checks_are_for(tmp_path):
    # An input the action does not have, and issue text interpolated into a script.
    bad_input = example_calling_local_action().replace("samples: \"4\"", "sample: \"4\"")
    done = actionlint(project_with_action(tmp_path), bad_input)
    assert done.returncode == 1 and 'input "sample" is not defined' in done.stdout
    injected = example_calling_local_action() + (
        "      - run: echo \"${{ github.event.issue.title }}\"\n"
    )
    done = actionlint(project_with_action(tmp_path), injected)
    assert done.returncode == 1 and "potentially untrusted" in done.stdout


def test_no_expression_inside_a_run_script():
    # actionlint flags untrusted contexts in scripts; we go further: no `${{ }}` at all, so an
    # input (which a caller may fill from issue text) is always a quoted environment variable.
    steps = yaml.safe_load(ACTION.read_text())["runs"]["steps"]
    workflow = yaml.safe_load(EXAMPLE.read_text())
    steps += [step for job in workflow["jobs"].values() for step in job["steps"]]
    scripts = [step["run"] for step in steps if "run" in step]
    assert scripts and not any("${{" in script for script in scripts)


def test_every_input_reaches_the_bot_and_upload_runs_always():
    action = yaml.safe_load(ACTION.read_text())
    steps = action["runs"]["steps"]
    (bot_step,) = [step for step in steps if "patchsmith bot" in step.get("run", "")]
    passed = " ".join(bot_step["env"].values())
    for name in action["inputs"]:
        if name != "python-version":  # used by the setup-python step
            assert f"inputs.{name} }}" in passed, name
    (upload,) = [step for step in steps if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == "always()" and "patchsmith-run" in upload["with"]["path"]
    assert "--out \"$RUNNER_TEMP/patchsmith-run\"" in bot_step["run"]
    assert action["inputs"]["draft"]["default"] == "true"


def test_example_workflow_asks_for_least_permissions():
    workflow = yaml.safe_load(EXAMPLE.read_text())
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write", "issues": "write"}
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["persist-credentials"] is False


THIRD_PARTY_USES = re.compile(r"uses:\s*(?!OWNER/patchsmith@|\./)(\S+)")


def test_third_party_actions_are_pinned_by_commit_sha():
    found = THIRD_PARTY_USES.findall(ACTION.read_text() + EXAMPLE.read_text())
    assert len(found) == 3
    unpinned = [uses for uses in found if not re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses)]
    assert unpinned == []


def test_outputs_come_from_the_bot_step():
    action = yaml.safe_load(ACTION.read_text())
    (bot_step,) = [step for step in action["runs"]["steps"] if step.get("id") == "bot"]
    assert "patchsmith bot" in bot_step["run"]
    assert {name: spec["value"] for name, spec in action["outputs"].items()} == {
        name: f"${{{{ steps.bot.outputs.{name} }}}}" for name in ("outcome", "pr-url", "patch")}
    for name in ("base-image", "api-base", "price", "allow-protected-paths"):
        assert name in action["inputs"]
    assert action["inputs"]["allow-protected-paths"]["default"] == "false"


def test_example_workflow_filters_out_bot_senders():
    workflow = yaml.safe_load(EXAMPLE.read_text())
    (job,) = workflow["jobs"].values()
    assert job["if"].startswith("github.event.sender.type != 'Bot' && (")
