"""Test-to-code traceability by naming convention, without an engine: which source file a test
file is named after, and how that breaks the execution signal's ties in localize's fusion."""

from __future__ import annotations

import json

import pytest

from patchsmith.sandbox.coverage import CoveredRun as Run
from tests.conftest import indexed_repo


@pytest.mark.parametrize("test, source, score", [
    ("tests/utils_tests/test_http.py", "web/utils/http.py", 1.0),  # stem and folder
    ("tests/utils_tests/test_http.py", "web/middleware/http.py", 0.5),  # stem only
    ("tests/test_util_typing.py", "docs_tool/util/typing.py", 1.0),  # underscores stand for folders
    ("tests/test_util_typing.py", "docs_tool/typing.py", 0.0),
    ("tests/expressions/tests.py", "web/db/expressions.py", 1.0),  # "tests" alone: the folder is the subject
    ("testing/test_mark.py", "src/tool/mark/__init__.py", 1.0),  # a package goes by its folder's name
    ("pkg/tests/test_combine.py", "pkg/core/combine.py", 1.0),
    ("tests/http_test.py", "web/http.py", 1.0),
    ("tests/app/models.py", "web/db/models.py", 0.0),  # not named like a test module: says nothing
    ("tests/test_http.py", "tests/http.py", 0.0),  # test files are never candidates
])
def test_a_test_file_traces_to_the_source_it_is_named_after(test, source, score):
    from patchsmith.localize.traceability import traced_files

    traced = traced_files([test], [source], [])
    assert (traced[0].score if traced else 0.0) == score


def test_node_ids_name_their_files_and_other_names_do_not():
    from patchsmith.localize.traceability import test_files

    names = ["tests/test_a.py::test_x", "tests/test_a.py::T::test_y", "test_x (app.tests.T)", "test_plain"]
    assert test_files(names) == ["tests/test_a.py"]


SOURCES = {
    "pkg/parser.py": "def parse(text):\n    words = text.split()\n    return words\n",
    "pkg/render.py": "def render(words):\n    joined = ' '.join(words)\n    return joined\n",
    "tests/test_render.py": "def test_render():\n    assert True\n",
}
ISSUE = "parse of the words goes wrong: parse splits the text"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return indexed_repo(tmp_path_factory, "traceability", SOURCES)


def both_files_tied(name: str) -> list[Run]:
    # The failing run, and no passing one, executes both files: each scores 1.0, and retrieval,
    # led by the issue's words, prefers parser.py. The failing test is named after render.py.
    return [Run(name, True, {"pkg/parser.py": (2, 3), "pkg/render.py": (2, 3)})]


def test_traceability_breaks_the_execution_tie_towards_the_file_the_test_is_named_after(index):
    from dataclasses import replace

    from patchsmith.llm import DryRunModel
    from patchsmith.localize import LocalizeSettings, localize

    model = DryRunModel("openai/none", context_window=32_000)
    settings = LocalizeSettings(test_name_weight=0.0)  # the test's name names render too (below)
    runs = both_files_tied("tests/test_render.py::test_render")
    traced = localize(index, ISSUE, model, settings, runs=runs)
    without = localize(index, ISSUE, model, replace(settings, traceability_weight=0.0), runs=runs)
    assert without.files.paths[0] == "pkg/parser.py"  # retrieval breaks the tie
    assert traced.files.paths[0] == "pkg/render.py"
    # Traceability speaks of files: the elements are ranked as without it.
    assert traced.elements == without.elements and traced.elements.elements[0].qualname == "parse"
    assert traced.execution.test_files == ("tests/test_render.py",)
    assert [f.path for f in traced.execution.traced] == ["pkg/render.py"]
    assert "traceability" in traced.files.files[0].sources
    # localize.json records the signal, and reads back the same.
    data = json.loads(json.dumps(traced.to_json()))
    assert data["execution"]["traced"] == [{"path": "pkg/render.py", "score": 1.0}]
    assert type(traced).from_json(data) == traced


