"""A repository's own test command under coverage.py, one coverage context per test function.

For suites that pytest does not run (Django's tests/runtests.py, sympy's bin/test), the pytest
plugin of sandbox.coverage cannot name the contexts. Instead every Python process the command
starts measures itself: a `sitecustomize` on PYTHONPATH calls coverage's process_startup, with an
rc file that loads our context plugin and asks for parallel data files, so a runner that
re-executes itself in a child process (sympy does, for hash randomization) is measured too. The
plugin starts a context at each test function, named `module.Class.test_name` or
`module.test_name`. coverage's own `dynamic_context = test_function` is not enough: it starts at the
first function whose name begins with "test", and runners have such functions of their own (sympy's
`runtests.test` would hold every test in one context), so ours also asks that the function be
defined in a test file. The files are combined afterwards. Outcomes come from the runner's log (sandbox.log_parsers)
and are joined to the contexts by name.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from patchsmith.sandbox.container import Container
from patchsmith.sandbox.coverage import COVERAGE_DIR, DATA_FILE, CoveredRun, CoveredTests, read_lines
from patchsmith.sandbox.errors import SandboxError
from patchsmith.sandbox.log_parsers import TestStatus, parse_log

START_DIR = "/tmp/patchsmith-coverage-start"  # holds only the sitecustomize, on PYTHONPATH when measuring
RC_FILE = f"{START_DIR}/coveragerc"
# patchsmith_cov_quiet (sandbox.coverage) leaves out what unittest runs to describe a failure.
_SITECUSTOMIZE = "import coverage\ncoverage.process_startup()\nimport patchsmith_cov_quiet\n"
_PLUGIN = '''
import os
from coverage import CoveragePlugin
from coverage.context import qualname_from_frame


def is_test_file(filename):
    parts = filename.split(os.sep)
    name = parts[-1]
    # Not "test" or "testing" folders: django.test, sympy.testing and numpy.testing hold runners and
    # helpers, not tests.
    return name.startswith("test_") or name.endswith("_test.py") or "tests" in parts[:-1]


class TestFunctions(CoveragePlugin):
    def dynamic_context(self, frame):
        code = frame.f_code
        if (code.co_name.startswith("test") or code.co_name == "runTest") and is_test_file(code.co_filename):
            return qualname_from_frame(frame)
        return None


def coverage_init(reg, options):
    reg.add_dynamic_context(TestFunctions())
'''
_FAILED = (TestStatus.FAILED, TestStatus.ERROR)
_PASSED = (TestStatus.PASSED, TestStatus.XFAIL)
# unittest's "test_name (module.Class)" (Python 3.11 and later: "(module.Class.test_name)")
_UNITTEST_ID = re.compile(r"^(\w+) \(([\w.]+)\)$")


def _rc(root: str) -> str:
    return f"[run]\nsource = {root}\ndata_file = {DATA_FILE}\nparallel = True\nplugins = patchsmith_test_contexts\n"


# Prints {first docstring line: "module.Class.test_name"} for the test methods of the modules
# named on its command line (dotted, relative to the folder it runs in).
_DOCSTRINGS = """
import ast, json, sys
found = {}
for module in sys.argv[1:]:
    try:
        tree = ast.parse(open(module.replace(".", "/") + ".py").read())
    except (OSError, SyntaxError, ValueError):
        continue
    for owner in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for test in (n for n in owner.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            doc = ast.get_docstring(test, clean=False)
            if test.name.startswith("test") and doc and doc.strip():
                found[doc.strip().splitlines()[0].strip()] = ".".join((module, owner.name, test.name))
print(json.dumps(found))
"""


def docstring_names(box: Container, modules: Sequence[str], folder: str = "/testbed") -> dict[str, str]:
    """{first docstring line: `module.Class.test_name`} for the test methods of `modules` (dotted
    names, relative to `folder`). unittest's verbose log, and so an id taken from it (Django's, in
    SWE-bench), names a test with a docstring by that line, which says nothing of where the test
    is; this finds it, so that the test can be asked for by label and joined to its context."""
    if not modules:
        return {}
    box.put_file("/tmp/patchsmith-docstrings.py", _DOCSTRINGS)
    result = box.exec(f"cd {shlex.quote(folder)} && python /tmp/patchsmith-docstrings.py " + " ".join(map(shlex.quote, modules)), timeout=120)
    return json.loads(result.stdout.strip().splitlines()[-1]) if result.ok and result.stdout.strip() else {}


def context_name(test_id: str, docstrings: Mapping[str, str] | None = None) -> str:
    """The dotted name coverage's test_function context gives the test `test_id` names: a unittest
    id becomes `module.Class.test_name`, a docstring's first line the name `docstrings` gives it;
    a bare name (sympy's `test_name`) stays as it is and is matched as the last part of the context."""
    if docstrings and test_id in docstrings:
        return docstrings[test_id]
    match = _UNITTEST_ID.match(test_id)
    if not match:
        return test_id
    name, owner = match.groups()
    return owner if owner.endswith("." + name) else f"{owner}.{name}"


def join_contexts(test_ids: Sequence[str], contexts: dict[str, dict[str, tuple[int, ...]]],
                  docstrings: Mapping[str, str] | None = None) -> dict[str, dict[str, tuple[int, ...]]]:
    """The lines of each test id, from the contexts whose name is its context name or ends with it
    (a bare sympy name can match a test of each measured file; their lines are merged). An id no
    context matches is left out."""
    by_last: dict[str, list[str]] = {}
    for context in contexts:
        by_last.setdefault(context.rsplit(".", 1)[-1], []).append(context)
    joined: dict[str, dict[str, tuple[int, ...]]] = {}
    for test_id in test_ids:
        wanted = context_name(test_id, docstrings)
        matches = [c for c in by_last.get(wanted.rsplit(".", 1)[-1], []) if c == wanted or c.endswith("." + wanted)]
        if not matches:
            continue
        merged: dict[str, set[int]] = {}
        for context in matches:
            for path, lines in contexts[context].items():
                merged.setdefault(path, set()).update(lines)
        joined[test_id] = {path: tuple(sorted(lines)) for path, lines in merged.items()}
    return joined


def run_command_covered(
    box: Container, command: str, parser: str, test_ids: Sequence[str], *, root: str = "/testbed",
    python: str = "python", timeout: float = 1800, measure: bool = True,
    docstrings: Mapping[str, str] | None = None,
) -> CoveredTests:
    """Run `command` (the suite's test command with its arguments) with the network off, under
    coverage when `measure`, and return a run for each of `test_ids`: its status from the log
    parsed with `parser`, and its lines. A test the log does not name is "unreported" when it has
    a context, else "missing"; one the log names but whose context could not be found is
    "unmatched". Only "failed" counts as failing; the caller decides about "unreported".
    `docstrings` (docstring_names) names the tests that the log and `test_ids` call by a docstring."""
    if box.network:
        box.disconnect_network()
    box.exec(f"rm -rf {Path(DATA_FILE).parent} && mkdir -p {Path(DATA_FILE).parent} {START_DIR}")
    env = {}
    if measure:
        box.put_file(f"{START_DIR}/sitecustomize.py", _SITECUSTOMIZE)
        box.put_file(f"{START_DIR}/patchsmith_test_contexts.py", _PLUGIN)
        box.put_file(RC_FILE, _rc(root))
        env = {"COVERAGE_PROCESS_START": RC_FILE, "PATCHSMITH_COV_SOURCE": root}
        # Our folders go first; whatever PYTHONPATH the image sets stays after them.
        command = f'export PYTHONPATH={START_DIR}:{COVERAGE_DIR}${{PYTHONPATH:+:$PYTHONPATH}}; {command}'
    result = box.exec(command, timeout=timeout, env=env)
    # By context name, so that a unittest id in either Python's form finds its line in the log.
    statuses = {context_name(test, docstrings): status for test, status in parse_log(result.output, parser).items()}
    lines: dict[str, dict[str, tuple[int, ...]]] = {}
    # A command stopped at its limit leaves no data of the processes it killed: nothing to combine.
    if measure and not result.timed_out:
        combine = box.exec(f"cd {Path(DATA_FILE).parent} && PYTHONPATH={START_DIR} {python} {COVERAGE_DIR} combine --rcfile={RC_FILE} -q", timeout=300)
        if not combine.ok:
            raise SandboxError(f"Could not combine the coverage data: {combine.output.strip()[-300:]}")
        lines = join_contexts(test_ids, read_lines(box, root, python), docstrings)
    runs = {}
    for test in test_ids:
        status = statuses.get(context_name(test, docstrings))
        if status is None:
            # A test that ran (it has a context) but that the log does not name: a subtest's
            # failure is reported under another name, and the grader counts it as not passing.
            runs[test] = CoveredRun(test, False, lines.get(test, {}), "unreported" if test in lines else "missing")
        elif measure and not result.timed_out and test not in lines:
            runs[test] = CoveredRun(test, False, {}, "unmatched")
        else:
            word = "failed" if status in _FAILED else "passed" if status in _PASSED else "skipped"
            runs[test] = CoveredRun(test, word == "failed", lines.get(test, {}), word)
    return CoveredTests(runs, round(result.duration, 3), result.output, result.timed_out)
