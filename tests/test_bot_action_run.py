"""The action's own step, run the way a GitHub-hosted runner runs it: action.yml's script and env
with the example workflow's inputs filled in, `bash --noprofile --norc -eo pipefail`, a clean
environment with RUNNER_TEMP, RUNNER_ENVIRONMENT=github-hosted, GITHUB_OUTPUT and
GITHUB_ACTION_PATH, against the local GitHub of test_bot, the scripted model server (reached
through the `api-base` input, priced by the `price` input), and real Docker with a registry-style
base image (the `base-image` input) instead of debootstrap.

What a hosted runner does that this cannot: setup-python, the pip install of the action from
PyPI, pulling a real registry image, and upload-artifact; the README says so.

Secrets: a fake model key and the token go in through the step's environment, and afterwards no
file written (run folder = the uploaded artifact, RUNNER_TEMP, GITHUB_OUTPUT, the checkout and its
.git, the cache, the pushed repository) and no line of the job's log holds either.
"""

from __future__ import annotations

import base64
import os
import re
import sys
from pathlib import Path
import subprocess

import pytest
import yaml

from tests.shopcart_model import RIGHT, fresh_model_cache, shopcart_model  # noqa: F401 - an autouse fixture
from tests.test_bot import ROOT, TOKEN, labelled, world  # noqa: F401 - `world` is a fixture
from tests.test_bot_attacks import read_outputs

pytestmark = pytest.mark.docker

FAKE_KEY = "sk-bot17-fake-0123456789abcdefFAKEKEY"
BASE_TAG = "patchsmith-bot17-python:3.11-slim"
# The fix, plus a workflow that posts the secrets: repair must reject it, leaving RIGHT to win.
FIX_AND_LEAK = RIGHT + (
    "@@@ FILE .github/workflows/leak.yml\n@@@ SEARCH\n@@@ REPLACE\n"
    "on: issues\njobs:\n  leak:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo '${{ toJSON(secrets) }}'\n@@@ END\n"
)
PASSED_THROUGH = ("DOCKER_HOST", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT",
                  "PIP_INDEX_URL", "PIP_CONFIG_FILE", "LANG")


@pytest.fixture()
def registry_style_base(bookworm_base_image):
    """The bookworm base under a registry-style name: the sandbox takes it as it would python:3.11-slim."""
    from patchsmith.sandbox.engine import client

    image = client().images.get(bookworm_base_image)
    repository, tag = BASE_TAG.split(":")
    image.tag(repository, tag)
    yield BASE_TAG
    client().images.remove(BASE_TAG, noprune=True)  # the tag only; the base image stays


def bot_step() -> tuple[dict, str]:
    steps = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"]
    (step,) = [s for s in steps if s.get("id") == "bot"]
    return step["env"], step["run"]


