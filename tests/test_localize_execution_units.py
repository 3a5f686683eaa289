"""The spectrum arithmetic and its fusion, without an engine: Ochiai per line, the maximum per
element and file, ties broken by retrieval, import-time lines left out, and no change at all
without a failing run."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from patchsmith.sandbox.coverage import CoveredRun as Run
from tests.conftest import indexed_repo

SOURCE = '''\
import functools


def helper(x):
    if x > 1:
        return x * 2
    return x


@functools.lru_cache()
def decorated(x):
    return helper(x) + 1


class Box:
    size = 3

    def grow(self, x):
        return helper(x) + self.size
'''


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return indexed_repo(tmp_path_factory, "spectrum", {"pkg/core.py": SOURCE, "pkg/other.py": "def unrelated():\n    return 1\n",
                                                       "tests/test_core.py": "def test_a():\n    assert True\n"})


def test_ochiai_per_line_and_max_per_element(index):
    from patchsmith.localize.spectrum import execution_signal, line_scores

    runs = [
        Run("fail", True, {"pkg/core.py": (5, 6, 12, 19), "tests/test_core.py": (2,)}),
        Run("pass1", False, {"pkg/core.py": (5, 7, 19)}),
        Run("pass2", False, {"pkg/core.py": (5, 7)}),
    ]
    scores = line_scores(runs, index)
    assert scores["pkg/core.py"][6] == 1.0  # ef=1, ep=0
    assert math.isclose(scores["pkg/core.py"][5], 1 / math.sqrt(3))  # ef=1, ep=2
    assert math.isclose(scores["pkg/core.py"][19], 1 / math.sqrt(2))
    assert "tests/test_core.py" not in scores  # test files are never candidates
    signal = execution_signal(runs, index, [], [])
    by_name = {s.element.qualname: s.score for s in signal.elements}
    assert by_name["helper"] == 1.0 and by_name["decorated"] == 1.0
    assert math.isclose(by_name["Box.grow"], round(1 / math.sqrt(2), 6))
    assert "Box" not in by_name  # a class would only repeat its best method's score
    assert signal.files[0].path == "pkg/core.py" and signal.files[0].score == 1.0


def test_lines_run_at_import_count_for_nothing(index):
    from patchsmith.localize.spectrum import body_lines, line_scores

    body = body_lines(index, "pkg/core.py")
    assert {5, 6, 7, 12, 19} <= body
    assert not body & {1, 4, 10, 11, 15, 16, 18}  # import, def, decorator, class and class-level lines
    # A script's run counts its imports: def and class lines alone point at nothing.
    assert line_scores([Run("script", True, {"pkg/core.py": (1, 4, 10, 11, 15, 16, 18)})], index) == {}


def test_ties_go_to_retrieval_and_no_failing_run_means_no_signal(index):
    from patchsmith.localize.spectrum import execution_signal

    runs = [Run("fail", True, {"pkg/core.py": (6,), "pkg/other.py": (2,)})]
    first = execution_signal(runs, index, ["pkg/other.py", "pkg/core.py"], [("pkg/other.py", "unrelated")])
    assert [f.path for f in first.files] == ["pkg/other.py", "pkg/core.py"]
    assert first.elements[0].element.qualname == "unrelated"
    second = execution_signal(runs, index, ["pkg/core.py", "pkg/other.py"], [("pkg/core.py", "helper")])
    assert [f.path for f in second.files] == ["pkg/core.py", "pkg/other.py"]
    assert second.elements[0].element.qualname == "helper"
    # Retrieval silent: by path, whatever order coverage listed the files in.
    listed = [Run("fail", True, dict(reversed(list(runs[0].lines.items()))))]
    assert [f.path for f in execution_signal(listed, index, [], []).files] == ["pkg/core.py", "pkg/other.py"]
    assert [f.path for f in execution_signal(runs, index, [], []).files] == ["pkg/core.py", "pkg/other.py"]
    assert execution_signal([Run("pass", False, {"pkg/core.py": (6,)})], index, [], []) is None


def test_fusion_lets_a_certain_signal_beat_two_agreeing_rankings():
    from patchsmith.localize.files import fuse, fuse_with_execution

    rankings = [["a.py", "b.py"], ["a.py", "c.py"]]
    assert fuse(rankings + [["c.py", "a.py"]], 60)[0][0] == "a.py"  # plain ranks: agreement wins
    fused = fuse_with_execution(rankings, {"c.py": 1.0, "a.py": 0.3}, 60, 4.0)
    assert [key for key, _, _ in fused][:2] == ["c.py", "a.py"]
    assert fused[0][2] == {1, 2}  # retrieval and execution named it


def test_without_a_failing_run_localize_is_as_before(index):
    from patchsmith.llm import DryRunModel
    from patchsmith.localize import localize

    model = DryRunModel("openai/none", context_window=32_000)
    before = localize(index, "helper doubles x", model)
    passing_only = localize(index, "helper doubles x", model, runs=[Run("pass", False, {"pkg/core.py": (6,)})])
    assert passing_only == before and before.execution is None
    assert "execution" not in before.to_json()


def test_a_ranked_class_takes_the_score_of_its_executed_methods(index):
    from patchsmith.localize.elements import fuse_elements
    from patchsmith.localize.results import Element, ExecutionSignal, ScoredElement
    from patchsmith.localize.settings import LocalizeSettings

    box, grow = Element("pkg/core.py", "Box", "class", 15, 19), Element("pkg/core.py", "Box.grow", "method", 18, 19)
    unrelated = Element("pkg/other.py", "unrelated", "function", 1, 2)
    others = [ScoredElement(Element("pkg/more.py", f"f{n}", "function", n, n), 0.5) for n in range(6)]
    # The fix is Box's class-level `size`: the failing run went through Box.grow and much else.
    signal = ExecutionSignal(runs=(("fail", True),), files=(),
                             elements=(ScoredElement(grow, 1.0), ScoredElement(unrelated, 1.0), *others))
    fused = [e.qualname for e in fuse_elements([Element("pkg/core.py", "helper", "function", 4, 7), box], signal, LocalizeSettings())]
    # Retrieval's class, backed by its method's execution, comes right after that method (never
    # above it), ahead of what only the execution signal names less surely.
    assert fused[:3] == ["Box.grow", "Box", "unrelated"]
    # A class that retrieval did not rank is never added.
    assert "Box" not in [e.qualname for e in fuse_elements([unrelated], signal, LocalizeSettings())]


def test_with_runs_the_files_follow_the_fused_elements():
    from patchsmith.localize.files import ties_broken_by_elements
    from patchsmith.localize.results import Element, FileLocations, RankedFile, StepReport

    # Three files tied at the top suspiciousness, file-level retrieval put a.py first; the element
    # step's fused ranking, finer, leads with c.py's function.
    files = FileLocations(files=tuple(RankedFile(p, 5.0, ("retrieval", "execution")) for p in ("a.py", "b.py", "c.py")),
                          model_files=(), retrieval_files=("a.py", "b.py", "c.py"), dropped=(), report=StepReport("files", 0, 0, ""))
    elements = [Element("c.py", "f", "function", 1, 2), Element("a.py", "g", "function", 1, 2), Element("c.py", "h", "function", 3, 4)]
    assert ties_broken_by_elements(files, elements).paths == ("c.py", "a.py", "b.py")
    assert ties_broken_by_elements(files, []).paths == files.paths
    # Only ties: a file the file step scores higher (traceability, a file-level signal) stays first.
    ahead = replace(files, files=(RankedFile("b.py", 6.0, ("retrieval", "traceability")), *files.files[:1], files.files[2]))
    assert ties_broken_by_elements(ahead, elements).paths == ("b.py", "c.py", "a.py")


def test_the_describing_code_of_the_repository_measured_is_not_paused(tmp_path, monkeypatch):
    """pytest's own tests: pytest's describing functions are the code under test, so they stay measured."""
    import types
    import unittest.case
    import unittest.util

    from patchsmith.sandbox.coverage import _QUIET

    # The module wraps unittest's functions where it is imported; put them back afterwards.
    for owner in (unittest.util, unittest.case):
        for name in ("safe_repr", "_common_shorten_repr"):
            monkeypatch.setattr(owner, name, getattr(owner, name))
    monkeypatch.setattr(unittest.case, "pprint", unittest.case.pprint)
    (tmp_path / "framework.py").write_text("def _saferepr(value):\n    return repr(value)\n")
    own = {}
    exec(compile((tmp_path / "framework.py").read_text(), str(tmp_path / "framework.py"), "exec"), own)
    monkeypatch.setenv("PATCHSMITH_COV_SOURCE", str(tmp_path))
    quiet: dict = {}
    exec(compile(_QUIET, "patchsmith_cov_quiet.py", "exec"), quiet)

    assert getattr(unittest.util.safe_repr, "patchsmith_quiet", False)  # the standard library's: paused
    inside = types.SimpleNamespace(_saferepr=own["_saferepr"])
    quiet["_wrap"](inside, ["_saferepr"])
    assert inside._saferepr is own["_saferepr"]  # under the measured root: left as it is
    assert unittest.util.safe_repr([1]) == "[1]"
