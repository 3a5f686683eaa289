"""End-to-end SWE-bench evaluation in real Docker, on a toy instance built here.

The toy repository has a bug at its base commit; the test patch adds a FAIL_TO_PASS test, and
the gold patch fixes the bug. Gold must resolve, empty must not, a patch that does not apply
must be reported as such, and a run killed part-way and started again must grade every
instance exactly once.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from patchsmith.swebench_runner.dataset import Instance
from patchsmith.swebench_runner.predictions import Prediction, load_predictions
from patchsmith.swebench_runner.env_spec import EnvSpec

pytestmark = pytest.mark.docker

BASE_FILES = {
    "toy/__init__.py": "def double(x):\n    return x + x\n\n\ndef halve(x):\n    return x / 3\n",
    "tests/test_toy.py": "import time\n\nimport toy\n\n\ndef test_double():\n    assert toy.double(2) == 4\n",
}
GOLD_PATCH = """\
diff --git a/toy/__init__.py b/toy/__init__.py
--- a/toy/__init__.py
+++ b/toy/__init__.py
@@ -3,4 +3,4 @@ def double(x):
 
 
 def halve(x):
-    return x / 3
+    return x / 2
"""
TEST_PATCH = """\
diff --git a/tests/test_toy.py b/tests/test_toy.py
--- a/tests/test_toy.py
+++ b/tests/test_toy.py
@@ -5,3 +5,8 @@ import toy
 
 def test_double():
     assert toy.double(2) == 4
