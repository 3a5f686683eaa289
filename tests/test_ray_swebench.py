"""`patchsmith swebench eval --ray` on a local cluster of two nodes, each with its own dockerd, cache
root and repository cache (tests/ray_nodes.py), on three fixture instances in two environments
(tests/ray_fixture.py). The driver's own DOCKER_HOST names no engine, so nothing works through it.

The tests share one cluster and run in file order; the last one kills a node.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ray_fixture import (
    NAMES, FolderServer, comparable, download_wheels, floating_table, make_dataset, patchsmith, reports, write_wheel,
)
from scripted_model import ScriptedModel
from ray_nodes import LocalCluster, Registry

pytestmark = pytest.mark.docker

IDS = ["fixture__ray-1", "fixture__ray-2", "fixture__ray-3"]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    return download_wheels(tmp_path_factory.mktemp("ray-wheels"))


@pytest.fixture(scope="module")
def world(tmp_path_factory, wheels, bookworm_base_image, sandbox_cache_dir):
    """(dataset, driver's repo cache, slow dataset, cluster with nodes ray20-a and ray20-b)."""
    from patchsmith.sandbox.base import BaseSpec

    root = tmp_path_factory.mktemp("ray-world")
    dataset, mirrors = make_dataset(root / "quick", wheels)
    slow, _ = make_dataset(root / "slow", wheels, sleep=8)  # the same commit: the same images
    tarball = next((sandbox_cache_dir / "base").glob(f"bookworm-{BaseSpec(suite='bookworm').recipe_hash()}.*"))
    with LocalCluster(mirror_of=mirrors / "fixture+ray", base_tarball=tarball) as cluster:
        cluster.add_node("ray20-a")
        cluster.add_node("ray20-b")
        cluster.wait_for_nodes("ray20-a", "ray20-b")
        yield dataset, mirrors, slow, cluster


def driver_env() -> dict:
    """The driver's environment: no Docker engine of its own to lean on."""
    return {**os.environ, "DOCKER_HOST": "unix:///nonexistent/ray20-driver.sock", "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "disabled"}  # as the cluster's nodes (tests/ray_nodes.py)


def eval_args(dataset: Path, mirrors: Path, out: Path, run_id: str, *extra: str) -> list[str]:
    return ["swebench", "eval", "--dataset", str(dataset), "--repo-cache", str(mirrors), "--predictions", "gold",
            "--run-id", run_id, "--out", str(out), *extra]


def images(cluster: LocalCluster, node: str, repository: str) -> list[str]:
    listed = cluster.dockerds[node].docker("images", "--format", "{{.Repository}}:{{.Tag}}", repository).stdout
    return sorted(listed.split())


def test_eval_on_ray_equals_the_local_runner_and_keeps_each_environment_on_one_node(world, tmp_path: Path):
    dataset, mirrors, _, cluster = world
    local = patchsmith(*eval_args(dataset, mirrors, tmp_path, "local"))
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]
    ray = patchsmith(*eval_args(dataset, mirrors, tmp_path, "ray", "--ray", cluster.address), env=driver_env())
    assert ray.returncode == 0, ray.stdout[-3000:] + ray.stderr[-3000:]
    assert "completed 3, resolved 3" in ray.stdout
    assert "\x1b" not in ray.stdout + ray.stderr  # piped: plain lines, no live table's cursor codes
    board = [line for line in ray.stdout.splitlines() if line.startswith("nodes: ")]  # one after each instance
    assert len(board) == 3 and board[-1].endswith("; ETA 0s"), ray.stdout
    assert sum(int(count) for count in re.findall(r"(\d+) done", board[-1])) == 3
    assert board[-1].count("0 failed, 0 running, 0 waiting") == 2  # both nodes, ray20-a and ray20-b

    ours, theirs = reports(tmp_path / "ray"), reports(tmp_path / "local")
    assert sorted(ours) == IDS
    for instance_id in IDS:
        assert comparable(ours[instance_id]) == comparable(theirs[instance_id]), instance_id
        assert ours[instance_id]["node"] in ("ray20-a", "ray20-b")
    for instance_id in IDS:  # the local runner's files, and the instance image's build log where one was built
        names = {path.name for path in (tmp_path / "ray" / "gold" / instance_id).iterdir()}
        assert {path.name for path in (tmp_path / "local" / "gold" / instance_id).iterdir()} - {"instance_image.log"} <= names
        assert {"report.json", "patch.diff", "eval.sh", "test_output.txt", "run_instance.log"} <= names
    summary = json.loads((tmp_path / "ray" / "gold.ray.json").read_text())
    local_summary = json.loads((tmp_path / "local" / "gold.local.json").read_text())
    assert {k: v for k, v in summary.items() if k != "patchsmith"} == {k: v for k, v in local_summary.items() if k != "patchsmith"}

    # Affinity: each environment's instances on one node, and the two environments on two nodes.
    by_version = {"1.0": {ours[i]["node"] for i in IDS[:2]}, "2.0": {ours["fixture__ray-3"]["node"]}}
    assert len(by_version["1.0"]) == 1 and len(by_version["2.0"]) == 1 and by_version["1.0"] != by_version["2.0"]
    node_of_1 = by_version["1.0"].pop()
    env_images = images(cluster, node_of_1, "patchsmith-swebench-env")
    assert len(env_images) == 1 and "fixture__ray-1.0" in env_images[0]  # the other node built 2.0, not this one

    again = patchsmith(*eval_args(dataset, mirrors, tmp_path, "ray", "--ray", cluster.address), env=driver_env())
    assert again.returncode == 0 and "3 instance(s) already graded in this run" in again.stdout, again.stdout[-2000:]


def test_a_killed_driver_restarted_with_the_run_id_resumes(world, tmp_path: Path):
    _, mirrors, slow, cluster = world
    args = [sys.executable, "-m", "patchsmith.cli", *eval_args(slow, mirrors, tmp_path, "resume", "--ray", cluster.address)]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=driver_env())
    written = [tmp_path / "resume" / "gold" / i / "report.json" for i in IDS]
    deadline = time.monotonic() + 600
    while not any(path.exists() for path in written):
        assert first.poll() is None, first.stdout.read()
        assert time.monotonic() < deadline, "no instance was ever graded"
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)  # the driver dies at once; its tasks go with it
    first.wait()
    kept = {path: path.read_bytes() for path in written if path.exists()}
    assert 1 <= len(kept) < 3

    second = patchsmith(*args[3:], env=driver_env())
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"{len(kept)} instance(s) already graded in this run" in second.stdout
    graded = [line for line in second.stdout.splitlines() if line.startswith("[")]
    assert len(graded) == 3 - len(kept)
    assert all(path.read_bytes() == data for path, data in kept.items())  # nothing graded twice
    assert "completed 3, resolved 3" in second.stdout


