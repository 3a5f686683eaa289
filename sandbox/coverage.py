"""Running code in a container under coverage.py, one coverage context per run or per test.

coverage.py is brought in at run time, never baked into an image: the wheel that fits the
container's Python is downloaded on the host once (pip, from the package registry, cached) and
unpacked into /tmp of the container, which test containers reach without a network. Images and
their dated package world stay as they were built.

Only lines of files under the repository root are measured (coverage's `source`), so installed
packages never appear; the caller drops test files with what it knows about the source tree.
"""

from __future__ import annotations

import io
import json
import platform
import shlex
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from patchsmith.sandbox.certs import host_ca_bundle
from patchsmith.sandbox.container import Container
from patchsmith.sandbox.errors import SandboxError

COVERAGE_DIR = "/tmp/patchsmith-coverage"  # the unpacked wheel, our helpers beside it
DATA_FILE = "/tmp/patchsmith-coverage-data/.coverage"
OUTCOMES_FILE = "/tmp/patchsmith-coverage-data/outcomes.json"
SELECT_FILE = "/tmp/patchsmith-coverage-data/select.json"
# manylinux tags a current coverage wheel carries; Debian bullseye's glibc (2.31) takes all of them.
_PLATFORMS = ("manylinux_2_28", "manylinux_2_17", "manylinux2014", "manylinux_2_5", "manylinux1")

# `python /tmp/patchsmith-coverage ...` runs coverage's own command line with the wheel on the path.
_MAIN = "import sys\nfrom coverage.cmdline import main\nsys.exit(main())\n"

# A pytest plugin (loaded with -p) that gives each test its own coverage context, named by its node
# id, and writes each test's outcome beside the data, so no log parser is needed. pytest is given the
# test files and the plugin keeps the asked-for tests: a node id that does not exist (a parameter
# that changed) would otherwise stop the whole run, and runs the tests it is told to run last after
# the others. Without PATCHSMITH_COV_DATA it only selects.
_PLUGIN = '''
import json, os
import coverage
import pytest

_cov = None
_outcomes = {}


def pytest_configure(config):
    global _cov
    if not os.environ.get("PATCHSMITH_COV_DATA"):
        return
    _cov = coverage.Coverage(data_file=os.environ["PATCHSMITH_COV_DATA"], config_file=False,
                             source=[os.environ["PATCHSMITH_COV_SOURCE"]])
    _cov.start()
    import patchsmith_cov_quiet
    patchsmith_cov_quiet.quiet_pytest()


def pytest_collection_modifyitems(session, config, items):
    with open(os.environ["PATCHSMITH_COV_SELECT"]) as handle:
        selection = json.load(handle)
    wanted, last = set(selection["tests"]), set(selection["last"])
    kept = [item for item in items if item.nodeid in wanted or item.nodeid.split("::")[0] in wanted]
    kept.sort(key=lambda item: item.nodeid in last)  # stable: the rest keep pytest's order
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if _cov is None:
        yield
        return
    _cov.switch_context(item.nodeid)
    yield
    _cov.switch_context("")


def pytest_runtest_logreport(report):
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.when == "call" and report.nodeid not in _outcomes:
        _outcomes[report.nodeid] = "skipped" if report.skipped else "passed"
    elif report.skipped:
        _outcomes.setdefault(report.nodeid, "skipped")


def pytest_unconfigure(config):
    if _cov is not None:
        _cov.stop()
        _cov.save()
    with open(os.environ["PATCHSMITH_COV_OUTCOMES"], "w") as handle:
        json.dump(_outcomes, handle)
'''

