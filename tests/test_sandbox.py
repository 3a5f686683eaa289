"""The sandbox against a real Docker engine: images, containers, diffs, time limits, network,
clean-up. Images come from the session fixtures in conftest.py and are reused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import docker.errors
import pytest

from patchsmith.sandbox import BaseSpec, BuildFailed, Container, ContainerPool, DiskFull, EnvRecipe, build_env_image, prune, run_tests
from patchsmith.sandbox.engine import LABEL_OWNER, LABEL_SESSION, SESSION_ID, client

pytestmark = pytest.mark.docker

REPO_ROOT = Path(__file__).resolve().parent.parent

# Turns calc.add into subtraction: two add tests then fail. 20-odd lines touched across files.
GOOD_DIFF = """\
--- a/calc/__init__.py
+++ b/calc/__init__.py
@@ -2,7 +2,7 @@ import six
 
 
 def add(a, b):
-    return a + b
+    return a - b
 
 
 def mul(a, b):
"""

BAD_DIFF = """\
--- a/calc/__init__.py
+++ b/calc/__init__.py
@@ -2,7 +2,7 @@ import six
 
 
 def add(a, b):
-    return a + b + 0
+    return a - b
 
 
 def nothing_like_this(a, b):
"""


def _exists(container_id: str) -> bool:
    try:
        client().api.inspect_container(container_id)
        return True
    except docker.errors.NotFound:
        return False


def _our_containers() -> list[str]:
    return [c["Id"] for c in client().api.containers(all=True, filters={"label": [f"{LABEL_OWNER}=1", f"{LABEL_SESSION}={SESSION_ID}"]})]


@pytest.fixture(scope="module")
def calc(sandbox_env_image, sandbox_fixture_repo):
    """One warm container of the fixture repository, reset before each use."""
    root, commit = sandbox_fixture_repo
    with Container(sandbox_env_image.tag).start(root, commit) as container:
        yield container


@pytest.fixture
def clean_calc(calc):
    calc.reset()
    yield calc
    calc.reset()


def test_base_image_has_the_tools(bookworm_base_image, sandbox_cache_dir):
    from patchsmith.sandbox import ensure_base_image

    assert bookworm_base_image == BaseSpec().tag
    # Building the same recipe again is a tag lookup.
    assert ensure_base_image(BaseSpec(), cache_dir=sandbox_cache_dir) == bookworm_base_image
    labels = client().api.inspect_image(bookworm_base_image)["Config"]["Labels"]
    assert labels["patchsmith.kind"] == "base"
    with Container(bookworm_base_image) as c:
        result = c.exec("python --version && git --version && patch --version | head -1 && gcc --version | head -1 && /opt/venv/bin/python -m pip --version && test -f /usr/include/python3.11/Python.h && echo HEADERS")
    assert result.ok, result.output
    assert "Python 3.11" in result.output and "HEADERS" in result.output


def test_env_image_runs_the_repository_tests(sandbox_env_image, clean_calc):
    assert sandbox_env_image.recipe.source == "inferred"
    shown = clean_calc.exec("python -m pip show six")
    assert shown.ok and "Name: six" in shown.output  # the real dependency, installed from PyPI
    run = run_tests(clean_calc, sandbox_env_image.recipe.test_command, ["tests/test_calc.py"])
    assert run.exit_code == 0 and not run.timed_out
    assert len(run.statuses) == 10 and set(run.statuses.values()) == {"PASSED"}


def test_good_diff_applies_changes_results_and_resets(clean_calc, sandbox_env_image):
    applied = clean_calc.apply_diff(GOOD_DIFF)
    assert applied.applied and applied.method == "git apply", applied
    assert "-    return a + b" in clean_calc.diff() and "+    return a - b" in clean_calc.diff()
    run = run_tests(clean_calc, sandbox_env_image.recipe.test_command, ["tests/test_calc.py"])
    assert sorted(run.failed) == ["tests/test_calc.py::test_add_floats", "tests/test_calc.py::test_add_negative", "tests/test_calc.py::test_add_small"]
    clean_calc.put_file("scratch_new_file.py", "x = 1\n")
    assert "scratch_new_file.py" in clean_calc.diff()  # new files are part of the diff
    clean_calc.reset()
    assert clean_calc.diff() == ""
    assert b"return a + b" in clean_calc.get_file("calc/__init__.py")
    assert clean_calc.exec("test ! -e scratch_new_file.py").ok


def test_bad_diff_reports_every_method_and_changes_nothing(clean_calc):
    result = clean_calc.apply_diff(BAD_DIFF)
    assert not result.applied and result.method is None
    assert list(result.attempts) == ["git apply", "git apply --3way", "patch --fuzz"]
    assert "does not apply" in result.message
    assert clean_calc.diff() == ""


def test_three_way_and_fuzz_fallbacks(sandbox_env_image, sandbox_fixture_repo):
    root, commit = sandbox_fixture_repo
    lines = [f"line{i} = {i}\n" for i in range(1, 21)]
    # A container of its own: this test moves the base state.
    with Container(sandbox_env_image.tag).start(root, commit) as c:
        c.put_file("digits.txt", "".join(lines))
        c.commit_base_state()
        # A diff made against the file as committed (with real blob ids, as `git diff` writes it).
        changed = lines.copy()
        changed[7] = "line8 = 'eight'\n"
        c.put_file("digits.txt", "".join(changed))
        against_base = c.diff()
        c.reset()
        # Another change three lines above breaks the plain context match but merges cleanly.
        first = lines.copy()
        first[4] = "line5 = 'five'\n"
        c.put_file("digits.txt", "".join(first))
        result = c.apply_diff(against_base)
        assert result.applied and result.method == "git apply --3way", result
        text = c.get_file("digits.txt")
        assert b"line8 = 'eight'" in text and b"line5 = 'five'" in text
        c.reset()
        # Without blob ids a 3-way merge is impossible; one wrong context line is fuzz for patch.
        fuzzy = ("--- a/digits.txt\n+++ b/digits.txt\n@@ -5,7 +5,7 @@\n wrong = 0\n line6 = 6\n line7 = 7\n"
                 "-line8 = 8\n+line8 = 'eight'\n line9 = 9\n line10 = 10\n line11 = 11\n")
        result = c.apply_diff(fuzzy)
        assert result.applied and result.method == "patch --fuzz", result
        assert b"line8 = 'eight'" in c.get_file("digits.txt")
        assert c.exec("ls *.orig *.rej 2>/dev/null | wc -l").stdout.strip() == "0"


def test_copy_in_and_out(clean_calc, tmp_path):
    clean_calc.put_files({"data/a.txt": "alpha\n", "/tmp/outside.bin": b"\x00\x01"})
    assert clean_calc.get_file("data/a.txt") == b"alpha\n"
    assert clean_calc.get_file("/tmp/outside.bin") == b"\x00\x01"
    clean_calc.copy_out("data", tmp_path)
    assert (tmp_path / "data" / "a.txt").read_text() == "alpha\n"
    with pytest.raises(FileNotFoundError):
        clean_calc.get_file("no/such/file")


def test_hung_test_is_killed_with_its_process_group(clean_calc, sandbox_env_image):
    clean_calc.put_file("tests/test_hang.py", "import subprocess, time\n\ndef test_hang():\n    subprocess.Popen(['sleep', '1000'])\n    time.sleep(1000)\n")
    started = time.monotonic()
    run = run_tests(clean_calc, sandbox_env_image.recipe.test_command, ["tests/test_hang.py"], timeout=3)
    elapsed = time.monotonic() - started
    assert run.timed_out and elapsed < 3 + 2
    count = "import glob; print(sum(open(p, 'rb').read().split(b'\\0')[:2] == [b'sleep', b'1000'] for p in glob.glob('/proc/[0-9]*/cmdline')))"
    left = clean_calc.exec(["python", "-c", count])
    assert left.stdout.strip() == "0", left.output
    assert clean_calc.exec("echo alive").stdout == "alive\n"  # the container is still usable


NET_TEST = textwrap.dedent("""\
        import urllib.request

        def test_interfaces():
            names = [line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:]]
            assert names == ["lo"]

        def test_registry_unreachable():
            urllib.request.urlopen("https://pypi.org/simple/six/", timeout=5)
        """)
NET_RESULT = {"tests/test_net.py::test_interfaces": "PASSED", "tests/test_net.py::test_registry_unreachable": "FAILED"}


def test_network_is_off_in_test_runs(clean_calc, sandbox_env_image, sandbox_fixture_repo):
    clean_calc.put_file("tests/test_net.py", NET_TEST)
    assert run_tests(clean_calc, sandbox_env_image.recipe.test_command, ["tests/test_net.py"]).statuses == NET_RESULT
    # A container made with a network (to install something) is taken off it for the tests.
    root, commit = sandbox_fixture_repo
    with Container(sandbox_env_image.tag, network=True).start(root, commit) as online:
        assert "eth0" in online.exec("cat /proc/net/dev").stdout
        online.put_file("tests/test_net.py", NET_TEST)
        assert run_tests(online, sandbox_env_image.recipe.test_command, ["tests/test_net.py"]).statuses == NET_RESULT


def test_clean_up_after_an_exception(bookworm_base_image):
    seen = []
    with pytest.raises(ZeroDivisionError):
        with Container(bookworm_base_image) as c:
            seen.append(c.id)
            assert _exists(c.id)
            1 / 0
    assert not _exists(seen[0])


SCRIPT = """\
import sys, time
sys.path.insert(0, {root!r})
from patchsmith.sandbox import Container
c = Container({image!r}).start()
print(c.id, flush=True)
time.sleep(300)
"""


def _start_child(image: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT.format(root=str(REPO_ROOT), image=image)], stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_clean_up_after_a_signal(bookworm_base_image, signum):
    proc, container_id = _start_child(bookworm_base_image)
    assert container_id and _exists(container_id)
    proc.send_signal(signum)
    code = proc.wait(timeout=30)
    assert code == -signal.SIGTERM if signum == signal.SIGTERM else code != 0  # SIGTERM still kills; Ctrl-C raises
    assert not _exists(container_id)


def test_prune_removes_what_a_killed_run_left(bookworm_base_image):
    proc, container_id = _start_child(bookworm_base_image)
    proc.kill()  # SIGKILL: no handler runs, the container stays behind
    proc.wait(timeout=30)
    assert _exists(container_id)
    with Container(bookworm_base_image) as mine:  # a live run's container must survive a prune
        report = prune()
        assert container_id[:12] in report.containers and mine.id[:12] not in report.containers
        assert not _exists(container_id) and _exists(mine.id)


def test_pool_under_threads(sandbox_env_image, sandbox_fixture_repo):
    root, commit = sandbox_fixture_repo
    before = set(_our_containers())
    errors: list[BaseException] = []
    with ContainerPool(sandbox_env_image.tag, root, commit, size=2) as pool:
        def work(i: int) -> None:
            try:
                with pool.acquire(timeout=120) as c:
                    assert c.diff() == ""  # every loan starts at the base state
                    c.put_file(f"mark_{i}.txt", str(i))
                    assert f"mark_{i}.txt" in c.diff()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(_our_containers()) - before) == 2
    assert not errors, errors
    assert set(_our_containers()) == before


def test_failed_build_and_full_disk_are_one_sentence(bookworm_base_image, sandbox_cache_dir, sandbox_fixture_repo, tmp_path):
    root, commit = sandbox_fixture_repo
    failing = EnvRecipe(setup=("echo step one; echo the-last-words >&2; exit 3",), env=(("NONCE", str(time.time_ns())),))
    with pytest.raises(BuildFailed) as info:
        build_env_image(root, commit, failing, cache_dir=sandbox_cache_dir, log_path=tmp_path / "b.log", network=False)
    assert info.value.user_error and "the-last-words" in str(info.value) and "exit 3" in str(info.value)
    assert "the-last-words" in (tmp_path / "b.log").read_text()
    # /dev/shm is 64 MiB in a container: writing 100 MiB there fills a real disk.
    filling = EnvRecipe(setup=("dd if=/dev/zero of=/dev/shm/fill bs=1M count=100",), env=(("NONCE", str(time.time_ns())),))
    with pytest.raises(DiskFull) as info:
        build_env_image(root, commit, filling, cache_dir=sandbox_cache_dir, network=False)
    assert info.value.user_error and "prune" in str(info.value)
    assert not any(c for c in _our_containers() if client().api.inspect_container(c)["Config"]["Labels"].get("patchsmith.kind") == "build")


def test_no_engine_is_one_sentence():
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    done = subprocess.run([sys.executable, "-m", "patchsmith.cli", "sandbox", "prune"], env=env, capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 2
    assert done.stderr.startswith("patchsmith: No Docker engine answers") and "Traceback" not in done.stderr


def test_repository_copy_at_another_commit_and_fallback(sandbox_env_image, bookworm_base_image, sandbox_fixture_repo, tmp_path, monkeypatch):
    import shutil

    import patchsmith.sandbox.repo_state as repo_state_module

    root, _ = sandbox_fixture_repo
    clone = tmp_path / "clone"
    shutil.copytree(root, clone)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    (clone / "calc" / "extra.py").write_text("EXTRA = True\n")
    subprocess.run(["git", "rm", "-q", "tests/test_calc.py"], cwd=clone, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=clone, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "second"], cwd=clone, check=True, env=env)

    def check(image: str, runs: bool = True) -> None:
        with Container(image).start(clone, "HEAD") as c:
            listing = c.exec("git ls-files; test -e tests/test_calc.py && echo STALE").output
            assert "calc/extra.py" in listing and "STALE" not in listing
            assert not runs or c.exec("python -c 'import calc.extra'").ok  # the editable install sees new files
            assert c.diff() == ""

    check(sandbox_env_image.tag)  # over the image's snapshot: the deleted file is gone
    check(bookworm_base_image, runs=False)  # into an image without a repository (nor six)
    monkeypatch.setattr(repo_state_module, "git_pack", lambda *a: (_ for _ in ()).throw(RuntimeError("no pack")))
    check(sandbox_env_image.tag)  # the git archive fallback gives the same state


def test_failed_base_build_names_the_cause(tmp_path):
    from patchsmith.sandbox import ensure_base_image

    spec = BaseSpec(suite="bookworm", packages=("python3", "no-such-package-patchsmith"))
    with pytest.raises(BuildFailed) as info:
        ensure_base_image(spec, cache_dir=tmp_path / "cache", log_path=tmp_path / "base.log")
    assert info.value.user_error and "no-such-package-patchsmith" in str(info.value)
    assert str(tmp_path / "base.log") in str(info.value)
    assert not list((tmp_path / "cache" / "tmp").glob("base-*"))  # the half-made root file system is gone


def test_bad_commit_is_one_sentence_and_leaves_no_container(sandbox_env_image, sandbox_fixture_repo):
    from patchsmith.sandbox import SandboxError

    root, _ = sandbox_fixture_repo
    before = set(_our_containers())
    with pytest.raises(SandboxError, match="Cannot read commit 'no-such-rev'"):
        Container(sandbox_env_image.tag).start(root, "no-such-rev")
    assert set(_our_containers()) == before
    with pytest.raises(SandboxError, match="does not exist"):
        Container("patchsmith-no-such-image:0").start()
    with pytest.raises(SandboxError, match="CA bundle"):
        Container(sandbox_env_image.tag, ca_bundle="/no/such/ca.pem")


def test_large_diff_travels_as_a_file(clean_calc):
    body = "".join(f"+VALUE_{i} = {i}  # {'x' * 40}\n" for i in range(1500))
    big = f"--- /dev/null\n+++ b/calc/big.py\n@@ -0,0 +1,1500 @@\n{body}"
    assert len(big) > 64_000
    result = clean_calc.apply_diff(big)
    assert result.applied and result.method == "git apply", result
    assert clean_calc.exec("python -c 'import calc.big as b; print(b.VALUE_1499)'").stdout == "1499\n"
    assert clean_calc.exec("ls /tmp/.patchsmith/*.diff 2>/dev/null | wc -l").stdout.strip() == "0"


def test_work_tree_copied_as_it_is(sandbox_env_image, sandbox_fixture_repo, tmp_path):
    import shutil

    root, _ = sandbox_fixture_repo
    tree = tmp_path / "tree"
    shutil.copytree(root, tree)
    (tree / "calc" / "__init__.py").write_text((tree / "calc" / "__init__.py").read_text() + "\nUNCOMMITTED = 1\n")
    (tree / "notes.txt").write_text("untracked\n")
    with Container(sandbox_env_image.tag).start() as c:
        c.copy_worktree(tree)
        assert c.exec("python -c 'import calc; print(calc.UNCOMMITTED)'").stdout == "1\n"
        assert c.get_file("notes.txt") == b"untracked\n" and c.diff() == ""


def test_flood_of_output_is_cut_in_the_middle(clean_calc):
    result = clean_calc.exec(["python", "-c", "import sys; sys.stdout.write('START' + 'x' * 30_000_000 + 'END')"], timeout=60)
    assert result.ok and result.output.startswith("START") and result.output.endswith("END")
    assert "bytes of output cut" in result.output and len(result.output) < 12_000_000


def test_an_image_carries_its_base_state(sandbox_env_image, bookworm_base_image):
    with Container(sandbox_env_image.tag).start() as c:  # no repository copied: the image's own
        c.put_file("calc/new.py", "X = 1\n")
        assert "calc/new.py" in c.diff()
        c.reset()
        assert c.diff() == "" and c.exec("test ! -e calc/new.py").ok
    with Container(bookworm_base_image).start() as bare:
        with pytest.raises(RuntimeError, match="no base state"):
            bare.reset()


def test_cli_build_finds_the_same_image_and_prune_lists(sandbox_env_image, sandbox_fixture_repo):
    root, commit = sandbox_fixture_repo
    done = subprocess.run([sys.executable, "-m", "patchsmith.cli", "sandbox", "build", str(root), "--commit", commit],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == sandbox_env_image.tag  # the same recipe is a tag lookup
    listed = subprocess.run([sys.executable, "-m", "patchsmith.cli", "sandbox", "prune", "--dry-run"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert listed.returncode == 0 and listed.stdout.startswith("would remove")
    bad = subprocess.run([sys.executable, "-m", "patchsmith.cli", "sandbox", "build", str(root), "--commit", "nope"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert bad.returncode == 2 and bad.stderr.startswith("patchsmith: Cannot read commit 'nope'") and "Traceback" not in bad.stderr


def test_a_named_base_image_is_used_as_it_is(bookworm_base_image, sandbox_fixture_repo, sandbox_cache_dir):
    # Any image the engine has stands for a registry image here (CI reaches no registry).
    root, commit = sandbox_fixture_repo
    recipe = EnvRecipe(base_image=bookworm_base_image, setup=("python -m pip --version > /pip-version",),
                       env=(("TEST_NONCE", str(time.time_ns())),))
    image = build_env_image(root, commit, recipe, cache_dir=sandbox_cache_dir, network=False)
    try:
        assert image.base_tag == bookworm_base_image and image.built
        with Container(image.tag) as c:
            assert c.get_file("/pip-version").startswith(b"pip ")
    finally:
        client().api.remove_image(image.tag, force=True)
