"""The failing runs' output as a signal, without an engine: which repository source files a
traceback, a pytest report and a warning name, and how that breaks the execution signal's ties."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from patchsmith.sandbox.coverage import CoveredRun as Run
from tests.conftest import indexed_repo

# What a failing pytest run prints, cut down: a warning at collection, the failure's frames (the
# test, an installed package, then the repository's code), and the short summary.
PYTEST_OUTPUT = """\
=============================== warnings summary ===============================
/testbed/pkg/compat.py:4: DeprecationWarning: the old spelling is deprecated
  warnings.warn("the old spelling is deprecated", DeprecationWarning)
=================================== FAILURES ===================================
_________________________________ test_render __________________________________
tests/test_render.py:3: in test_render
    assert render(["a"]) == "a"
../opt/venv/lib/python3.9/site-packages/other/wrap.py:10: in inner
    return f(*a)
pkg/render.py:3: in render
    return joined.upper()
E   AttributeError: oops
=========================== short test summary info ============================
FAILED tests/test_render.py::test_render - AttributeError: oops
"""

# Python's own traceback (a script, unittest, Django's runner), the same failure.
TRACEBACK = """\
Traceback (most recent call last):
  File "/testbed/tests/test_render.py", line 3, in test_render
    assert render(["a"]) == "a"
  File "/usr/lib/python3.9/functools.py", line 20, in wrapper
  File "/testbed/pkg/render.py", line 3, in render
    return joined.upper()
AttributeError: oops
"""


def test_mentions_are_taken_from_tracebacks_reports_and_warnings_under_the_root_only():
    from patchsmith.localize.failure_output import mentioned_paths

    assert mentioned_paths(PYTEST_OUTPUT) == ["pkg/compat.py", "tests/test_render.py", "pkg/render.py"]
    assert mentioned_paths(TRACEBACK) == ["tests/test_render.py", "pkg/render.py"]
    assert mentioned_paths('File "/src/app/x.py", line 2', root="/src/app") == ["x.py"]
    assert mentioned_paths("no paths here, only setup.py and a.py: 3") == []


def test_only_indexed_source_files_count_and_the_evidence_is_shared_among_them():
    from patchsmith.localize.failure_output import named_files

    sources = {"pkg/render.py", "pkg/compat.py", "tests/test_render.py"}
    named = named_files(PYTEST_OUTPUT + TRACEBACK, sources)
    assert [(f.path, f.score) for f in named] == [("pkg/render.py", 0.5), ("pkg/compat.py", 0.5)]  # most named first
    assert [(f.path, f.score) for f in named_files(TRACEBACK, sources)] == [("pkg/render.py", 1.0)]
    assert named_files("AssertionError: 1 != 2", sources) == []


SOURCES = {
    "pkg/parser.py": "def parse(text):\n    words = text.split()\n    return words\n",
    "pkg/render.py": "def render(words):\n    joined = ' '.join(words)\n    return joined.upper()\n",
    "tests/test_render.py": "def test_render():\n    assert True\n",
}
ISSUE = "parse of the words goes wrong: parse splits the text"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return indexed_repo(tmp_path_factory, "failure-output", SOURCES)


def test_the_file_a_traceback_names_breaks_the_execution_tie(index):
    from patchsmith.llm import DryRunModel
    from patchsmith.localize import LocalizeSettings, localize

    model = DryRunModel("openai/none", context_window=32_000)
    # The failing run executes both files alike, retrieval (the issue's words) prefers parser.py,
    # and the run's name says nothing of its file: only the output points at render.py.
    lines = {"pkg/parser.py": (2, 3), "pkg/render.py": (2, 3)}
    runs = [Run("a failing script", True, lines, output=TRACEBACK)]
    fused = replace(LocalizeSettings(), failure_output_weight=1.0)
    named = localize(index, ISSUE, model, fused, runs=runs)
    by_default = localize(index, ISSUE, model, runs=runs)  # recorded, not fused (the README says why)
    assert by_default.files.paths[0] == "pkg/parser.py" and by_default.execution.named == named.execution.named
    assert named.files.paths[0] == "pkg/render.py"
    assert "failure output" in named.files.files[0].sources
    assert [f.path for f in named.execution.named] == ["pkg/render.py"]
    # Passing runs' output is not read: the same text on a passing run changes nothing.
    quiet = [Run("a failing script", True, lines), Run("a passing test", False, {}, output=TRACEBACK)]
    assert localize(index, ISSUE, model, fused, runs=quiet).files.paths[0] == "pkg/parser.py"
    # localize.json records the signal and reads back the same.
    data = json.loads(json.dumps(named.to_json()))
    assert data["execution"]["named"] == [{"path": "pkg/render.py", "score": 1.0}]
    assert type(named).from_json(data) == named


def test_a_failing_run_that_executed_no_source_still_gives_its_output(index):
    from patchsmith.llm import DryRunModel
    from patchsmith.localize import LocalizeSettings, localize

    model = DryRunModel("openai/none", context_window=32_000)
    fused = replace(LocalizeSettings(), failure_output_weight=1.0)
    # The test ran the code in a subprocess: coverage saw nothing, the traceback names render.py.
    found = localize(index, ISSUE, model, fused, runs=[Run("t", True, {}, output=TRACEBACK)])
    assert found.execution is not None and found.execution.elements == ()
    assert found.files.paths[0] == "pkg/render.py"
    assert localize(index, ISSUE, model, runs=[Run("t", True, {})]).execution is None
