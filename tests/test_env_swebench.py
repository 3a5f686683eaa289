"""A SWE-bench-format dataset of a repository no spec was written for: `swebench eval` infers its
environment (dated by the environment commit) and grades pytest node ids with it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from test_env_inference import dated_repo

pytestmark = pytest.mark.docker

FILES = {
    "setup.py": "from setuptools import setup\nsetup(name='mini', packages=['mini'], extras_require={'test': ['six']})\n",
    "mini/__init__.py": "def halve(x):\n    return x / 3\n\n\ndef triple(x):\n    return x * 2\n",
    "tests/conftest.py": "import six  # from the test extra\nimport mini._vendored\n",
    # Builds a code object at import with Python 3.7's 15 arguments, as vendored cloudpickle did.
    "mini/_vendored.py": ("import types\n\nco = (lambda: None).__code__\n"
                          "CODE = types.CodeType(co.co_argcount, co.co_kwonlyargcount, co.co_nlocals, co.co_stacksize,\n"
                          "    co.co_flags, co.co_code, co.co_consts, co.co_names, co.co_varnames, co.co_filename,\n"
                          "    co.co_name, co.co_firstlineno, co.co_lnotab, co.co_freevars, co.co_cellvars)\n"),
    "tests/test_mini.py": "import mini\n\n\ndef test_import():\n    assert mini\n",
}


def _patch(old: str, new: str) -> str:
    return (f"diff --git a/mini/__init__.py b/mini/__init__.py\n--- a/mini/__init__.py\n+++ b/mini/__init__.py\n"
            f"@@ -1,6 +1,6 @@\n def halve(x):\n{old}\n \n \n def triple(x):\n{new}\n")


GOLD = {1: _patch("-    return x / 3\n+    return x / 2", "     return x * 2"),
        2: _patch("     return x / 3", "-    return x * 2\n+    return x * 3")}
TEST_CALL = {1: "mini.halve(4) == 2", 2: "mini.triple(2) == 6"}


def _test_patch(number: int) -> str:
    return (f"diff --git a/tests/test_mini.py b/tests/test_mini.py\n--- a/tests/test_mini.py\n+++ b/tests/test_mini.py\n"
            f"@@ -3,3 +3,7 @@ import mini\n \n def test_import():\n     assert mini\n+\n+\n+def test_fix_{number}():\n"
            f"+    assert {TEST_CALL[number]}\n")


def test_eval_grades_a_dataset_without_a_spec_from_an_inferred_environment(tmp_path: Path):
    """Dated before Python 3.8 and pytest 4.5, on 3.9: the tree's 15-argument code object gets the
    old constructor back, and pytest of the date, whose -rA summary leaves passing tests out,
    names them in its verbose lines."""
    work = tmp_path / "mini"
    commit = dated_repo(work, FILES, stamp="2019-04-09T12:00:00+00:00")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "fixture+mini").symlink_to(work)
    rows = [{"repo": "fixture/mini", "instance_id": f"fixture__mini-{n}", "base_commit": commit, "version": "0.1",
             "patch": GOLD[n], "test_patch": _test_patch(n), "environment_setup_commit": commit,
             "FAIL_TO_PASS": json.dumps([f"tests/test_mini.py::test_fix_{n}"]),
             "PASS_TO_PASS": json.dumps(["tests/test_mini.py::test_import"])} for n in (1, 2)]
    dataset = tmp_path / "dataset.jsonl"
    dataset.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "runs"
    for predictions in ("gold", "empty"):
        done = subprocess.run([sys.executable, "-m", "patchsmith.cli", "swebench", "eval", "--dataset", str(dataset),
                               "--repo-cache", str(cache), "--predictions", predictions, "--run-id", predictions,
                               "--out", str(out)], capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        wanted = "completed 2, resolved 2" if predictions == "gold" else "empty patch 2 (graded 2, resolved 0)"
        assert wanted in done.stdout, done.stdout[-3000:]
    # pytest of the date needs atomicwrites, whose releases were all uploaded again in 2022: without
    # one for it, pip took a pytest older than that need (3.5).
    assert "pytest-4.4.0" in (out / "gold" / "gold" / "fixture__mini-1" / "test_output.txt").read_text()
    for n in (1, 2):
        report = json.loads((out / "gold" / "gold" / f"fixture__mini-{n}" / "report.json").read_text())[f"fixture__mini-{n}"]
        assert report["resolved"] and report["environment_source"].startswith("inferred (dated; date 2019-04-09")
        assert report["tests_status"]["FAIL_TO_PASS"]["success"] == [f"tests/test_mini.py::test_fix_{n}"]
        empty = json.loads((out / "empty" / "empty" / f"fixture__mini-{n}" / "report.json").read_text())[f"fixture__mini-{n}"]
        assert empty["tests_status"]["FAIL_TO_PASS"]["failure"] == [f"tests/test_mini.py::test_fix_{n}"]
        assert empty["tests_status"]["PASS_TO_PASS"]["success"] == ["tests/test_mini.py::test_import"]


def test_a_spec_that_asks_dates_only_its_unpinned_packages_in_a_real_build(tmp_path: Path, sandbox_cache_dir: Path):
    from patchsmith.sandbox import Container
    from patchsmith.sandbox.base import BaseSpec, ensure_base_image
    from patchsmith.swebench_runner.environments import build_script, venv_environment
    from patchsmith.swebench_runner.env_spec import EnvSpec

    spec = EnvSpec("fixture/dated", "1.0", "3.9", "3.9", "python -m pytest", "pytest", install="true",
                   pip_packages=("six==1.15.0", "pytest"), date_unpinned="2021-03-01")
    assert build_script(EnvSpec(**{**spec.__dict__, "date_unpinned": ""})).count("uploaded-prior-to") == 0
    base = ensure_base_image(BaseSpec(suite="bullseye"), cache_dir=sandbox_cache_dir, log_path=tmp_path / "base.log")
    with Container(base, network=True, ca_bundle="auto", kind="build", env=venv_environment(spec), workdir="/testbed") as box:
        box.exec("mkdir -p /testbed && cd /testbed && git init -q && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m empty")
        done = box.exec(build_script(spec), timeout=600)
        assert done.ok, done.output[-3000:]
        versions = box.exec("python -c 'import pytest, six; print(\"V\", pytest.__version__, six.__version__)'").output
    assert "V 6.2.2 1.15.0" in versions  # pytest as of the date, six as pinned


UNITTEST_FILES = {
    "setup.py": "from setuptools import setup\nsetup(name='uni', packages=['uni'])\n",
    "uni/__init__.py": "def halve(x):\n    return x / 3\n",
    "tests/__init__.py": "",
    "tests/test_uni.py": "import unittest\n\nimport uni\n\n\nclass T(unittest.TestCase):\n    def test_import(self):\n        self.assertTrue(uni)\n",
}
UNITTEST_GOLD = ("diff --git a/uni/__init__.py b/uni/__init__.py\n--- a/uni/__init__.py\n+++ b/uni/__init__.py\n"
                 "@@ -1,2 +1,2 @@\n def halve(x):\n-    return x / 3\n+    return x / 2\n")
UNITTEST_TEST_PATCH = ("diff --git a/tests/test_uni.py b/tests/test_uni.py\n--- a/tests/test_uni.py\n+++ b/tests/test_uni.py\n"
                       "@@ -6,3 +6,6 @@ import uni\n class T(unittest.TestCase):\n     def test_import(self):\n"
                       "         self.assertTrue(uni)\n+\n+    def test_fix(self):\n+        self.assertEqual(uni.halve(4), 2)\n")


def test_unittest_ids_recorded_before_python_3_11_grade_on_an_inferred_3_11(tmp_path: Path):
    """A dataset made on Python 3.9 names `test_fix (tests.test_uni.T)`; Python 3.11, which the
    project's date and metadata choose, prints `test_fix (tests.test_uni.T.test_fix)`."""
    from dataclasses import replace

    from patchsmith.paths import cache_root
    from patchsmith.swebench_runner.dataset import instance_from_row
    from patchsmith.swebench_runner.environments import environment_for
    from patchsmith.swebench_runner.evaluation import EvalSettings, evaluate_instance
    from patchsmith.swebench_runner.inferred import inferred_spec
    from patchsmith.swebench_runner.predictions import load_predictions

    work = tmp_path / "uni"
    commit = dated_repo(work, UNITTEST_FILES, stamp="2023-06-01T12:00:00+00:00")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "fixture+uni").symlink_to(work)
    instance = instance_from_row({
        "repo": "fixture/uni", "instance_id": "fixture__uni-1", "base_commit": commit, "version": "0.1",
        "patch": UNITTEST_GOLD, "test_patch": UNITTEST_TEST_PATCH, "environment_setup_commit": commit,
        "FAIL_TO_PASS": json.dumps(["test_fix (tests.test_uni.T)"]), "PASS_TO_PASS": json.dumps(["test_import (tests.test_uni.T)"])})
    spec = replace(inferred_spec("fixture/uni", "0.1", [instance], cache), parser="unittest", test_command="python -m unittest -v")
    assert spec.python == "3.11"
    environment = environment_for(spec, [instance], cache, cache_root(), tmp_path / "env-logs")
    assert environment.build.built, environment.build.error[-3000:]
    settings = EvalSettings(run_dir=tmp_path / "runs", repo_cache=cache, cache_dir=cache_root(), timeout=600)
    reports = {kind: evaluate_instance(instance, load_predictions(kind, [instance])[instance.instance_id], spec,
                                       environment.build.image, environment.commit, settings)[instance.instance_id]
               for kind in ("gold", "empty")}
    log = (tmp_path / "runs" / "gold" / "fixture__uni-1" / "test_output.txt").read_text()
    assert "test_fix (tests.test_uni.T.test_fix) ... ok" in log, log[-2000:]  # 3.11's form in the log
    assert reports["gold"]["resolved"], reports["gold"]["tests_status"]
    assert reports["gold"]["tests_status"]["PASS_TO_PASS"]["success"] == ["test_import (tests.test_uni.T)"]
    assert reports["empty"]["tests_status"]["FAIL_TO_PASS"]["failure"] == ["test_fix (tests.test_uni.T)"]


