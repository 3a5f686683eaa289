"""Checks before the first model call: each problem is one sentence, all are found at once, and
litellm can load in the background meanwhile."""

from __future__ import annotations

import subprocess
import sys

import pytest

from patchsmith.llm import ModelSettings
from patchsmith.preflight import PreflightError, check_model, check_workspace, preflight
from tests.conftest import make_git_repo


def git_repo(path, files: dict[str, str] | None = None):
    make_git_repo(path, files or {"app.py": "x = 1\n"})
    return path


@pytest.mark.docker
def test_a_good_workspace_and_model_pass(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    repo = git_repo(tmp_path / "repo")
    settings = ModelSettings(model="openai/local", api_base="http://127.0.0.1:9/v1")  # a local server: no key needed
    preflight(settings, repo=repo, out_dir=tmp_path / "runs" / "one")
    assert not (tmp_path / "runs").exists()  # checking made nothing


def test_each_workspace_problem_is_one_sentence(tmp_path, monkeypatch):
    from patchsmith.sandbox import engine

    monkeypatch.setattr(engine, "_client", None)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    (tmp_path / "plain").mkdir()
    (tmp_path / "a-file").write_text("")
    problems = check_workspace(tmp_path / "plain", tmp_path / "a-file" / "run")
    assert len(problems) == 3
    assert problems[0].endswith("plain is not a git repository (run `git init` and commit, or give another --repo)")
    assert problems[1] == f"the run folder {tmp_path}/a-file/run cannot be made: {tmp_path}/a-file is a file, not a folder"
    assert problems[2].startswith("No Docker engine answers at unix:///nonexistent/docker.sock")
    assert all("\n" not in p for p in problems)


def test_a_sandbox_table_that_does_not_parse_and_a_missing_commit(tmp_path):
    repo = git_repo(tmp_path / "repo", {".patchsmith.toml": '[sandbox]\npython = "3.11"\nimage_name = "x"\n'})
    [problem] = check_workspace(repo, tmp_path / "out", docker=False)
    assert problem.startswith("the sandbox configuration does not parse: .patchsmith.toml: unknown sandbox setting(s) image_name")
    [problem] = check_workspace(repo, tmp_path / "out", commit="no-such-commit", docker=False)
    assert problem == f"the repository {repo} has no commit 'no-such-commit'"


def test_model_problems(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MY_KEY", raising=False)
    [unknown] = check_model(ModelSettings(model="no-such-provider-model"))
    assert unknown.startswith("litellm does not know the model 'no-such-provider-model'")
    [no_key] = check_model(ModelSettings(model="openai/gpt-4o"))
    assert no_key.startswith("no API key for openai/gpt-4o: set OPENAI_API_KEY, or name the variable")
    [named] = check_model(ModelSettings(model="openai/gpt-4o", api_key_env="MY_KEY"))
    assert named == "the variable MY_KEY (named by --api-key-env) is not set"
    [timeout, cap] = check_model(ModelSettings(model="hosted_vllm/q", api_base="http://h/v1", timeout=0), cost_cap=1.5)
    assert timeout.startswith("the model timeout") and cap.startswith("litellm has no price for hosted_vllm/q")
    assert check_model(ModelSettings(model="hosted_vllm/q", api_base="http://h/v1", price_per_token=(1e-6, 2e-6), max_cost=1.5)) == []
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert check_model(ModelSettings(model="openai/gpt-4o", max_cost=2.0)) == []  # litellm knows its price


def test_all_problems_are_raised_together(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(PreflightError) as caught:
        preflight(ModelSettings(model="openai/gpt-4o"), repo=tmp_path / "missing", out_dir=tmp_path, docker=False)
    assert caught.value.user_error
    assert [p.split(" ")[0] for p in caught.value.problems] == ["the", "no"]
    assert str(caught.value).count("\n") == 1


def test_litellm_loads_in_the_background_while_the_caller_goes_on():
    script = (
        "import sys\n"
        "from patchsmith.preflight import start_loading_litellm\n"
        "loading = start_loading_litellm()\n"
        "print('returned while loading:', loading.is_alive())\n"
        "loading.join()\n"
        "print('gateway loaded:', 'patchsmith.llm' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines() == ["returned while loading: True", "gateway loaded: True"], done.stderr