def test_a_node_of_another_patchsmith_release_is_refused(world, tmp_path: Path):
    dataset, mirrors, _, cluster = world
    fake = tmp_path / "site"
    (fake / "patchsmith-9.9.9.dist-info").mkdir(parents=True)
    (fake / "patchsmith-9.9.9.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: patchsmith\nVersion: 9.9.9\n")
    # Its own resource, so that the other tests never see this node. Its workers find release 9.9.9
    # first on their path. (The driver runs outside the checkout, whose egg-info Ray would put first.)
    cluster.add_node("ray20-odd", docker=False, extra_env={"PYTHONPATH": str(fake)}, resource="docker-odd")
    cluster.wait_for_nodes("ray20-odd")
    done = patchsmith(*eval_args(dataset, mirrors, tmp_path, "odd", "--ray", cluster.address, "--ray-resource", "docker-odd"),
                      env=driver_env(), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Ray node ray20-odd runs patchsmith 9.9.9, the driver 0.1.0; install the same release on every node." in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "odd").exists()


def test_without_ray_the_flag_says_how_to_install_it(tmp_path: Path):
    blocker = tmp_path / "no-ray"
    (blocker / "ray").mkdir(parents=True)
    (blocker / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    dataset = tmp_path / "d.jsonl"
    dataset.write_text("")
    done = patchsmith("swebench", "eval", "--dataset", str(dataset), "--repo-cache", str(tmp_path), "--predictions", "gold",
                      "--run-id", "x", "--out", str(tmp_path / "out"), "--ray", env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "Ray is not installed; install it with `pip install 'patchsmith[ray]'`." in done.stderr


def test_with_a_registry_the_second_node_pulls_what_the_first_built(world, tmp_path: Path):
    dataset, mirrors, _, cluster = world
    for name in ("ray20-c", "ray20-d"):  # fresh engines; each is chosen by its own name (a resource of its own)
        cluster.add_node(name, resource="docker-registry-test")
    cluster.wait_for_nodes("ray20-c", "ray20-d")
    with Registry(tmp_path / "registry") as registry:
        for run_id, instance, node in (("first", "fixture__ray-1", "ray20-c"), ("second", "fixture__ray-2", "ray20-d")):
            done = patchsmith(*eval_args(dataset, mirrors, tmp_path, run_id, "--instances", instance, "--ray", cluster.address,
                                         "--ray-resource", node, "--image-registry", registry.address), env=driver_env())
            assert done.returncode == 0 and "resolved 1" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
        first = reports(tmp_path / "first")["fixture__ray-1"]
        second = reports(tmp_path / "second")["fixture__ray-2"]
    assert (first["node"], first["environment_built_now"], first["environment_pulled"]) == ("ray20-c", True, False)
    assert (second["node"], second["environment_built_now"], second["environment_pulled"]) == ("ray20-d", False, True)
    assert not (tmp_path / "second" / "env-logs" / "fixture__ray-1.0.log").exists()  # no build ran there
    image_ids = {node: cluster.dockerds[node].docker("images", "-q", first["environment_image"]).stdout.strip()
                 for node in ("ray20-c", "ray20-d")}
    assert image_ids["ray20-c"] and image_ids["ray20-c"] == image_ids["ray20-d"]  # the very same image
    assert images(cluster, "ray20-d", "127.0.0.1") == []  # only the local name stays


def test_a_second_node_that_builds_a_tag_installs_the_versions_the_first_resolved(world, wheels, tmp_path: Path):
    """The recipe's `floaty` floats: the index serves 1.0 while ray20-e builds, then 2.0 too; ray20-f,
    building the same tag later (another run, the same driver), must still install 1.0."""
    _, _, _, cluster = world
    index = tmp_path / "index"
    index.mkdir()
    write_wheel(index, "floaty", "1.0")
    node_mirrors = {name: tmp_path / f"mirrors-{name}" for name in ("ray20-e", "ray20-f")}
    for name, folder in node_mirrors.items():
        folder.mkdir()
        cluster.add_node(name, resource="docker-pins-test", extra_env={"PATCHSMITH_REPO_CACHE": str(folder)})
    cluster.wait_for_nodes(*node_mirrors)
    with FolderServer(index) as served:
        # The machine's address on ray20-e's bridge: ray20-f's containers reach it too (a local address).
        url = f"http://{cluster.dockerds['ray20-e'].gateway}:{served.port}/"
        dataset, mirrors = make_dataset(tmp_path / "float", wheels, table=floating_table(url))
        for folder in node_mirrors.values():
            subprocess.run(["git", "clone", "-q", "--mirror", str(mirrors / "fixture+ray"), str(folder / "fixture+ray")], check=True)
        env = {**driver_env(), "PATCHSMITH_CACHE_DIR": str(tmp_path / "driver-cache")}
        for run_id, instance, node in (("first", "fixture__ray-1", "ray20-e"), ("second", "fixture__ray-2", "ray20-f")):
            done = patchsmith(*eval_args(dataset, mirrors, tmp_path, run_id, "--instances", instance, "--ray", cluster.address,
                                         "--ray-resource", node), env=env)
            assert done.returncode == 0 and "resolved 1" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
            write_wheel(index, "floaty", "2.0")  # from now on the requirement resolves to 2.0
        first = reports(tmp_path / "first")["fixture__ray-1"]
        second = reports(tmp_path / "second")["fixture__ray-2"]
        assert (first["node"], first["environment_built_now"]) == ("ray20-e", True)
        assert (second["node"], second["environment_built_now"]) == ("ray20-f", True)
        tag = first["environment_image"]
        assert second["environment_image"] == tag

        def in_image(node: str, command: str) -> str:
            done = cluster.dockerds[node].docker("run", "--rm", tag, "sh", "-c", command)
            assert done.returncode == 0, done.stderr
            return done.stdout.strip()

        # The float is real: the index now resolves floaty to 2.0, from either node's containers.
        assert "floaty-2.0" in in_image("ray20-f", "pip download -q --no-deps -d /tmp/d floaty && ls /tmp/d")
        assert in_image("ray20-e", "python -c 'import floaty; print(floaty.VERSION)'") == "1.0"
        assert in_image("ray20-f", "python -c 'import floaty; print(floaty.VERSION)'") == "1.0"
    label = json.loads(cluster.dockerds["ray20-f"].docker("inspect", "--format", "{{json .Config.Labels}}", tag).stdout)
    assert "floaty==1.0" in label["patchsmith.resolved"].splitlines()
    records = json.loads((tmp_path / "driver-cache" / "swebench" / "resolved-versions.json").read_text())
    assert "floaty==1.0" in records[tag].splitlines()
    kept_env = cluster.dockerds["ray20-f"].docker("inspect", "--format", "{{json .Config.Env}}", tag).stdout
    assert "PIP_CONSTRAINT" not in kept_env  # the build's constraint stays out of the image


def fixture_answer(request: dict) -> list[str]:
    """The scripted model's answer for the fixture instance whose function the issue names."""
    prompt = request["messages"][-1]["content"]
    number = next(n for n, name in NAMES.items() if f"fix.{name}()" in " ".join(m["content"] for m in request["messages"]))
    name = NAMES[number]
    if "Which files would a developer edit" in prompt:
        text = "```\nfix/__init__.py\n```"
    elif "Name the classes, functions" in prompt:
        text = f"```\nfix/__init__.py::{name}\n```"
    elif "Where exactly must the code change" in prompt:
        start = 4 * (number - 1) + 1
        text = f"```\nfix/__init__.py:{start}-{start + 1} {name}\n```"
    elif "standalone Python script" in prompt:
        text = (f'```python\nimport fix\nprint("PATCHSMITH_VERDICT: " + ("resolved" if fix.{name}() == {number} '
                f'else "reproduced"))\n```')
    elif "Existing tests that pass before the fix" in prompt:
        text = "NONE"
    elif "Answer with one or more edit blocks" in prompt:
        text = (f"@@@ FILE fix/__init__.py\n@@@ SEARCH\ndef {name}():\n    return 0\n@@@ REPLACE\ndef {name}():\n"
                f"    return {number}\n@@@ END\n")
    else:
        raise AssertionError(prompt[:200])
    return [text] * int(request.get("n") or 1)


def test_infer_on_ray_writes_the_predictions_of_the_local_runner_and_keeps_the_key_out_of_files(world, tmp_path: Path):
    dataset, mirrors, _, cluster = world
    secret = "sk-ray20-" + os.urandom(8).hex()
    with ScriptedModel([fixture_answer] * 400) as server:
        env = {**driver_env(), "OPENAI_API_KEY": secret, "PATCHSMITH_CACHE_DIR": str(tmp_path / "driver-cache")}
        common = ["swebench", "infer", "--dataset", str(dataset), "--repo-cache", str(mirrors), "--model", "openai/scripted",
                  "--api-base", server.url, "--samples", "2", "--instances", "fixture__ray-1", "fixture__ray-3",
                  "--out", str(tmp_path)]
        local = patchsmith(*common, "--run-id", "local", env={**env, "DOCKER_HOST": os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")})
        assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]
        ray = patchsmith(*common, "--run-id", "ray", "--ray", cluster.address, env=env)
        assert ray.returncode == 0, ray.stdout[-3000:] + ray.stderr[-3000:]
        assert any(secret in str(headers) for headers in server.headers)  # the key did reach the model

    def rows(run_id: str) -> list[dict]:
        lines = (tmp_path / run_id / "infer" / "predictions.jsonl").read_text().splitlines()
        return sorted((json.loads(line) for line in lines), key=lambda row: row["instance_id"])

    assert rows("ray") == rows("local") and len(rows("ray")) == 2
    assert all(f"+    return {n}" in row["model_patch"] for n, row in zip((1, 3), rows("ray")))
    assert (tmp_path / "ray" / "infer" / "runs" / "fixture__ray-3" / "report.md").is_file()
    assert "on ray20-" in ray.stdout
    leaked = [path for folder in (tmp_path / "ray", cluster.root) for path in folder.rglob("*")
              if path.is_file() and not path.is_socket() and secret.encode() in path.read_bytes()]
    assert leaked == []


def test_infer_with_a_registry_the_second_node_pulls_what_the_first_built(world, tmp_path: Path):
    dataset, mirrors, _, cluster = world
    for name in ("ray20-g", "ray20-h"):  # fresh engines, each chosen by its own name
        cluster.add_node(name, resource="docker-infer-registry-test")
    cluster.wait_for_nodes("ray20-g", "ray20-h")
    with Registry(tmp_path / "registry") as registry, ScriptedModel([fixture_answer] * 400) as server:
        env = {**driver_env(), "OPENAI_API_KEY": "sk-ray20-registry", "PATCHSMITH_CACHE_DIR": str(tmp_path / "driver-cache")}
        for instance, node in (("fixture__ray-1", "ray20-g"), ("fixture__ray-2", "ray20-h")):
            done = patchsmith("swebench", "infer", "--dataset", str(dataset), "--repo-cache", str(mirrors), "--model",
                              "openai/scripted", "--api-base", server.url, "--samples", "1", "--instances", instance,
                              "--out", str(tmp_path), "--run-id", node, "--ray", cluster.address, "--ray-resource", node,
                              "--image-registry", registry.address, env=env)
            assert done.returncode == 0 and "1 of 1 instances have a patch" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    env_images = {node: images(cluster, node, "patchsmith-swebench-env") for node in ("ray20-g", "ray20-h")}
    assert len(env_images["ray20-g"]) == 1 and env_images["ray20-g"] == env_images["ray20-h"]
    image_ids = {node: cluster.dockerds[node].docker("images", "-q", env_images[node][0]).stdout.strip()
                 for node in ("ray20-g", "ray20-h")}
    # The very same image: a build of its own on ray20-h would have another id (its own creation time).
    assert image_ids["ray20-g"] and image_ids["ray20-g"] == image_ids["ray20-h"]


def test_infer_refuses_a_registry_address_that_is_not_host_port(tmp_path: Path):
    dataset = tmp_path / "d.jsonl"
    dataset.write_text("")
    done = patchsmith("swebench", "infer", "--dataset", str(dataset), "--repo-cache", str(tmp_path), "--model", "openai/scripted",
                      "--run-id", "x", "--out", str(tmp_path / "out"), "--image-registry", "registry.example/x",
                      env={**os.environ, "OPENAI_API_KEY": "sk-test"})
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "--image-registry wants HOST:PORT, not 'registry.example/x'." in done.stderr


def test_infer_on_ray_keeps_the_total_cost_cap_at_the_driver(world, tmp_path: Path):
    """Two nodes start one instance each; once the first is back the run has spent past the cap (no
    cached answer from the tests before may make a call free), so the third never starts, gets no
    prediction line (a rerun tries it), and leaves the board's total."""
    dataset, mirrors, _, cluster = world
    with ScriptedModel([fixture_answer] * 400) as server:
        done = patchsmith("swebench", "infer", "--dataset", str(dataset), "--repo-cache", str(mirrors),
                          "--model", "openai/scripted", "--api-base", server.url, "--price", "1000,1000",
                          "--max-total-cost", "0.001", "--samples", "1", "--no-cache", "--instances", *IDS, "--out", str(tmp_path),
                          "--run-id", "capped", "--ray", cluster.address,
                          env={**driver_env(), "OPENAI_API_KEY": "sk-ray20-cap", "PATCHSMITH_CACHE_DIR": str(tmp_path / "driver-cache")})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((tmp_path / "capped" / "infer" / "infer-summary.json").read_text())
    outcomes = summary["outcomes"]
    assert sorted(outcomes.values()).count("not started: total cost cap reached") == 1, outcomes
    assert summary["cost_usd"] >= 0.001
    predicted = (tmp_path / "capped" / "infer" / "predictions.jsonl").read_text().splitlines()
    assert len(predicted) == 2
    board_lines = [line for line in done.stdout.splitlines() if line.startswith("nodes: ")]
    assert board_lines[-1].endswith("ETA 0s"), board_lines  # nothing left once the third left the total


def test_a_node_killed_mid_run_is_retried_elsewhere_and_each_instance_is_graded_once(world, tmp_path: Path):
    _, mirrors, slow, cluster = world
    args = [sys.executable, "-m", "patchsmith.cli", *eval_args(slow, mirrors, tmp_path, "kill", "--ray", cluster.address)]
    driver = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=driver_env())
    deadline = time.monotonic() + 600
    victim = None
    while victim is None:  # the first node that runs a test container
        assert driver.poll() is None, driver.stdout.read()
        assert time.monotonic() < deadline, "no test container ever ran"
        for name in ("ray20-b", "ray20-a"):
            if any(line.startswith("patchsmith-swebench-instance") for line in
                   cluster.dockerds[name].docker("ps", "--format", "{{.Image}}").stdout.splitlines()):
                victim = name
                break
        time.sleep(0.2)
    cluster.kill_node(victim)
    out, _ = driver.communicate(timeout=900)
    assert driver.returncode == 0, out[-3000:]
    assert "completed 3, resolved 3" in out, out[-3000:]
    for instance_id in IDS:
        assert sum(1 for line in out.splitlines() if line.startswith("[") and f" {instance_id} on " in line) == 1, out
    survivor = "ray20-a" if victim == "ray20-b" else "ray20-b"
    assert {r["node"] for r in reports(tmp_path / "kill").values()} == {survivor}