def test_named_test_files_stand_in_for_names_without_paths_and_none_change_nothing(index):
    from dataclasses import replace

    from patchsmith.llm import DryRunModel
    from patchsmith.localize import LocalizeSettings, localize

    model = DryRunModel("openai/none", context_window=32_000)
    runs = both_files_tied("test_render (tests.test_render.T)")  # a unittest-style name
    settings = LocalizeSettings(test_name_weight=0.0)  # the test's name names render too (below)
    unnamed = localize(index, ISSUE, model, settings, runs=runs)
    assert unnamed.execution.traced == () and unnamed.files.paths[0] == "pkg/parser.py"
    assert unnamed == localize(index, ISSUE, model, replace(settings, traceability_weight=0.0), runs=runs)
    named = localize(index, ISSUE, model, settings, runs=runs, test_files=["tests/test_render.py"])
    assert named.files.paths[0] == "pkg/render.py"
    # Without a failing run there is no traceability either: localize is as before.
    assert localize(index, ISSUE, model, test_files=["tests/test_render.py"]).execution is None


@pytest.mark.parametrize("name, subject", [
    ("tests/x.py::TestXFail::test_run_with_skip[a-b]", ["x", "fail", "run", "with", "skip"]),
    ("test_label (auth_tests.test_forms.ReadOnlyPasswordHashTest)", ["label", "read", "only", "password", "hash"]),
    ("test_nested (migrations.test_writer.WriterTests.test_nested)", ["nested", "writer"]),  # Django 5's label
    ("test__TR56", ["tr", "56"]),
    ("Management forms render the div template.", ["management", "forms", "render", "the", "div", "template"]),
])
def test_a_failing_tests_name_gives_the_words_of_what_it_tests(name, subject):
    from patchsmith.localize.traceability import test_subject_words

    assert test_subject_words(name) == subject


def executed(*qualnames: str):
    from patchsmith.localize.results import Element, ScoredElement

    return [ScoredElement(Element(f"pkg/{q.split('.')[0].lower()}.py", q, "method", 1, 2), 1.0) for q in qualnames]


def test_the_executed_definition_a_test_is_named_after_takes_the_point():
    from patchsmith.localize.traceability import named_after

    runs = executed("Dataset.to_stacked_array", "DataArray.to_unstacked_dataset", "Variable.copy")
    found = named_after(["tests/t.py::TestDataArray::test_to_unstacked_dataset_different_dimension"], runs)
    # "to unstacked dataset" is the longest run of words shared; the whole name is covered.
    assert [(s.element.qualname, s.score) for s in found] == [("DataArray.to_unstacked_dataset", 1.0)]
    # A class-named test names the classes that share its words; a partial name covers less.
    found = named_after(["test_label (auth_tests.test_forms.ReadOnlyPasswordHashTest)"],
                        executed("ReadOnlyPasswordHashWidget.get_context", "BoundField.label_tag"))
    assert [s.element.qualname for s in found] == ["ReadOnlyPasswordHashWidget.get_context"]
    assert found[0].score == round(len("readonlypasswordhash") / len("readonlypasswordhashwidget"), 6)


def test_a_name_many_definitions_share_spreads_and_a_short_one_names_nothing():
    from patchsmith.localize.traceability import named_after

    found = named_after(["tests/t.py::test_parse"], executed("A.parse", "B.parse", "C.other"))
    assert [s.score for s in found] == [0.5, 0.5]
    # Two failing tests: each gives one point; a test that names nothing gives none.
    found = named_after(["tests/t.py::test_parse", "tests/t.py::test_zz"], executed("A.parse", "C.other"))
    assert [(s.element.qualname, s.score) for s in found] == [("A.parse", 0.5)]
    assert named_after(["tests/t.py::test_by"], executed("A.by")) == []  # under MIN_NAME_CHARS


def test_the_test_names_break_the_execution_tie_towards_the_definition_they_name(index):
    from dataclasses import replace

    from patchsmith.llm import DryRunModel
    from patchsmith.localize import LocalizeSettings, localize

    model = DryRunModel("openai/none", context_window=32_000)
    runs = both_files_tied("test_render_joins (app.tests.T)")  # names no test file: no traceability
    named = localize(index, ISSUE, model, runs=runs)
    without = localize(index, ISSUE, model, replace(LocalizeSettings(), test_name_weight=0.0), runs=runs)
    assert without.files.paths[0] == "pkg/parser.py" and without.elements.elements[0].qualname == "parse"
    assert named.files.paths[0] == "pkg/render.py" and named.elements.elements[0].qualname == "render"
    assert "test names" in named.files.files[0].sources
    data = json.loads(json.dumps(named.to_json()))
    assert data["execution"]["named_after"][0]["element"]["qualname"] == "render"
    assert type(named).from_json(data) == named