def uni_instance(tmp_path: Path, number: int, readme: str):
    """(instance fixture__uni-N of version 0.N, repo cache) on a unittest fixture committed in 2023."""
    from patchsmith.swebench_runner.dataset import instance_from_row

    work = tmp_path / "uni"
    commit = dated_repo(work, {**UNITTEST_FILES, "README": readme}, stamp="2023-06-01T12:00:00+00:00")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "fixture+uni").symlink_to(work)
    instance = instance_from_row({
        "repo": "fixture/uni", "instance_id": f"fixture__uni-{number}", "base_commit": commit, "version": f"0.{number}",
        "patch": UNITTEST_GOLD, "test_patch": UNITTEST_TEST_PATCH, "environment_setup_commit": commit,
        "FAIL_TO_PASS": json.dumps(["test_fix (tests.test_uni.T)"]), "PASS_TO_PASS": "[]"})
    return instance, cache


def test_an_inferred_spec_keeps_the_local_internet_with_the_packages_it_runs_with(tmp_path: Path):
    """requests' harness plays httpbin and a tarpit in the test container; its route needs `ip`
    (iproute2) and its server gunicorn, which the hand-written spec brings and inference never would."""
    from patchsmith.paths import cache_root
    from patchsmith.sandbox import Container
    from patchsmith.swebench_runner.env_spec import EnvSpec
    from patchsmith.swebench_runner.environments import environment_for
    from patchsmith.swebench_runner.inferred import inferred_spec

    instance, cache = uni_instance(tmp_path, 2, "the local internet's fixture\n")
    harness = EnvSpec("fixture/uni", "0.2", python_wanted="3.11", python="3.11", test_command="python -m unittest -v",
                      parser="unittest", system_packages=("iproute2",), local_internet=("--tarpit", "10.255.255.1"),
                      pip_packages=("six==1.16.0", "gunicorn==23.0.0"))
    spec = inferred_spec("fixture/uni", "0.2", [instance], cache, harness=harness)
    assert spec.local_internet == harness.local_internet and spec.system_packages == ("iproute2",)
    assert spec.pip_packages == ("gunicorn==23.0.0",)  # of the spec's pins, only its local internet's server
    environment = environment_for(spec, [instance], cache, cache_root(), tmp_path / "env-logs")
    assert environment.build.built, environment.build.error[-3000:]
    with Container(environment.build.image, workdir="/testbed") as box:
        run = box.exec("ip -V && python -m gunicorn --version", timeout=60)
    assert run.ok and "gunicorn" in run.output, run.output


