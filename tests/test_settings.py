"""The settings tree: one default per knob, the layers in order, settings.json round trip, and what
a repository being fixed may not set."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from patchsmith import settings as tree

ROOT = Path(__file__).resolve().parent.parent


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    tree.add_flags(parser, tree.PARTS)
    return parser.parse_args(list(argv))


def test_layers_last_wins(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[model]\nmodel = "openai/from-file"\nmax_cost = 2.0\n[repair]\nsamples = 6\ntemperature = 0.3\n')
    env = {"PATCHSMITH_CONFIG": str(config), "PATCHSMITH_MODEL": "openai/from-env"}
    loaded = tree.load(parsed("--samples", "3", "--set", "repair.samples=5", "--set", "reproduce.regression.max_files=2"), env)
    assert loaded.model.model == "openai/from-env"  # environment over the file
    assert loaded.model.max_cost == 2.0  # the file over the default
    assert loaded.repair.samples == 5  # --set after the shortcut flag
    assert loaded.repair.temperature == 0.3
    assert loaded.reproduce.regression.max_files == 2
    assert tree.load(parsed(), {}).repair.samples == 4  # the default, declared once on RepairSettings


def test_settings_json_round_trip_keeps_the_whole_tree_and_no_secret():
    custom = tree.with_values(tree.Settings(), {"model.model": "openai/x", "model.api_key": "sk-secret",
                                                "model.price_per_token": "0.000001,0.000002", "index.workers": 2})
    data = json.loads(json.dumps(tree.to_dict(custom)))
    assert set(data) == set(tree.PARTS) and "sk-secret" not in json.dumps(data)
    back = tree.from_dict(data)
    assert back == dataclasses.replace(custom, model=dataclasses.replace(custom.model, api_key=None))


def test_resume_keeps_the_runs_settings_over_the_environment():
    saved = tree.to_dict(tree.with_values(tree.Settings(), {"model.model": "openai/original", "model.max_cost": 1.5}))
    again = tree.resumed(saved, parsed())
    assert again.model.model == "openai/original" and again.model.max_cost == 1.5
    assert tree.resumed(saved, parsed("--max-cost", "3")).model.max_cost == 3.0  # a flag given to the resume wins


@pytest.mark.parametrize(("argv", "message"), [
    (["--samples", "0"], "--samples must be at least 1"),
    (["--max-cost", "-1"], "--max-cost must be a positive number"),
    (["--script-timeout", "0"], "--script-timeout must be a positive number"),
    (["--max-cost", "lots"], "--max-cost takes a number"),
    (["--set", "model.nope=1"], "there is no setting 'model.nope'"),
    (["--set", "samples"], "--set takes PART.KEY=VALUE"),
])
def test_bad_values_are_one_sentence(argv, message):
    with pytest.raises(tree.SettingsError, match=message.replace(".", r"\.")):
        tree.load(parsed(*argv), {})


def test_each_shortcut_flag_names_one_setting():
    flags = [(item.metadata["flag"], name) for name, item, _ in tree.leaves() if item.metadata.get("flag")]
    assert len({flag for flag, _ in flags}) == len(flags)
    assert ("--samples", "repair.samples") in flags and ("--max-cost", "model.max_cost") in flags


def test_a_repository_cannot_choose_the_model_or_its_endpoint(tmp_path):
    repo = tmp_path / "foreign"
    repo.mkdir()
    (repo / "pyproject.toml").write_text('[tool.patchsmith.model]\napi_base = "http://evil.example"\n'
                                         '[tool.patchsmith.sandbox]\npython = "3.11"\n')
    assert tree.ignored_repository_tables(repo) == ["model"]
    # No layer reads it: run from inside that repository, the settings are the user's.
    done = subprocess.run([sys.executable, "-c", "import argparse; from patchsmith import settings as s; "
                           "p = argparse.ArgumentParser(); s.add_flags(p, s.PARTS); print(s.load(p.parse_args([])).model.api_base)"],
                          cwd=repo, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, check=True)
    assert done.stdout.strip() == "None"


@pytest.mark.parametrize(("argv", "message"), [
    (["--issue", "isue.md"], "there is no issue file isue.md"),
    (["--issue", "docs/ISSUE"], "there is no issue file docs/ISSUE"),
    (["--issue", "ISSUE.md", "--samples", "0"], "--samples must be at least 1"),
    (["--issue", "ISSUE.md", "--max-cost", "0"], "--max-cost must be a positive number"),
])
def test_solve_refuses_bad_input_before_any_work(tmp_path, argv, message):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "ISSUE.md").write_text("# a bug\n\nit breaks\n")
    done = subprocess.run([sys.executable, "-m", "patchsmith.cli", "solve", "--repo", str(repo), "--model", "openai/x", *argv],
                          cwd=repo, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert not (repo / "patchsmith-runs").exists()  # nothing was started