+
+
+def test_halve():
+    time.sleep({sleep})
+    assert toy.halve(4) == 2
"""
NOT_APPLYING = GOLD_PATCH.replace("return x / 3", "return x // 7")
SETUP_PY_PATCH = """\
diff --git a/setup.py b/setup.py
new file mode 100644
--- /dev/null
+++ b/setup.py
@@ -0,0 +1 @@
+print("a setup.py the model added")
"""

# The toy's environment: bookworm's Python 3.11 and pytest from PyPI; no install step needed
# because `python -m pytest` puts the work tree on sys.path.
TOY_SPEC = EnvSpec(
    "toy/toy", "1.0", "3.11", "3.11", "python -m pytest -rA -p no:cacheprovider", "pytest",
    install="true", pip_packages=("pytest==8.3.3",),
)


def toy_instance(commit: str, number: int, sleep: float = 0) -> Instance:
    return Instance(
        instance_id=f"toy__toy-{number}", repo="toy/toy", base_commit=commit, version="1.0", patch=GOLD_PATCH,
        test_patch=TEST_PATCH.format(sleep=sleep),
        fail_to_pass=("tests/test_toy.py::test_halve",), pass_to_pass=("tests/test_toy.py::test_double",),
        environment_setup_commit=commit,
    )


def make_toy_repo(root: Path) -> str:
    """The toy repository with fixed dates, so its commit (and with it the environment image's
    tag) is the same on every run and the image is reused."""
    root.mkdir(parents=True)
    for rel, text in BASE_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    stamp = "2024-01-01T00:00:00+00:00"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "toy"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env, capture_output=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def toy_cache(tmp_path_factory, bookworm_base_image: str) -> tuple[Path, str]:
    """(repo cache holding toy+toy, base commit)."""
    root = tmp_path_factory.mktemp("toy")
    commit = make_toy_repo(root / "work")
    cache = root / "cache"
    cache.mkdir()
    (cache / "toy+toy").symlink_to(root / "work")
    return cache, commit


def image_tags(instance_id: str) -> list[str]:
    """The instance images of an instance that the engine holds."""
    listed = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "patchsmith-swebench-instance"],
                            capture_output=True, text=True, check=True).stdout.split()
    return [tag for tag in listed if tag.split(":", 1)[1].startswith(instance_id + "-")]


def settings_for(run_dir: Path, cache: Path, workers: int = 1):
    from patchsmith.paths import cache_root
    from patchsmith.swebench_runner.evaluation import EvalSettings

    return EvalSettings(run_dir=run_dir, repo_cache=cache, cache_dir=cache_root(), timeout=120, workers=workers,
                        extra_specs=(TOY_SPEC,))


def test_gold_empty_and_a_patch_that_does_not_apply(toy_cache, tmp_path: Path) -> None:
    from patchsmith.swebench_runner.evaluation import evaluate

    cache, commit = toy_cache
    instance = toy_instance(commit, 1)
    run_dir = tmp_path / "run"
    settings = settings_for(run_dir, cache)

    # Start without the instance's image, so that the first evaluation builds it and the next ones reuse it.
    subprocess.run(["docker", "rmi", "-f", *image_tags("toy__toy-1")], capture_output=True)
    gold = evaluate([instance], load_predictions("gold", [instance]), settings, progress=lambda _: None)
    assert gold["resolved_ids"] == ["toy__toy-1"] and gold["completed_instances"] == 1
    report = json.loads((run_dir / "gold" / "toy__toy-1" / "report.json").read_text())["toy__toy-1"]
    assert report["patch_successfully_applied"] and report["resolved"]
    assert report["tests_status"]["FAIL_TO_PASS"]["success"] == ["tests/test_toy.py::test_halve"]
    assert "tests/test_toy.py::test_halve PASSED" in report["test_output"] or "PASSED tests/test_toy.py::test_halve" in report["test_output"]
    assert report["model_patch"] == GOLD_PATCH and "git apply" in report["eval_script"]
    assert report["instance_image_built"] and image_tags("toy__toy-1") == [report["instance_image"]]
    image = report["instance_image"]

    empty = evaluate([instance], load_predictions("empty", [instance]), settings, progress=lambda _: None)
    assert empty["empty_patch_ids"] == ["toy__toy-1"] and empty["resolved_instances"] == 0
    assert empty["patchsmith"]["empty_patch_graded_ids"] == ["toy__toy-1"]
    assert empty["patchsmith"]["empty_patch_resolved_ids"] == []
    report = json.loads((run_dir / "empty" / "toy__toy-1" / "report.json").read_text())["toy__toy-1"]
    assert report["tests_status"]["FAIL_TO_PASS"]["failure"] == ["tests/test_toy.py::test_halve"]
    assert report["tests_status"]["PASS_TO_PASS"]["success"] == ["tests/test_toy.py::test_double"]
    assert report["instance_image"] == image and not report["instance_image_built"]  # reused

    bad = {"toy__toy-1": Prediction("toy__toy-1", "bad-model", NOT_APPLYING)}
    summary = evaluate([instance], bad, settings, progress=lambda _: None)
    report = json.loads((run_dir / "bad-model" / "toy__toy-1" / "report.json").read_text())["toy__toy-1"]
    assert report["patch_exists"] and not report["patch_successfully_applied"] and not report["resolved"]
    assert "does not apply" in report["patch_apply_message"]
    assert summary["unresolved_ids"] == ["toy__toy-1"]

    # A model patch that touches what the install builds from: installed again, between the
    # model patch and the test patch, as the official eval script orders them.
    with_setup = GOLD_PATCH + SETUP_PY_PATCH
    summary = evaluate([instance], {"toy__toy-1": Prediction("toy__toy-1", "setup-model", with_setup)}, settings, progress=lambda _: None)
    report = json.loads((run_dir / "setup-model" / "toy__toy-1" / "report.json").read_text())["toy__toy-1"]
    assert summary["resolved_ids"] == ["toy__toy-1"] and report["reinstalled"] and "install" in report["step_seconds"]


DRIVER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_swebench_eval import TOY_SPEC, settings_for, toy_instance
    from patchsmith.sandbox.engine import install_signal_handlers
    from patchsmith.swebench_runner.evaluation import evaluate
    from patchsmith.swebench_runner.predictions import load_predictions
    install_signal_handlers()
    instances = [toy_instance({commit!r}, n, sleep=3) for n in range(1, 4)]
    evaluate(instances, load_predictions("gold", instances), settings_for(Path({run_dir!r}), Path({cache!r})),
             progress=lambda line: print(line, flush=True))
    """
)


def test_killed_run_resumes_and_grades_each_instance_once(toy_cache, tmp_path: Path) -> None:
    cache, commit = toy_cache
    run_dir = tmp_path / "run"
    script = DRIVER.format(tests=str(Path(__file__).parent), commit=commit, run_dir=str(run_dir), cache=str(cache))
    reports = [run_dir / "gold" / f"toy__toy-{n}" / "report.json" for n in range(1, 4)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}

    first = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 300
    while not reports[0].exists():
        assert first.poll() is None, first.stdout.read()
        assert time.monotonic() < deadline, "the first instance was never graded"
        time.sleep(0.2)
    first.send_signal(signal.SIGTERM)  # while the second instance's 3-second test runs
    first.wait(timeout=60)
    graded_first = [path for path in reports if path.exists()]
    assert 1 <= len(graded_first) < 3
    kept = {path: path.read_bytes() for path in graded_first}

    second = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"{len(graded_first)} instance(s) already graded" in second.stdout
    graded_lines = [line for line in second.stdout.splitlines() if line.startswith("[")]
    assert len(graded_lines) == 3 - len(graded_first)  # only the rest were graded
    assert all(path.read_bytes() == data for path, data in kept.items())  # nothing graded twice
    assert all(json.loads(path.read_text())[path.parent.name]["resolved"] for path in reports)
    summary = json.loads((run_dir / f"gold.{run_dir.name}.json").read_text())
    assert summary["resolved_instances"] == 3