def test_an_inferred_spec_keeps_the_variables_a_vendored_source_install_line_sets(tmp_path: Path):
    """matplotlib's spec writes mplsetup.cfg (qhull from Debian) and names it with MPLSETUPCFG in its
    install line; without the variable a base commit before 3.4 reads setup.cfg and downloads qhull."""
    from patchsmith.swebench_runner.env_spec import EnvSpec, VendoredSource
    from patchsmith.swebench_runner.inferred import inferred_spec

    instance, cache = uni_instance(tmp_path, 3, "the vendored source's fixture\n")
    harness = EnvSpec("fixture/uni", "0.3", python_wanted="3.11", python="3.11", test_command="python -m unittest -v",
                      parser="unittest", vendored_sources=(VendoredSource("vendor/lib", "LIB-1", "build/lib-1"),),
                      pre_install=("printf '[libs]\\n' > local.cfg",),
                      install="LIBCFG=local.cfg OTHER='a b' python -m pip install -e .")
    spec = inferred_spec("fixture/uni", "0.3", [instance], cache, harness=harness)
    assert spec.pre_install == harness.pre_install
    assert ("LIBCFG", "local.cfg") in spec.env and ("OTHER", "a b") in spec.env
    assert "LIBCFG" not in spec.install  # the install itself is inferred
    plain = inferred_spec("fixture/uni", "0.3", [instance], cache,
                          harness=EnvSpec("fixture/uni", "0.3", python_wanted="3.11", python="3.11",
                                          test_command="python -m unittest -v", parser="unittest",
                                          install="LIBCFG=local.cfg python -m pip install -e ."))
    assert "LIBCFG" not in dict(plain.env)  # no vendored source, nothing of its install line
