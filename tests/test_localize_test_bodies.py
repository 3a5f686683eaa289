"""What the failing tests' bodies use (localize.test_bodies), without an engine: how names are found
and weighed, and how the signal breaks the execution signal's ties in localize's fusion."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from patchsmith.sandbox.coverage import CoveredRun as Run
from tests.conftest import indexed_repo

SOURCES = {
    # The fault is a class attribute, which no run executes; the failing run executes a method of
    # each file alike.
    "pkg/validators.py": (
        "import re\n\nclass UnicodeValidator(RegexValidator):\n    regex = r'^[\\w.@+-]+$'\n\n"
        "    def flags(self):\n        return 0\n"
    ),
    "pkg/core.py": (
        "class RegexValidator:\n    regex = ''\n\n    def __call__(self, value):\n        found = value\n"
        "        return found\n\n    def check(self, value):\n        return value\n"
    ),
    "pkg/other.py": "class Form:\n    def check(self, value):\n        kept = value\n        return kept\n",
    "tests/test_validators.py": (
        "from pkg.validators import UnicodeValidator\nfrom pkg.core import RegexValidator\n\n"
        "def helper(value):\n    return value\n\n"
        "def test_unicode_validator():\n    v = UnicodeValidator()\n    v.check(helper('x'))\n    RegexValidator()\n\n"
        "def test_regex():\n    RegexValidator().check('y')\n\n"
        "def test_regex_again():\n    RegexValidator()\n"
    ),
}
# Retrieval, led by the issue's words, prefers core.py.
ISSUE = "RegexValidator regex check accepts a trailing newline: the regex check is wrong"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return indexed_repo(tmp_path_factory, "test_bodies", SOURCES)


@pytest.mark.parametrize("name, test", [
    ("tests/t.py::TestX::test_y[a-b]", ("tests/t.py", "TestX", "test_y")),
    ("tests/t.py::test_y", ("tests/t.py", "", "test_y")),
    ("test_y (app.tests.TestX)", ("", "TestX", "test_y")),
    ("test_y (app.tests.TestX.test_y)", ("", "TestX", "test_y")),  # Django 5 repeats the function
    ("test_y", ("", "", "test_y")),  # sympy's bare names
])
def test_a_run_name_gives_its_tests_file_class_and_function(name, test):
    from patchsmith.localize.test_bodies import test_of

    assert test_of(name) == test


def test_a_bare_name_is_a_module_level_definition_and_a_name_after_a_dot_may_be_a_method(index):
    from patchsmith.localize.test_bodies import used_definitions

    tests = {"tests/test_validators.py": SOURCES["tests/test_validators.py"]}
    used = used_definitions(["tests/test_validators.py::test_unicode_validator"], tests, index)
    scores = {s.element.qualname: s.score for s in used}
    # UnicodeValidator is used by this test alone; RegexValidator by every test of the file, so it
    # weighs less; `.check` names two methods, which share its weight; the test's own helper is not
    # the code under test.
    assert used[0].element.qualname == "UnicodeValidator" and used[0].element.path == "pkg/validators.py"
    assert scores["UnicodeValidator"] > scores["RegexValidator"] > 0
    assert scores["RegexValidator.check"] == scores["Form.check"] < scores["UnicodeValidator"]
    assert "helper" not in scores and "RegexValidator.__call__" not in scores
    assert sum(scores.values()) <= 1.0
    # A bare `check` would name no method: methods are reached through an object.
    bare = {"tests/test_b.py": "def test_b():\n    check(1)\n"}
    assert used_definitions(["tests/test_b.py::test_b"], bare, index) == []


def test_tests_are_found_by_class_docstring_and_module_and_unknown_ones_give_nothing(index):
    from patchsmith.localize.test_bodies import sources_in_index, test_bodies

    text = ('class T:\n    def test_a(self):\n        """Checks the unicode one."""\n        UnicodeValidator()\n\n'
            'class U:\n    def test_a(self):\n        RegexValidator()\n')
    used, every = test_bodies(["test_a (app.tests.T)", "Checks the unicode one.", "test_gone (app.tests.T)"],
                              {"tests/tests.py": text})
    assert [name for name, _ in used["test_a (app.tests.T)"]] == ["UnicodeValidator"]
    assert [name for name, _ in used["Checks the unicode one."]] == ["UnicodeValidator"]
    assert "test_gone (app.tests.T)" not in used and len(every) == 2
    # A unittest id's module names its file in the index; a node id names it directly.
    assert list(sources_in_index(index, [], ["test_regex (tests.test_validators.T)"])) == ["tests/test_validators.py"]
    assert list(sources_in_index(index, ["tests/test_validators.py"], [])) == ["tests/test_validators.py"]


def tied_runs() -> list[Run]:
    # The failing run, and no passing one, executes all three files alike.
    return [Run("tests/test_validators.py::test_unicode_validator", True,
                {"pkg/core.py": (5, 6), "pkg/other.py": (3, 4), "pkg/validators.py": (7,)})]


def test_the_test_bodies_bring_the_file_execution_cannot_see_to_the_top(index):
    from patchsmith.llm import DryRunModel
    from patchsmith.localize import LocalizeSettings, localize

    model = DryRunModel("openai/none", context_window=32_000)
    settings = LocalizeSettings(test_name_weight=0.0, traceability_weight=0.0)
    without = localize(index, ISSUE, model, settings, runs=tied_runs())
    used = localize(index, ISSUE, model, replace(settings, test_body_weight=2.0), runs=tied_runs())
    assert without.files.paths[0] == "pkg/core.py"
    assert used.files.paths[0] == "pkg/validators.py" and "test bodies" in used.files.files[0].sources
    # Weighted 0 (the default), the signal is recorded but changes no ranking.
    assert without.execution.used and without.execution.used[0].element.qualname == "UnicodeValidator"
    assert without.files == localize(index, ISSUE, model, settings, runs=tied_runs(), test_sources={}).files
    # localize.json records the signal, and reads back the same.
    data = json.loads(json.dumps(used.to_json()))
    assert data["execution"]["used"][0]["element"]["qualname"] == "UnicodeValidator"
    assert type(used).from_json(data) == used
