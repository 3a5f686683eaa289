"""The reproduce stage's pure parts: normalization, majority choice, script extraction, JSON records."""

from __future__ import annotations

from patchsmith.reproduce import (
    ERROR,
    REPRODUCED,
    RESOLVED,
    RegressionSet,
    ReproReport,
    ScriptRun,
    extract_script,
    judge,
    normalize_script,
)
from patchsmith.reproduce.scripts import choose

SCRIPT_A = '''"""Check the bulk tier."""
from shopcart import bulk_unit_price

# ten items should get 5% off
price = bulk_unit_price("2.00", 10)
print("PATCHSMITH_VERDICT: reproduced" if str(price) == "2.00" else "PATCHSMITH_VERDICT: resolved")
'''

# The same script with other names, another comment and no docstring.
SCRIPT_A_RENAMED = '''from shopcart import bulk_unit_price
unit = bulk_unit_price("2.00", 10)   # exactly ten
print("PATCHSMITH_VERDICT: reproduced" if str(unit) == "2.00" else "PATCHSMITH_VERDICT: resolved")
'''

SCRIPT_B = '''from shopcart import bulk_unit_price
print("PATCHSMITH_VERDICT: reproduced" if bulk_unit_price("2.00", 50) != bulk_unit_price("2.00", 80) else "PATCHSMITH_VERDICT: resolved")
'''


def _run(sample: int, script: str, verdict: str = REPRODUCED) -> ScriptRun:
    return ScriptRun(sample, script, verdict, "", f"PATCHSMITH_VERDICT: {verdict}\n", 0, False, 0.1)


def test_normalization_ignores_comments_docstrings_and_names_but_not_calls():
    assert normalize_script(SCRIPT_A) == normalize_script(SCRIPT_A_RENAMED)
    assert normalize_script(SCRIPT_A) != normalize_script(SCRIPT_B)
    # A script that does not parse is still compared, without its comments.
    assert normalize_script("print(1  # x\n") == normalize_script("print(1\n")


def test_majority_wins_over_the_earliest_sample_and_ties_go_to_the_earliest():
    runs = [_run(0, SCRIPT_B), _run(1, SCRIPT_A), _run(2, "x = ", ERROR), _run(3, SCRIPT_A_RENAMED)]
    chosen = choose(runs, timeout=30)
    assert (chosen.sample, chosen.votes, chosen.script) == (1, 2, SCRIPT_A)
    assert chosen.runners_up == (SCRIPT_B,)
    tie = choose([_run(0, SCRIPT_B), _run(1, SCRIPT_A)], timeout=30)
    assert (tie.sample, tie.runners_up) == (0, (SCRIPT_A,))
    assert choose([_run(0, SCRIPT_A, RESOLVED), _run(1, SCRIPT_B, ERROR)], timeout=30) is None


def test_extract_script_takes_the_fenced_block():
    answer = "Here you go:\n```python\nprint('PATCHSMITH_VERDICT: error')\n```\nThat's it."
    assert extract_script(answer) == "print('PATCHSMITH_VERDICT: error')\n"
    assert extract_script("no code here") == ""


def test_judge_reads_exactly_one_verdict():
    assert judge("noise\nPATCHSMITH_VERDICT: reproduced\n", 0, False) == (REPRODUCED, "")
    assert judge("PATCHSMITH_VERDICT: resolved\r\n", 0, False) == (RESOLVED, "")
    assert judge("PATCHSMITH_VERDICT: maybe\n", 0, False)[0] == ERROR
    assert judge("PATCHSMITH_VERDICT: reproduced\n", 0, True)[0] == ERROR


def test_records_round_trip_through_json():
    chosen = choose([_run(0, SCRIPT_A), _run(1, SCRIPT_B)], timeout=30)
    report = ReproReport(runs=(_run(0, SCRIPT_A), _run(1, SCRIPT_B)), chosen=chosen, note="sample 0 chosen")
    assert ReproReport.from_json(report.to_json()) == report
    assert ReproReport.from_json(ReproReport(runs=(), chosen=None).to_json()).chosen is None
    selection = RegressionSet(
        tests=("tests/test_a.py::test_x",),
        test_files=("tests/test_a.py",),
        parser="pytest",
        command="python -m pytest -rA",
        seconds_at_base=1.5,
        budget_seconds=60.0,
        file_seconds=(("tests/test_a.py", 1.5),),
    )
    assert RegressionSet.from_json(selection.to_json()) == selection


def test_the_prompt_shows_located_lines_from_localize_results():
    from pathlib import Path

    from patchsmith import repo_index
    from patchsmith.localize import EditLocation, EditLocations, StepReport
    from patchsmith.reproduce.context import code_context, location_paths

    index = repo_index.build_index(Path(__file__).resolve().parent.parent / "examples" / "shopcart")
    edits = EditLocations(
        samples=(),
        union=(EditLocation("shopcart/pricing.py", 29, 31, "bulk_unit_price"),),
        report=StepReport("lines", 0, 1),
    )
    assert location_paths(edits) == ["shopcart/pricing.py"]
    context = code_context(index, edits, 10_000)
    assert "if quantity > threshold:" in context and "def to_money" not in context
    # Plain paths: a small file is shown whole.
    whole = code_context(index, ["shopcart/pricing.py"], 10_000)
    assert "def apply_coupon" in whole and "if quantity > threshold:" in whole


def test_django_test_files_are_named_as_modules():
    from patchsmith.reproduce import django_label

    assert django_label("tests/auth_tests/test_validators.py") == "auth_tests.test_validators"
