"""Log parsers and grading on real logs.

Each fixture under tests/fixtures/logs is the output of a real run: the SWE-bench instance's
test patch applied at its base commit WITHOUT the fix, so the FAIL_TO_PASS tests fail there and
the PASS_TO_PASS tests pass. The ids below are copied from the SWE-bench Lite dataset rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patchsmith.sandbox.log_parsers import LogParserError, TestStatus, parse_log, shorten_path_parameters
from patchsmith.swebench_runner.grading import grade, official_view

LOGS = Path(__file__).parent / "fixtures" / "logs"


def read(name: str) -> str:
    return (LOGS / name).read_text()


def test_sympy_bin_test() -> None:
    statuses = parse_log(read("sympy_24066_test_patch_only.log"), "sympy")
    assert statuses["test_issue_24062"] is TestStatus.ERROR  # sympy-24066's FAIL_TO_PASS
    assert statuses["test_str_repr"] is TestStatus.PASSED
    assert statuses["test_factor_and_dimension_with_Abs"] is TestStatus.XFAIL
    # The file's last test shares its line with the file verdict `[FAIL]`.
    assert statuses["test_physics_constant"] is TestStatus.PASSED
    assert len(statuses) == 33  # "31 passed, 1 expected to fail, 1 exceptions"
    result = grade(statuses, ["test_issue_24062"], ["test_str_repr", "test_eq", "test_convert_to"])
    assert not result.resolved and result.fail_to_pass_failure == ("test_issue_24062",)
    assert result.pass_to_pass_failure == ()


DJANGO_F2P = [
    "test_multilevel_reverse_fk_cyclic_select_related (known_related_objects.tests.ExistingRelatedInstancesTests"
    ".test_multilevel_reverse_fk_cyclic_select_related)",
    "test_multilevel_reverse_fk_select_related (known_related_objects.tests.ExistingRelatedInstancesTests"
    ".test_multilevel_reverse_fk_select_related)",
]


def test_django_runner() -> None:
    statuses = parse_log(read("django_16408_test_patch_only.log"), "django")
    assert {statuses[test] for test in DJANGO_F2P} == {TestStatus.FAILED}
    assert sum(status is TestStatus.PASSED for status in statuses.values()) == 18
    assert len(statuses) == 20  # "Ran 20 tests"
    # Migration lines such as "Applying admin.0001_initial... OK" are not tests.
    assert not any("Applying" in test for test in statuses)
    p2p = "test_foreign_key (known_related_objects.tests.ExistingRelatedInstancesTests.test_foreign_key)"
    assert grade(statuses, DJANGO_F2P, [p2p]).pass_to_pass_success == (p2p,)


def test_unittest_verbose() -> None:
    statuses = parse_log(read("unittest_sample.log"), "unittest")
    name = "test_{} (test_sample.Sample.test_{})".format
    assert statuses[name("passes", "passes")] is TestStatus.PASSED
    assert statuses[name("fails", "fails")] is TestStatus.FAILED
    assert statuses[name("errors", "errors")] is TestStatus.ERROR
    assert statuses[name("skipped", "skipped")] is TestStatus.SKIPPED
    assert statuses[name("expected_failure", "expected_failure")] is TestStatus.XFAIL
    # Output written before the result pushes "ok" to the next line.
    assert statuses[name("prints", "prints")] is TestStatus.PASSED
    # A docstring's first line names the test, as in SWE-bench's Django ids.
    assert statuses["A test with a docstring is named by its first line."] is TestStatus.PASSED


FLASK_F2P = ["tests/test_cli.py::TestRoutes::test_subdomain", "tests/test_cli.py::TestRoutes::test_host"]


def test_pytest_summary() -> None:
    statuses = parse_log(read("pytest_flask_5063_test_patch_only.log"), "pytest")
    assert {statuses[test] for test in FLASK_F2P} == {TestStatus.FAILED}
    assert statuses["tests/test_cli.py::test_cli_name"] is TestStatus.PASSED
    assert statuses["tests/test_cli.py::test_prepare_import[test-path0-test]"] is TestStatus.PASSED
    assert not grade(statuses, FLASK_F2P, ["tests/test_cli.py::test_cli_name"]).resolved


def test_pytest_collection_error_fails_every_listed_test() -> None:
    statuses = parse_log(read("pytest_collection_error.log"), "pytest")
    assert statuses == {"tests/test_cli.py": TestStatus.ERROR}
    result = grade(statuses, FLASK_F2P, ["tests/test_cli.py::test_cli_name"])
    assert not result.resolved and len(result.pass_to_pass_failure) == 1


def test_grading_rules() -> None:
    passed, xfail, skipped = TestStatus.PASSED, TestStatus.XFAIL, TestStatus.SKIPPED
    assert grade({"a": passed, "b": xfail}, ["a"], ["b"]).resolved
    assert not grade({"a": passed}, ["a"], ["missing"]).resolved
    assert not grade({"a": TestStatus.ERROR}, ["a"], []).resolved
    # The official 5.x rules: a skipped PASS_TO_PASS test is kept, a skipped FAIL_TO_PASS test is not fixed.
    kept = grade({"a": passed, "b": skipped}, ["a"], ["b"])
    assert kept.resolved and kept.pass_to_pass_success == ("b",)
    not_fixed = grade({"a": skipped, "b": passed}, ["a"], ["b"])
    assert not not_fixed.resolved and not_fixed.fail_to_pass_failure == ("a",)
    # An id SWE-bench recorded cut inside its parameters stands for the ids it begins, when they agree.
    cut = "t.py::test_k[a b"
    assert grade({"t.py::test_k[a b c]": passed, "t.py::test_k[a b d]": xfail}, [cut], []).resolved
    assert not grade({"t.py::test_k[a b c]": passed, "t.py::test_k[a b d]": TestStatus.FAILED}, [cut], []).resolved
    assert grade({"a": passed}, ["a"], []).tests_status()["PASS_TO_PASS"] == {"success": [], "failure": []}


def test_path_parameters_and_unknown_parser() -> None:
    shortened = shorten_path_parameters({"t.py::test_stdin[/tmp/abc/mymodule.py]": TestStatus.PASSED})
    assert list(shortened) == ["t.py::test_stdin[/mymodule.py]"]
    with pytest.raises(LogParserError):
        parse_log("", "nose")


def test_django_runner_in_a_swebench_container() -> None:
    """django-10914's test patch at its base commit, run by `patchsmith swebench eval --predictions empty`
    (Django 3.0 on Python 3.9, with the pre-3.9 rule for test descriptions the dataset was recorded under)."""
    statuses = parse_log(read("django_10914_test_patch_only_container.log"), "django")
    assert statuses["test_override_file_upload_permissions (test_utils.tests.OverrideSettingsTests)"] is TestStatus.FAILED
    # A one-line docstring names its test; a docstring opening with a newline does not.
    assert statuses["assertRaisesMessage shouldn't interpret RE special chars."] is TestStatus.PASSED
    assert statuses["test_skip_if_db_feature (test_utils.tests.SkippingTestCase)"] is TestStatus.PASSED
    assert statuses["test_fixtures_are_skipped (test_utils.tests.SkippingExtraTests)"] is TestStatus.SKIPPED
    assert len(statuses) == 100  # "Ran 100 tests"


# Logs in which our parsers read a status that the official parser of the format does not read.
OFFICIALLY_UNREAD = {
    "django": "test_a (x.T) ... ok\ntest_b (x.T) ... expected failure\n",
    "sympy": "  test_a ok\n  test_b f\n  test_c s\n",
}


def test_grading_drops_statuses_the_official_parser_cannot_read() -> None:
    """Django's "expected failure" and sympy's `f` and `s` are missing to the official harness,
    so a listed test with one of them fails there; our grade agrees, while the parsers (which
    the reproduce stage uses) still read them."""
    django = parse_log(OFFICIALLY_UNREAD["django"], "django")
    assert django["test_b (x.T)"] is TestStatus.XFAIL
    assert not grade(official_view(django, "django"), ["test_a (x.T)"], ["test_b (x.T)"]).resolved
    sympy = parse_log(OFFICIALLY_UNREAD["sympy"], "sympy")
    assert (sympy["test_b"], sympy["test_c"]) == (TestStatus.XFAIL, TestStatus.SKIPPED)
    for listed in ("test_b", "test_c"):
        assert not grade(official_view(sympy, "sympy"), ["test_a"], [listed]).resolved
    # pytest's XFAIL is read by the official parser too, and passes there.
    assert official_view({"t": TestStatus.XFAIL}, "pytest") == {"t": TestStatus.XFAIL}