def test_requirements_a_base_commit_declares_anew_are_checked_in_the_environment(toy_cache, tmp_path: Path) -> None:
    """A base commit that only changes dependency bounds is installed again only when the
    environment does not satisfy them (pip would change nothing else)."""
    from patchsmith.paths import cache_root
    from patchsmith.sandbox.container import Container
    from patchsmith.swebench_runner.environments import ensure_env_image, venv_environment
    from patchsmith.swebench_runner.instances import unmet_requirements

    cache, commit = toy_cache
    build = ensure_env_image(TOY_SPEC, commit, cache / "toy+toy", cache_root(), tmp_path / "logs", {}, build=True)
    assert build.built
    wanted = ["pytest>=8.0", "pytest<8", "pluggy>=0.1", "no-such-package-here>=1.0", "pytest==8.3.3; python_version < '3'"]
    with Container(build.image, env=venv_environment(TOY_SPEC)) as box:
        assert unmet_requirements(box, wanted) == ["pytest<8", "no-such-package-here>=1.0"]
        assert unmet_requirements(box, ["pytest>=8.0"]) == []


def test_instance_image_moves_the_tree_to_the_base_commit_and_installs_when_requirements_are_unmet(tmp_path: Path, bookworm_base_image: str) -> None:
    from patchsmith.paths import cache_root
    from patchsmith.sandbox.container import Container
    from patchsmith.swebench_runner.environments import ensure_env_image
    from patchsmith.swebench_runner.instances import ensure_instance_image, instance_image_tag

    root = tmp_path / "repo"
    env_commit = make_toy_repo(root)  # the same commit as the other tests': its environment image is shared
    (root / "toy/__init__.py").write_text("def double(x):\n    return 2 * x\n\n\ndef halve(x):\n    return x / 3\n")
    (root / "setup.cfg").write_text("[options]\ninstall_requires =\n    pluggy>=99\n")
    stamp = "2024-01-02T00:00:00+00:00"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    for args in (["add", "-A"], ["commit", "-q", "-m", "later"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env, capture_output=True)
    base_commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True).stdout.strip()

    environment = ensure_env_image(TOY_SPEC, env_commit, root / ".git", cache_root(), tmp_path / "logs", {}, build=True)
    assert environment.built
    instance = toy_instance(base_commit, 7)
    subprocess.run(["docker", "rmi", "-f", instance_image_tag(instance, environment.image)], capture_output=True)
    built = ensure_instance_image(instance, TOY_SPEC, environment.image, env_commit, root / ".git", cache_root(), tmp_path / "image.log")
    assert built.built_now and built.reinstalled and built.unmet_requirements == ("pluggy>=99",)
    again = ensure_instance_image(instance, TOY_SPEC, environment.image, env_commit, root / ".git", cache_root(), tmp_path / "image.log")
    assert (again.tag, again.built_now, again.reinstalled, again.unmet_requirements) == (built.tag, False, True, ("pluggy>=99",))
    with Container(built.tag) as box:
        assert "return 2 * x" in box.exec("cat /testbed/toy/__init__.py").output
        assert "pluggy>=99" in box.exec("cat /testbed/setup.cfg").output