def workflow_inputs(**overrides: str) -> dict[str, str]:
    """The inputs a run of examples/workflows/patchsmith.yml gives the action: its `with:`, else the defaults."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    workflow = yaml.safe_load((ROOT / "examples" / "workflows" / "patchsmith.yml").read_text())
    (job,) = workflow["jobs"].values()
    (call,) = [s for s in job["steps"] if s.get("id") == "patchsmith"]
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    inputs.update({name: str(value) for name, value in call["with"].items()}, **overrides)
    return {name: value.replace("${{ github.token }}", TOKEN) for name, value in inputs.items()}


def expand(value: str, inputs: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], value)


def written_files(*roots: Path):
    for root in roots:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                yield path


def run_action_step(world, tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess:  # noqa: F811
    """Run the action's bot step as a hosted runner would; its folders are under tmp_path
    (runner-temp, home, cache, github_output)."""
    server = shopcart_model(repair_answers=[FIX_AND_LEAK, RIGHT]).start()
    try:
        inputs = workflow_inputs(model="openai/scripted", **{"model-api-key": FAKE_KEY, "model-api-key-env": "OPENAI_API_KEY",
                                 "api-base": server.url, "price": "3,15", "samples": "2", "max-cost": "1", **overrides})
        env_spec, script = bot_step()
        for folder in ("runner-temp", "home"):
            (tmp_path / folder).mkdir()
        env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        env.update(world.env("issues", labelled()))
        env.update({name: expand(value, inputs) for name, value in env_spec.items()})
        env.update(PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", HOME=str(tmp_path / "home"),
                   RUNNER_TEMP=str(tmp_path / "runner-temp"), RUNNER_ENVIRONMENT="github-hosted",
                   GITHUB_OUTPUT=str(tmp_path / "github_output"), GITHUB_ACTION_PATH=str(ROOT),
                   PATCHSMITH_CACHE_DIR=str(tmp_path / "cache"), CI="true", GITHUB_ACTIONS="true")
        (tmp_path / "step.sh").write_text(script)
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(tmp_path / "step.sh")],
                              env=env, cwd=world.work, capture_output=True, text=True, timeout=900)
    finally:
        server.stop()


def test_the_action_step_on_a_hosted_runner_opens_the_pull_request_and_keeps_secrets(world, registry_style_base, tmp_path):  # noqa: F811
    done = run_action_step(world, tmp_path, **{"base-image": registry_style_base})
    runner_temp, home, cache, output = tmp_path / "runner-temp", tmp_path / "home", tmp_path / "cache", tmp_path / "github_output"
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]

    outputs = read_outputs(output)
    assert outputs["outcome"] == "pull_request" and outputs["pr-url"].endswith("/pull/12")
    assert "+        if quantity >= threshold:" in outputs["patch"] and ".github" not in outputs["patch"]
    (pull,) = world.github.posts_to("/pulls")
    assert pull["draft"] is True and "Cost\n$" in pull["body"]  # priced by the `price` input, not "unknown"
    assert ".github" not in world.remote.git.diff("main", "patchsmith/issue-7")
    run = runner_temp / "patchsmith-run"
    settings = (run / "settings.json").read_text()
    assert registry_style_base in settings and "http://127.0.0.1:" in settings  # base-image and api-base
    rejected = [p.read_text() for p in (run / "candidates").glob("*.json")]
    assert any("a protected path" in text for text in rejected)  # the fix-and-leak candidate

    secrets = (FAKE_KEY, TOKEN, base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode())
    searched = 0
    for path in written_files(runner_temp, output, world.work, cache, Path(world.remote.git_dir), home):
        data = path.read_bytes()
        searched += 1
        for secret in secrets:
            assert secret.encode() not in data, f"{secret[:8]}... written to {path}"
    assert searched > 20 and (run / "model_calls.jsonl").is_file()
    for secret in secrets:
        assert secret not in log
    from patchsmith.sandbox.engine import LABEL_KIND, client

    for image in client().images.list(filters={"label": f"{LABEL_KIND}=env"}):  # what the repository's code runs in
        assert not any(secret in entry for entry in image.attrs["Config"]["Env"] or [] for secret in secrets)


def test_without_base_image_a_hosted_runner_asks_the_registry_for_the_repositorys_python(world, tmp_path):  # noqa: F811
    # This machine reaches no registry, so the pull fails: the point is which image is asked for,
    # and that the failure ends in one sentence on the issue and in the log.
    from patchsmith.sandbox import image_exists

    if image_exists("python:3.11-slim"):
        pytest.skip("python:3.11-slim is present here; the pull this test expects to fail would not happen")
    done = run_action_step(world, tmp_path)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "pull the base image python:3.11-slim" in done.stderr
    assert read_outputs(tmp_path / "github_output")["outcome"] == "failure_comment"
    last = world.github.posts_to("/issues/7/comments")[-1]["body"]
    assert "python:3.11-slim" in last and set(world.remote_branches()) == {"main"}
