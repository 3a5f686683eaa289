"""The swebench part of the settings tree, as a user meets it: config file, --set and shortcut flags
reach `swebench eval|infer`, the run folder's settings.json is the whole tree, and a rerun of the
run id keeps it (only the flags given again change it). Each run here stops at the toy dataset's
missing mirror, after the run has started (its folder and settings.json written), so no image is
built."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.test_cli_inputs import EVAL, one_sentence, patchsmith, toy_row

NO_CLONE = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_ALLOW_PROTOCOL": "file", "OPENAI_API_KEY": "sk-test"}


@pytest.fixture
def folder(tmp_path) -> Path:
    (tmp_path / "data.jsonl").write_text(json.dumps(toy_row()) + "\n")
    (tmp_path / "mirrors").mkdir()
    return tmp_path


def saved(folder: Path, *run: str) -> dict:
    return json.loads((folder / "patchsmith-runs" / "swebench" / Path(*run) / "settings.json").read_text())["settings"]


def test_eval_takes_the_config_file_then_flags_and_a_rerun_keeps_the_run_settings(folder):
    (folder / "config.toml").write_text("[swebench]\nworkers = 4\ntimeout = 300\n[swebench.ray]\nresource = 'engine'\n")
    env = {**NO_CLONE, "PATCHSMITH_CONFIG": str(folder / "config.toml")}
    done = patchsmith(*EVAL, "--predictions", "gold", "--run-id", "r", "--timeout", "77",
                      "--set", "swebench.ray.max_retries=5", env=env, cwd=folder)
    one_sentence(done, "has no mirror")  # the run stopped where the toy dataset makes it stop
    part = saved(folder, "r")["swebench"]
    assert (part["workers"], part["timeout"], part["ray"]["resource"], part["ray"]["max_retries"]) == (4, 77.0, "engine", 5)
    assert part["ray"]["address"] is None  # no --ray: the run stays local

    # The rerun has no config file: what the run chose is kept, and only the flag given changes.
    done = patchsmith(*EVAL, "--predictions", "gold", "--run-id", "r", "--workers", "2", env=NO_CLONE, cwd=folder)
    one_sentence(done, "has no mirror")
    part = saved(folder, "r")["swebench"]
    assert (part["workers"], part["timeout"], part["ray"]["resource"], part["ray"]["max_retries"]) == (2, 77.0, "engine", 5)


def test_infer_rerun_keeps_the_model_it_started_with(folder):
    done = patchsmith("swebench", "infer", "--dataset", "data.jsonl", "--repo-cache", "mirrors", "--run-id", "q",
                      "--model", "openai/gpt-4o", "--max-total-cost", "2.5", env=NO_CLONE, cwd=folder)
    one_sentence(done, "has no mirror")
    first = saved(folder, "q", "infer")
    assert (first["model"]["model"], first["swebench"]["max_total_cost"]) == ("openai/gpt-4o", 2.5)
    assert "sk-test" not in json.dumps(first)  # the key stays in the environment

    # Without --model a new run is refused; the rerun of q takes the model its settings.json saved.
    done = patchsmith("swebench", "infer", "--dataset", "data.jsonl", "--repo-cache", "mirrors", "--run-id", "new",
                      env=NO_CLONE, cwd=folder)
    one_sentence(done, "--model")
    done = patchsmith("swebench", "infer", "--dataset", "data.jsonl", "--repo-cache", "mirrors", "--run-id", "q",
                      env=NO_CLONE, cwd=folder)
    one_sentence(done, "has no mirror")
    assert saved(folder, "q", "infer") == first


@pytest.mark.parametrize("config, needle", [
    ("[swebench]\nworkers = 0\n", "--workers must be at least 1, not 0"),
    ("[swebench]\ngrader = 'theirs'\n", "--grader takes ours or official, not 'theirs'"),
    ("[swebench.ray]\ncpus_per_instance = -1\n", "--ray-cpus must be a positive number"),
])
def test_a_bad_swebench_setting_in_the_config_file_is_one_sentence_and_starts_nothing(folder, config, needle):
    (folder / "config.toml").write_text(config)
    done = patchsmith(*EVAL, "--predictions", "gold", "--run-id", "r",
                      env={**NO_CLONE, "PATCHSMITH_CONFIG": str(folder / "config.toml")}, cwd=folder)
    one_sentence(done, needle)
    assert not (folder / "patchsmith-runs").exists()


def test_a_ray_address_is_checked_in_its_form_first_and_then_for_an_answer(folder):
    """A malformed --ray is a settings error; a well-formed address where nothing listens is one
    sentence at once, where Ray itself would retry for minutes. Neither writes anything."""
    pytest.importorskip("ray")
    done = patchsmith(*EVAL, "--predictions", "gold", "--run-id", "r", "--ray", "nonsense", env=NO_CLONE, cwd=folder)
    one_sentence(done, "--ray takes auto, ray://HOST:PORT or HOST:PORT, not 'nonsense'")
    assert not (folder / "patchsmith-runs").exists()
    with socket.socket() as closed:  # a port nobody listens on: bound, never listened
        closed.bind(("127.0.0.1", 0))
        address = f"ray://127.0.0.1:{closed.getsockname()[1]}"
        done = patchsmith(*EVAL, "--predictions", "gold", "--run-id", "r", "--ray", address, "--workers", "1",
                          env=NO_CLONE, cwd=folder)
    one_sentence(done, f"Cannot join the Ray cluster at {address}: nothing answers")
    assert not (folder / "patchsmith-runs").exists()  # no cluster, no run: its folder is made when it starts
