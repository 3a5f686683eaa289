"""Bad input to `patchsmith swebench` and to the Docker connection, as a user meets it in a
subprocess: one sentence, a non-zero exit, no traceback, nothing started; and dataset names."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_git_repo

LITE = Path("/work/shared/data/swebench_lite_test.jsonl")


def patchsmith(*argv: str, cwd: Path, env: dict | None = None, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    base = {**os.environ, "PATCHSMITH_CACHE_DIR": str(cwd / "cache"), "PATCHSMITH_CONFIG": str(cwd / "no-config.toml")}
    return subprocess.run([*prefix, sys.executable, "-m", "patchsmith.cli", *argv], cwd=cwd, capture_output=True,
                          text=True, env={**base, **(env or {})}, timeout=300)


def one_sentence(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    for needle in needles:
        assert needle in last, done.stderr


def toy_row(instance_id: str = "owner__toy-1", repo: str = "patchsmith-test/absent") -> dict:
    return {"repo": repo, "instance_id": instance_id, "base_commit": "0" * 40, "version": "1.0", "patch": "",
            "test_patch": "", "FAIL_TO_PASS": ["t.py::test_a"], "PASS_TO_PASS": []}


@pytest.fixture
def folder(tmp_path) -> Path:
    (tmp_path / "data.jsonl").write_text(json.dumps(toy_row()) + "\n")
    (tmp_path / "mirrors").mkdir()
    return tmp_path


EVAL = ("swebench", "eval", "--dataset", "data.jsonl", "--repo-cache", "mirrors")


def test_binary_files_and_a_malformed_json_predictions_object(folder):
    (folder / "binary.jsonl").write_bytes(bytes(range(256)) * 8)
    (folder / "zeros.jsonl").write_bytes(b"\0" * 300)
    (folder / "broken.json").write_text('{"owner__toy-1": {"model_patch": ""\n')
    (folder / "strings.json").write_text('{"owner__toy-1": "diff --git a/x b/x"}\n')
    for dataset, needle in (("binary.jsonl", "is not a text file"), ("zeros.jsonl", "is a binary file")):
        done = patchsmith("swebench", "eval", "--dataset", dataset, "--predictions", "gold", "--repo-cache", "mirrors",
                          "--run-id", "r", cwd=folder)
        one_sentence(done, dataset, needle)
    for predictions, needle in (("binary.jsonl", "is not a text file"), ("broken.json", "is not valid JSON"),
                                ("strings.json", "needs instance_id and model_patch")):
        done = patchsmith(*EVAL, "--predictions", predictions, "--run-id", "r", cwd=folder)
        one_sentence(done, predictions, needle)
    assert not (folder / "patchsmith-runs").exists()
    # A well-formed object keyed by instance id is still read (pretty-printed over several lines).
    (folder / "keyed.json").write_text(json.dumps({"owner__toy-1": {"model_patch": "", "model_name_or_path": "m"}}, indent=2))
    done = patchsmith(*EVAL, "--predictions", "keyed.json", "--run-id", "r", "--instances", "nope", cwd=folder)
    one_sentence(done, "nope not in data.jsonl")


@pytest.mark.parametrize("argv, needle", [
    (("--instances", " , ,"), "--instances names no instance id"),
    (("--run-id", "../x"), "argument --run-id: must be one folder name"),
    (("--run-id", "/tmp/elsewhere"), "argument --run-id: must be one folder name"),
    (("--workers", "0"), "--workers must be at least 1, not 0"),
    (("--workers", "-3"), "--workers must be at least 1, not -3"),
    (("--timeout", "0"), "--timeout must be a positive number, not 0.0"),
    (("--timeout", "-5"), "--timeout must be a positive number, not -5.0"),
])
def test_eval_refuses_values_it_used_to_accept(folder, argv, needle):
    given = dict(zip(argv[::2], argv[1::2]))
    run_id = () if "--run-id" in given else ("--run-id", "r")
    done = patchsmith(*EVAL, "--predictions", "gold", *run_id, *argv, cwd=folder)
    one_sentence(done, needle)
    assert not (folder / "patchsmith-runs").exists() and not (folder.parent / "x").exists()


@pytest.mark.parametrize("argv, needle", [
    (("--workers", "0"), "--workers must be at least 1"),
    (("--samples", "0"), "--samples must be at least 1"),
    (("--max-cost", "0"), "--max-cost must be a positive number"),
    (("--max-cost", "-1"), "--max-cost must be a positive number"),
    (("--max-total-cost", "0"), "--max-total-cost must be a positive number"),
    (("--run-id", "a/b"), "argument --run-id: must be one folder name"),
])
def test_infer_refuses_values_it_used_to_accept(folder, argv, needle):
    given = dict(zip(argv[::2], argv[1::2]))
    run_id = () if "--run-id" in given else ("--run-id", "r")
    done = patchsmith("swebench", "infer", "--dataset", "data.jsonl", "--repo-cache", "mirrors", "--model", "openai/x",
                      *run_id, *argv, cwd=folder)
    one_sentence(done, needle)
    assert not (folder / "patchsmith-runs").exists()


def test_envs_refuses_zero_workers(folder):
    done = patchsmith("swebench", "envs", "--dataset", "data.jsonl", "--repo-cache", "mirrors", "--workers", "0",
                      "--no-build", cwd=folder)
    one_sentence(done, "--workers must be at least 1")


def test_a_missing_mirror_is_one_sentence_naming_the_repository_and_the_folder(folder):
    done = patchsmith(*EVAL, "--predictions", "gold", "--run-id", "r",
                      env={"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_ALLOW_PROTOCOL": "file"}, cwd=folder)
    one_sentence(done, "patchsmith-test/absent has no mirror in the --repo-cache folder mirrors",
                 "patchsmith-test+absent", "cloning https://github.com/patchsmith-test/absent failed: ")
    assert len(done.stderr.strip().splitlines()) == 1
    assert "stderr:" not in done.stderr and "Cloning into" not in done.stderr
    assert not any((folder / "mirrors").iterdir())  # no half clone left behind


@pytest.fixture
def refusing_socket(tmp_path):
    """A Unix socket that only its owner may open, and nobody may: what a user outside the docker
    group meets at /var/run/docker.sock. The command runs as root without its file-permission
    override (setpriv), so the kernel refuses the connection for real."""
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to drop the permission override")
    path = tmp_path / "docker.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(1)
    path.chmod(0)
    yield path
    listener.close()


def test_a_docker_socket_permission_error_says_so_and_how_to_fix_it(tmp_path, refusing_socket):
    repo = tmp_path / "repo"
    make_git_repo(repo, {"a.py": "x = 1\n"})
    drop = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search")
    done = patchsmith("solve", "--repo", str(repo), "--issue", "x is wrong", "--model", "openai/gpt-4o", cwd=tmp_path,
                      env={"DOCKER_HOST": f"unix://{refusing_socket}", "OPENAI_API_KEY": "k"}, prefix=drop)
    one_sentence(done, f"You lack permission on the Docker socket {refusing_socket}", "docker group", "DOCKER_HOST")
    assert "No Docker engine answers" not in done.stderr
    # An engine that is simply not there is still told apart.
    done = patchsmith("solve", "--repo", str(repo), "--issue", "x is wrong", "--model", "openai/gpt-4o", cwd=tmp_path,
                      env={"DOCKER_HOST": f"unix://{tmp_path}/absent.sock", "OPENAI_API_KEY": "k"})
    one_sentence(done, f"No Docker engine answers at unix://{tmp_path}/absent.sock")


def test_a_hub_name_without_the_datasets_package_says_how_to_pass_a_file(folder):
    import importlib.util

    if importlib.util.find_spec("datasets") is not None:
        pytest.skip("the datasets package is installed here; the stubbed test below covers the name")
    for argv in ((), ("--dataset", "SWE-bench/SWE-bench_Verified")):  # the default is princeton-nlp/SWE-bench_Lite
        done = patchsmith("swebench", "eval", "--repo-cache", "mirrors", "--predictions", "gold", "--run-id", "r", *argv,
                          cwd=folder)
        name = argv[1] if argv else "princeton-nlp/SWE-bench_Lite"
        one_sentence(done, f"--dataset {name} names a Hugging Face Hub dataset", "pip install 'patchsmith[datasets]'",
                     "pass a local JSON Lines file with --dataset FILE")
    # A file that is not there is not taken for a Hub name.
    done = patchsmith(*EVAL[:2], "--dataset", "data/lite.jsonl", "--repo-cache", "mirrors", "--predictions", "gold",
                      "--run-id", "r", cwd=folder)
    one_sentence(done, "cannot read data/lite.jsonl")


STUB = '''\
"""Stands in for the datasets package (no network here): records what it was asked, answers rows."""
import json, os

def load_dataset(path, split=None, **options):
    with open(os.environ["STUB_ASKED"], "a") as log:
        log.write(json.dumps([path, split]) + "\\n")
    if path == "no/such-dataset":
        raise FileNotFoundError(f"Dataset '{path}' doesn't exist on the Hub or cannot be accessed.")
    return [json.loads(line) for line in open(os.environ["STUB_ROWS"])]
'''


def test_a_hub_name_and_its_split_reach_the_datasets_loader(folder):
    """The loader is a stub on PYTHONPATH: no network is reachable from here, so the real Hub is not."""
    stub = folder / "stub" / "datasets"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(STUB)
    rows = [toy_row("owner__toy-1"), toy_row("owner__toy-2")]
    rows[1]["FAIL_TO_PASS"] = json.dumps(["t.py::test_b"])  # the Hub stores the test lists as JSON strings
    (folder / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    env = {"PYTHONPATH": f"{folder / 'stub'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "STUB_ASKED": str(folder / "asked.jsonl"), "STUB_ROWS": str(folder / "rows.jsonl")}
    for dataset in ("princeton-nlp/SWE-bench_Lite", "SWE-bench/SWE-bench_Verified:dev"):
        done = patchsmith("swebench", "eval", "--dataset", dataset, "--repo-cache", "mirrors", "--predictions", "gold",
                          "--run-id", "r", "--instances", "owner__toy-2", "owner__toy-9", cwd=folder, env=env)
        one_sentence(done, f"owner__toy-9 not in {dataset}")  # owner__toy-2 was found in the loaded rows
    done = patchsmith("swebench", "eval", "--dataset", "no/such-dataset", "--repo-cache", "mirrors", "--predictions",
                      "gold", "--run-id", "r", cwd=folder, env=env)
    one_sentence(done, "could not load split test of no/such-dataset from the Hugging Face Hub",
                 "pass a local JSON Lines file with --dataset FILE")
    asked = [json.loads(line) for line in (folder / "asked.jsonl").read_text().splitlines()]
    assert asked == [["princeton-nlp/SWE-bench_Lite", "test"], ["SWE-bench/SWE-bench_Verified", "dev"],
                     ["no/such-dataset", "test"]]
    # A local file named like owner/name is read as the file, not looked up.
    (folder / "SWE-bench").mkdir()
    (folder / "SWE-bench" / "local").write_text(json.dumps(toy_row("owner__toy-3")) + "\n")
    done = patchsmith("swebench", "eval", "--dataset", "SWE-bench/local", "--repo-cache", "mirrors", "--predictions",
                      "gold", "--run-id", "r", "--instances", "owner__toy-4", cwd=folder, env=env)
    one_sentence(done, "owner__toy-4 not in SWE-bench/local")
    assert len((folder / "asked.jsonl").read_text().splitlines()) == 3


@pytest.mark.parametrize("command", [("localize", "--dry-run"), ("reproduce", "--model", "openai/gpt-4o")])
def test_localize_and_reproduce_refuse_an_out_folder_that_is_a_file(tmp_path, command):
    repo = tmp_path / "repo"
    make_git_repo(repo, {"a.py": "x = 1\n"})
    (tmp_path / "a-file").write_text("mine\n")
    for out in ("a-file", "a-file/run"):
        done = patchsmith(command[0], "--repo", str(repo), "--issue", "x is wrong", *command[1:], "--out", out,
                          cwd=tmp_path, env={"OPENAI_API_KEY": "k"})
        one_sentence(done, f"the run folder {out} cannot be made: a-file is a file, not a folder")
    assert (tmp_path / "a-file").read_text() == "mine\n"


@pytest.mark.parametrize("argv, needle", [
    (EVAL + ("--predictions", "gold", "--run-id", "r", "--out", "a-file"),
     "the run folder (--out/--run-id) a-file/r cannot be made: a-file is a file, not a folder"),
    (("swebench", "infer", "--dataset", "data.jsonl", "--repo-cache", "mirrors", "--model", "openai/x", "--run-id", "r",
      "--out", "a-file"), "the run folder (--out/--run-id) a-file/r cannot be made: a-file is a file, not a folder"),
    (("swebench", "eval", "--dataset", "data.jsonl", "--repo-cache", "a-file", "--predictions", "gold", "--run-id", "r"),
     "--repo-cache a-file is a file"),
    (("swebench", "envs", "--dataset", "data.jsonl", "--repo-cache", "mirrors", "--log-dir", "a-file/logs"),
     "the --log-dir folder a-file/logs cannot be made"),
])
def test_swebench_folders_that_cannot_be_written_are_one_sentence(folder, argv, needle):
    (folder / "a-file").write_text("mine\n")
    done = patchsmith(*argv, cwd=folder)
    one_sentence(done, needle)
    assert (folder / "a-file").read_text() == "mine\n"


def test_a_read_only_out_folder_is_one_sentence(folder):
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to drop the permission override")
    (folder / "read-only").mkdir(mode=0o555)
    done = patchsmith(*EVAL, "--predictions", "gold", "--run-id", "r", "--out", "read-only", cwd=folder,
                      prefix=("setpriv", "--bounding-set", "-dac_override,-dac_read_search"))
    one_sentence(done, "the run folder (--out/--run-id) read-only/r cannot be written (Permission denied)")


def test_infer_checks_the_model_before_any_instance(folder):
    env = {name: value for name, value in os.environ.items() if name != "OPENAI_API_KEY"}
    done = subprocess.run([sys.executable, "-m", "patchsmith.cli", "swebench", "infer", "--dataset", "data.jsonl",
                           "--repo-cache", "mirrors", "--model", "openai/gpt-4o", "--run-id", "r"], cwd=folder,
                          capture_output=True, text=True, timeout=300,
                          env={**env, "PATCHSMITH_CACHE_DIR": str(folder / "cache"), "PATCHSMITH_CONFIG": str(folder / "none"),
                               "GIT_ALLOW_PROTOCOL": "file"})
    one_sentence(done, "no API key for openai/gpt-4o: set OPENAI_API_KEY")
    assert not (folder / "patchsmith-runs" / "swebench" / "r" / "infer" / "predictions.jsonl").exists()
    assert not any((folder / "mirrors").iterdir())  # no clone was tried