# Imported wherever coverage measures tests (the pytest plugin, the sitecustomize of
# sandbox.coverage_command): coverage pauses while a test framework describes a failure. The message
# of a failed assertion calls the compared values' __repr__ and __str__, which therefore run in
# failing runs only, whatever the fault, and would outrank it; a test that calls repr() itself is
# still measured. unittest's and pytest's own describing functions are wrapped; pytest's report of a
# failure (its traceback shows the frames' arguments) too.
_QUIET = '''
import functools
import os
import pprint
import sys
import threading
import types
import unittest.case
import unittest.util

# Describing functions call one another (pformat inside a message): the outermost pauses.
_nesting = threading.local()


def _tracer():
    """This thread's coverage tracer: the C tracer, or the Python one whose bound method is the
    trace function. None under a core that does not trace through sys.settrace (sys.monitoring):
    then nothing is paused."""
    trace = sys.gettrace()
    tracer = getattr(trace, "__self__", trace)
    return tracer if hasattr(tracer, "stop") and hasattr(tracer, "start") else None


# This thread's tracer only, stopped and started again: it keeps its stack and so the test's dynamic
# context. Coverage's own Collector.pause and resume would start every thread's tracer on this one.
def _quietly(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        depth = getattr(_nesting, "depth", 0)
        tracer = _tracer() if depth == 0 else None
        if tracer is not None:
            tracer.stop()
        _nesting.depth = depth + 1
        try:
            return function(*args, **kwargs)
        finally:
            _nesting.depth = depth
            if tracer is not None:
                tracer.start()
    wrapper.patchsmith_quiet = True
    return wrapper


def _wrap(owner, names):
    root = os.environ.get("PATCHSMITH_COV_SOURCE", "")
    for name in names:
        function = getattr(owner, name, None)
        code = getattr(function, "__code__", None)
        # Not when the framework is the repository measured (pytest's own): its describing is the code under test.
        if code is None or getattr(function, "patchsmith_quiet", False) or (root and code.co_filename.startswith(root)):
            continue
        setattr(owner, name, _quietly(function))


# unittest.case holds its own references to unittest.util's functions: both are wrapped.
for _owner in (unittest.util, unittest.case):
    _wrap(_owner, ["safe_repr", "_common_shorten_repr"])
# assertSequenceEqual's and assertDictEqual's diffs pretty-print both values.
unittest.case.pprint = types.SimpleNamespace(pformat=_quietly(pprint.pformat))


def quiet_pytest():
    rewrite, nodes = sys.modules.get("_pytest.assertion.rewrite"), sys.modules.get("_pytest.nodes")
    if rewrite is not None:
        _wrap(rewrite, ["_saferepr", "_format_assertmsg", "_call_reprcompare"])
    if nodes is not None:
        _wrap(nodes.Node, ["_repr_failure_py"])
'''

# Reads the data file in the container: {context: {path relative to the root: [lines]}}.
_READ = '''
import json, os, sys
from coverage import CoverageData

data = CoverageData(sys.argv[1])
data.read()
root = sys.argv[2].rstrip("/") + "/"
found = {}
for filename in data.measured_files():
    if not filename.startswith(root):
        continue
    rel = filename[len(root):]
    for line, contexts in (data.contexts_by_lineno(filename) or {}).items():
        for context in contexts:
            if context:
                found.setdefault(context, {}).setdefault(rel, []).append(line)
json.dump(found, sys.stdout)
'''


@dataclass(frozen=True)
class CoveredRun:
    """One run (a script, a command or one test) and the repository lines it executed."""

    name: str  # the context: a test's node id, or the name the caller gave a run
    failed: bool  # the run shows the bug (a failing test, a script that reproduced it)
    lines: dict[str, tuple[int, ...]] = field(default_factory=dict)  # repository path -> sorted lines
    status: str = ""  # "passed" | "failed" | "skipped" | "missing" for tests; the caller's word otherwise
    # What a failing run printed (its tracebacks and warnings, for localize.failure_output); tests
    # run in one process share that process's output. Empty for passing runs.
    output: str = ""


@dataclass(frozen=True)
class CoveredTests:
    runs: dict[str, CoveredRun]  # by test id, in the order pytest ran them
    seconds: float  # wall time of the test command under coverage
    log: str  # its output
    timed_out: bool = False  # the command was stopped at its time limit (the runs are what it reached)