def test_vendored_source_is_put_where_the_build_looks_and_outlives_moving_the_tree(toy_cache, tmp_path: Path) -> None:
    """A source the build would download (matplotlib's FreeType) comes from a mirror in the repo
    cache, is prepared once in the environment image, and stays when an instance image moves
    /testbed to its own commit; without the mirror the build fails and says which one is missing."""
    from dataclasses import replace

    from patchsmith.paths import cache_root
    from patchsmith.sandbox.container import Container
    from patchsmith.swebench_runner.environments import environment_for
    from patchsmith.swebench_runner.instances import ensure_instance_image
    from patchsmith.swebench_runner.env_spec import VendoredSource

    cache, commit = toy_cache
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    (vendor / "lib.c").write_text("int lib(void) { return 1; }\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "lib"], ["tag", "LIB-1"]):
        subprocess.run(["git", *args], cwd=vendor, check=True, env=env, capture_output=True)
    own_cache = tmp_path / "cache"
    own_cache.mkdir()
    (own_cache / "toy+toy").symlink_to((cache / "toy+toy").resolve())
    (own_cache / "vendor+lib").symlink_to(vendor)
    spec = replace(TOY_SPEC, vendored_sources=(VendoredSource("vendor/lib", "LIB-1", "build/lib-1", "touch prepared"),))
    instance = toy_instance(commit, 9)

    unbuilt = replace(spec, notes=f"never built before: {time.time_ns()}")  # a fresh tag, so the build is tried
    missing = environment_for(unbuilt, [instance], cache, cache_root(), tmp_path / "logs")
    assert not missing.build.built and "vendor/lib" in missing.build.error

    environment = environment_for(spec, [instance], own_cache, cache_root(), tmp_path / "logs")
    assert environment.build.built, environment.build.error
    with Container(environment.build.image) as box:
        assert box.exec("cat build/lib-1/lib.c && ls build/lib-1/prepared").output.startswith("int lib(void)")
        assert box.exec("git status --porcelain --untracked-files=no").output.strip() == ""
    moved = ensure_instance_image(instance, spec, environment.build.image, environment.commit, environment.git_dir,
                                  cache_root(), tmp_path / "image.log")
    with Container(moved.tag) as box:
        assert box.exec("ls build/lib-1/lib.c build/lib-1/prepared").exit_code == 0


def test_new_spec_fields_left_at_their_defaults_do_not_change_image_tags() -> None:
    from dataclasses import replace

    from patchsmith.swebench_runner.environments import _recipe_fields, image_tag
    from patchsmith.swebench_runner.env_spec import VendoredSource

    assert set(_recipe_fields(TOY_SPEC)) == {"repo", "version", "python_wanted", "python", "test_command", "parser",
                                             "install", "pip_packages"}
    vendored = replace(TOY_SPEC, vendored_sources=(VendoredSource("a/b", "v1", "build/b"),))
    assert image_tag(vendored, "c0", "base") != image_tag(TOY_SPEC, "c0", "base")
    assert image_tag(replace(TOY_SPEC, notes=""), "c0", "base") == image_tag(TOY_SPEC, "c0", "base")


LOCAL_INTERNET_CHECK = """
import json, socket, ssl, time, urllib.request
context = ssl.create_default_context(cafile="ca-bundle.pem")
for url in ("http://httpbin.org/get", "https://httpbin.org/get", "https://www.example.org/get"):
    with urllib.request.urlopen(url, context=context, timeout=10) as response:
        assert json.loads(response.read())["url"] == url, url
import http.client
connection = http.client.HTTPConnection("httpbin.org", 80, timeout=10)
connection.request("GET", "/get")
response = connection.getresponse()
response.read()
assert response.getheader("Connection") == "keep-alive", response.getheaders()
connection.request("POST", "/post", body=iter([b"ab", b"cd"]))  # no length: sent chunked
response = connection.getresponse()
assert response.status == 200 and json.loads(response.read())["data"] == "abcd"
started = time.monotonic()
try:
    socket.create_connection(("10.255.255.1", 80), timeout=0.5)
except socket.timeout:
    print("tarpit timed out after", round(time.monotonic() - started, 1))
"""


def test_local_internet_serves_httpbin_over_http_and_https_and_holds_the_tarpit(toy_cache, tmp_path: Path) -> None:
    """requests' suites run offline against httpbin.org and an unroutable address: inside the
    test container both are played locally, and nothing leaves it (the container has no network)."""
    from dataclasses import replace

    from patchsmith.paths import cache_root
    from patchsmith.sandbox.container import Container
    from patchsmith.swebench_runner.environments import environment_for, local_internet_capabilities

    cache, commit = toy_cache
    spec = replace(TOY_SPEC, pip_packages=("pytest==8.3.3", "httpbin==0.10.2", "gunicorn==23.0.0"), system_packages=("iproute2", "openssl"),
                   local_internet=("--host", "httpbin.org", "--host", "www.example.org", "--tarpit", "10.255.255.1",
                                   "--trust", "ca-bundle.pem"))
    environment = environment_for(spec, [toy_instance(commit, 1)], cache, cache_root(), tmp_path / "logs")
    assert environment.build.built, environment.build.error
    check = spec.test_run.replace(spec.test_command, "python -c " + shlex.quote(LOCAL_INTERNET_CHECK))
    with Container(environment.build.image, capabilities=local_internet_capabilities(spec)) as box:
        box.put_files({"/testbed/ca-bundle.pem": ""})  # a suite's own bundle, trusting nothing yet
        ran = box.exec(check, timeout=120)
        assert ran.ok and "tarpit timed out after 0.5" in ran.stdout, ran.output
        again = box.exec(check, timeout=120)  # idempotent: a second test run in the same container
        assert again.ok and box.exec("grep -c 'BEGIN CERTIFICATE' ca-bundle.pem").stdout == "1\n", again.output
    with Container(environment.build.image) as box:  # without CAP_NET_ADMIN: one clear sentence
        refused = box.exec(spec.test_run.replace(spec.test_command, "true"))
        assert not refused.ok and "needs CAP_NET_ADMIN" in refused.output