def coverage_wheel(python: str, cache_dir: Path) -> Path:
    """The coverage wheel for CPython `python` ("3.9") on this machine's architecture, downloaded
    once into `cache_dir`. pip runs isolated against the registry, so local wheel folders (which
    may hold only the slow pure-Python build) are not used."""
    tag = "cp" + python.replace(".", "")
    folder = cache_dir / "coverage-wheels" / f"{tag}-{platform.machine()}"
    found = sorted(folder.glob(f"coverage-*-{tag}-*.whl"))
    if found:
        return found[-1]
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--isolated", "--quiet", "coverage", "--no-deps",
               "--only-binary=:all:", "--python-version", python, "--implementation", "cp", "--abi", tag,
               "--dest", str(folder)]
    for name in _PLATFORMS:
        command += ["--platform", f"{name}_{platform.machine()}"]
    bundle = host_ca_bundle()
    if bundle:
        command += ["--cert", str(bundle)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    found = sorted(folder.glob(f"coverage-*-{tag}-*.whl"))
    if result.returncode != 0 or not found:
        last = (result.stderr.strip().splitlines() or ["no wheel was saved"])[-1]
        raise SandboxError(f"Could not download coverage.py for Python {python}: {last}")
    return found[-1]


def _wheel_tar(wheel: Path) -> bytes:
    """The wheel's files under COVERAGE_DIR, with our command-line entry, plugin and reader beside them."""
    buf = io.BytesIO()
    with zipfile.ZipFile(wheel) as archive, tarfile.open(fileobj=buf, mode="w") as tar:
        extra = {"__main__.py": _MAIN, "patchsmith_cov_plugin.py": _PLUGIN, "patchsmith_cov_read.py": _READ,
                 "patchsmith_cov_quiet.py": _QUIET}
        members = [(name, archive.read(name)) for name in archive.namelist() if not name.endswith("/")]
        members += [(name, text.encode()) for name, text in extra.items()]
        for name, data in members:
            info = tarfile.TarInfo(f"{COVERAGE_DIR.lstrip('/')}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o755 if name.endswith(".so") else 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def bring_coverage(box: Container, cache_dir: Path, python: str = "python") -> None:
    """Put coverage.py into the container (once per container), for the Python `python` runs."""
    if box.exec(f"test -f {COVERAGE_DIR}/coverage/__init__.py").ok:
        return
    box.check(f"mkdir -p {Path(DATA_FILE).parent}", "making the coverage data folder")
    probe = box.exec(f'{python} -c "import sys; print(\'%d.%d\' % sys.version_info[:2])"', timeout=60)
    if not probe.ok:
        raise SandboxError(f"Could not tell the container's Python version: {probe.output.strip()[-200:]}")
    box.put_archive("/", _wheel_tar(coverage_wheel(probe.stdout.strip().splitlines()[-1], cache_dir)))


def covered_python(context: str, root: str = "/testbed", python: str = "python") -> str:
    """A command prefix that runs a script as `python` would, under coverage with one context.
    Each use starts its data afresh; `read_lines` reads it."""
    return (f"{python} {COVERAGE_DIR} run --data-file={DATA_FILE} --rcfile=/dev/null"
            f" --source={shlex.quote(root)} --context={shlex.quote(context)}")


def read_lines(box: Container, root: str = "/testbed", python: str = "python") -> dict[str, dict[str, tuple[int, ...]]]:
    """The lines each context executed, per repository path, from the last covered run."""
    result = box.exec(f"PYTHONPATH={COVERAGE_DIR} {python} {COVERAGE_DIR}/patchsmith_cov_read.py {DATA_FILE} {shlex.quote(root)}",
                      timeout=300)
    if not result.ok:
        raise SandboxError(f"Could not read the coverage data: {result.output.strip()[-300:]}")
    found = json.loads(result.stdout or "{}")
    return {context: {path: tuple(sorted(set(lines))) for path, lines in files.items()} for context, files in found.items()}


def run_tests_covered(
    box: Container, test_ids: list[str] | tuple[str, ...], *, root: str = "/testbed", python: str = "python",
    timeout: float = 1800, pytest_args: str = "-p no:cacheprovider -q", measure: bool = True,
    run_last: Sequence[str] = (),
) -> CoveredTests:
    """Run pytest on `test_ids` (node ids or test files) under coverage, each test in its own
    context, with the network off. An asked-for id that pytest did not run has status "missing".
    `measure=False` runs the same selection without coverage (a baseline for its cost).
    The tests in `run_last` (the failing ones, when the caller knows them) run after all others:
    work a process does once, on first use (a cache filled, a table loaded lazily), is charged to
    whichever test runs first, and charged to a failing test it would look like the fault."""
    if box.network:
        box.disconnect_network()
    env = {"PYTHONPATH": COVERAGE_DIR, "PATCHSMITH_COV_DATA": DATA_FILE if measure else "", "PATCHSMITH_COV_SOURCE": root,
           "PATCHSMITH_COV_OUTCOMES": OUTCOMES_FILE, "PATCHSMITH_COV_SELECT": SELECT_FILE}
    box.exec(f"rm -rf {Path(DATA_FILE).parent} && mkdir -p {Path(DATA_FILE).parent}")
    box.put_file(SELECT_FILE, json.dumps({"tests": list(test_ids), "last": list(run_last)}))
    files = dict.fromkeys(test.split("::")[0] for test in test_ids)
    command = f"{python} -m pytest -p patchsmith_cov_plugin {pytest_args} " + " ".join(shlex.quote(f) for f in files)
    result = box.exec(command, timeout=timeout, env=env)
    read = box.exec(f"cat {OUTCOMES_FILE}")
    outcomes = json.loads(read.stdout) if read.ok and read.stdout.strip() else {}
    lines = read_lines(box, root, python) if outcomes and measure else {}
    # Every test pytest ran (a test file given whole runs all of its tests), then any asked-for id it did not run.
    runs = {test: CoveredRun(test, status == "failed", lines.get(test, {}), status) for test, status in outcomes.items()}
    for test in test_ids:
        runs.setdefault(test, CoveredRun(test, False, {}, "missing"))
    return CoveredTests(runs, round(result.duration, 3), result.output, result.timed_out)
