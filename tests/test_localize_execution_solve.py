"""`--failing-test` end to end on the ledger fixture (tests/fixtures/ledger), real Docker, a scripted
model behind the real litellm path. The named test is the reproduction: measured under coverage it
moves localization to money.to_hundredths, which the issue never names; the chosen candidate makes
it pass, a candidate that leaves it failing is rejected, and one that edits the test is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from patchsmith.settings import Settings, with_values
from tests.conftest import make_git_repo
from tests.scripted_model import ScriptedModel
from tests.shopcart_model import fresh_model_cache  # noqa: F401 - an autouse fixture
from tests.test_solve import scripted_settings
from tests.test_localize_execution import FAILING, LEDGER, PARSE_FAILING, PARSE_FILES, ledger_files

pytestmark = pytest.mark.docker


def _edit(path: str, search: str, replace: str) -> str:
    return f"@@@ FILE {path}\n@@@ SEARCH\n{search}\n@@@ REPLACE\n{replace}\n@@@ END\n"


BRANCH = '    if rest > Decimal("0.5"):'
# Greedy: makes the named test pass by changing what it expects; it may not edit the evidence.
EDITS_THE_TEST = _edit("tests/test_invoice.py", '    assert invoice("10.50", "0.07").total() == Decimal("11.24")',
                       '    assert invoice("10.50", "0.07").total() == Decimal("11.23")')
# Breaks no passing test and leaves the named one failing.
WRONG = _edit("ledger/money.py", BRANCH, '    if rest > Decimal("0.6"):')
RIGHT = _edit("ledger/money.py", BRANCH, '    if rest >= Decimal("0.5"):')


def answer(request: dict) -> list[str]:
    prompt = request["messages"][-1]["content"]
    n = int(request.get("n") or 1)
    greedy = float(request.get("temperature") or 0.0) == 0.0
    if "Which files would a developer edit" in prompt:
        text = "```\nledger/invoice.py\nledger/tax.py\n```"
    elif "Name the classes, functions" in prompt:
        # Without the execution signal the model follows the issue's words; with it, the signal.
        text = "```\nledger/money.py::to_hundredths\n```" if "<executed>" in prompt else "```\nledger/invoice.py::Invoice.total\n```"
    elif "Where exactly must the code change" in prompt:
        text = "```\nledger/money.py:12-15 to_hundredths\n```" if "### ledger/money.py" in prompt else "```\nledger/invoice.py:28-30 Invoice.total\n```"
    elif "Existing tests that pass before the fix" in prompt:
        text = "NONE"
    elif "Answer with one or more edit blocks" in prompt:
        return [EDITS_THE_TEST] * n if greedy else ([WRONG, RIGHT] * n)[:n]
    else:
        raise AssertionError(f"unexpected prompt: {prompt[:200]}")
    return [text] * n


@pytest.fixture()
def ledger_model(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "scripted")
    with ScriptedModel([answer] * 100) as server:
        yield server


def test_solve_with_a_failing_test_fixes_what_it_executed(tmp_path, bookworm_base_image, ledger_model):
    from patchsmith.pipeline import SolveRequest, solve

    repo = tmp_path / "ledger"
    make_git_repo(repo, ledger_files())
    out = tmp_path / "run"
    settings = with_values(Settings(), {"model.model": "openai/scripted", "model.api_base": ledger_model.url,
                                        "repair.samples": 3, "repair.location_sets": 1})
    outcome = solve(SolveRequest(
        repo=repo, issue_title="", issue_body=(LEDGER / "ISSUE.md").read_text(), settings=settings,
        out_dir=out, failing_tests=(FAILING,),
    ))

    assert outcome.failure is None, outcome.failure_detail
    assert '+    if rest >= Decimal("0.5"):' in outcome.patch and outcome.files_touched == ("ledger/money.py",)
    assert outcome.repro_verdict == "reproduced"
    # No model-written script: the named test was the reproduction.
    assert not any("standalone Python script" in r["messages"][-1]["content"] for r in ledger_model.requests)
    reproduce = json.loads((out / "reproduce.json").read_text())
    assert reproduce["failing"]["tests"] == [FAILING] and reproduce["repro"]["runs"] == []

    # The element step ran again with what the failing test executed, and followed it.
    localization = json.loads((out / "localize.json").read_text())
    assert localization["execution"]["elements"][0]["element"]["qualname"] == "to_hundredths"
    assert localization["elements"]["rankings"]["execution"][0] == "ledger/money.py::to_hundredths"
    assert localization["elements"]["elements"][0]["qualname"] == "to_hundredths"
    assert [name for name, failed in localization["execution"]["runs"] if failed] == [FAILING]
    assert sum(not failed for _, failed in localization["execution"]["runs"]) == 6
    executed_prompts = [r for r in ledger_model.requests if "<executed>" in r["messages"][-1]["content"]]
    assert len(executed_prompts) == 1 and "ledger/money.py::to_hundredths 1.00" in executed_prompts[0]["messages"][-1]["content"]

    records = {int(p.stem): json.loads(p.read_text()) for p in (out / "candidates").glob("*.json")}
    assert not records[0]["candidate"]["edit"]["ok"] and "named failing test" in records[0]["candidate"]["edit"]["reason"]
    assert "validation" not in records[0]
    assert records[1]["validation"]["repro_verdict"] == "reproduced" and records[1]["validation"]["broken_tests"] == []
    assert records[2]["validation"]["repro_verdict"] == "resolved"
    assert json.loads((out / "select.json").read_text())["chosen"] == 2

    # The patch makes the named test pass in a fresh copy, and every other test too.
    fresh = tmp_path / "fresh"
    make_git_repo(fresh, ledger_files())
    subprocess.run(["git", "apply", str(out / "patch.diff")], cwd=fresh, check=True)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=fresh,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_solve_refuses_a_failing_test_that_passes_at_base(tmp_path, bookworm_base_image, ledger_model):
    repo = tmp_path / "ledger"
    make_git_repo(repo, ledger_files())
    passing = "tests/test_invoice.py::test_empty_invoice"
    result = subprocess.run(
        [sys.executable, "-m", "patchsmith.cli", "solve", "--repo", str(repo), "--issue", str(repo / "ISSUE.md"),
         "--model", "openai/scripted", "--api-base", ledger_model.url, "--failing-test", passing, "--out", str(tmp_path / "run")],
        capture_output=True, text=True, env={**os.environ},
    )
    assert result.returncode == 2, result.stderr
    assert f"the failing test {passing} already passes at the base commit" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "run" / "localize.json").is_file()  # what was written before stays


def test_localize_no_model_prints_the_fused_ranking(tmp_path, bookworm_base_image):
    repo = tmp_path / "ledger"
    make_git_repo(repo, ledger_files())
    command = [sys.executable, "-m", "patchsmith.cli", "localize", "--repo", str(repo), "--issue", str(repo / "ISSUE.md"),
               "--no-model", "--json"]
    plain = subprocess.run(command, capture_output=True, text=True)
    # The test's name (test_total_when_...) names Invoice.total, the caller, not the buggy helper:
    # without the test-name signal the fused ranking is retrieval and execution alone.
    executed = subprocess.run([*command, "--failing-test", FAILING, "--set", "localize.test_name_weight=0"],
                              capture_output=True, text=True)
    named = subprocess.run([*command, "--failing-test", FAILING], capture_output=True, text=True)
    assert plain.returncode == 0 and executed.returncode == 0 and named.returncode == 0, named.stderr

    before, after = json.loads(plain.stdout), json.loads(executed.stdout)
    with_names = json.loads(named.stdout)
    # With it (the default), the definition the test is named after follows the executed helper, and
    # its file, which the signal sums the test's points into, leads the files: the fixture's limit.
    assert with_names["execution"]["named_after"][0]["element"]["qualname"] == "Invoice.total"
    assert [e["qualname"] for e in with_names["elements"]["elements"][:2]] == ["to_hundredths", "Invoice.total"]
    assert [f["path"] for f in with_names["files"]["files"][:2]] == ["ledger/invoice.py", "ledger/money.py"]
    assert "execution" not in before
    assert after["execution"]["elements"][0]["element"]["qualname"] == "to_hundredths"
    assert after["elements"]["elements"][0]["qualname"] == "to_hundredths"
    assert "to_hundredths" not in [e["qualname"] for e in before["elements"]["elements"][:5]]
    assert after["files"]["files"][0]["path"] == "ledger/money.py"
    assert "execution" in after["files"]["files"][0]["sources"]
    # Traceability: the node id names tests/test_invoice.py, named after ledger/invoice.py, which
    # the fusion counts as a signal (here it points beside the bug: the execution signal outweighs it).
    assert after["execution"]["test_files"] == ["tests/test_invoice.py"]
    assert after["execution"]["traced"] == [{"path": "ledger/invoice.py", "score": 1.0}]
    invoice = next(f for f in after["files"]["files"] if f["path"] == "ledger/invoice.py")
    assert "traceability" in invoice["sources"]


def test_a_chosen_reproduction_script_feeds_the_element_step(tmp_path, bookworm_base_image, monkeypatch):
    """Without named tests, the chosen script is the failing run: measured before repair, it runs
    the element and line steps again, and its signal is in localize.json."""
    import shutil

    from patchsmith.issue_source import read_issue
    from patchsmith.pipeline import SolveRequest, solve
    from tests.shopcart_model import EXAMPLE, shopcart_model

    monkeypatch.setenv("OPENAI_API_KEY", "scripted")
    repo = tmp_path / "shopcart"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.egg-info"))
    title, body = read_issue(str(repo / "ISSUE.md"))
    out = tmp_path / "run"
    with shopcart_model() as server:
        outcome = solve(SolveRequest(repo=repo, issue_title=title, issue_body=body, settings=scripted_settings(server.url),
                                     out_dir=out))
        element_prompts = [r for r in server.requests if "Name the classes, functions" in r["messages"][-1]["content"]]
    assert outcome.failure is None, outcome.failure_detail
    localization = json.loads((out / "localize.json").read_text())
    runs = localization["execution"]["runs"]
    assert ["reproduction script", True] in runs and any(not failed for _, failed in runs)
    assert localization["execution"]["elements"][0]["element"]["qualname"] == "bulk_unit_price"
    assert len(element_prompts) == 2 and "<executed>" in element_prompts[1]["messages"][-1]["content"]
    assert "<executed>" not in element_prompts[0]["messages"][-1]["content"]


def test_localize_prints_the_source_files_the_failing_tests_output_names_and_the_definitions_they_are_named_after(tmp_path, bookworm_base_image):
    repo = tmp_path / "ledger"
    make_git_repo(repo, {**ledger_files(), **PARSE_FILES})
    result = subprocess.run([sys.executable, "-m", "patchsmith.cli", "localize", "--repo", str(repo), "--issue",
                             str(repo / "ISSUE.md"), "--no-model", "--failing-test", PARSE_FAILING, "--out", str(tmp_path / "run")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # pytest's report names the frame that raised; the test's own file is not a candidate.
    assert "named in the failing tests' output: ledger/parse_once.py\n" in result.stdout
    # test_parse_words is named after parse, which it executed.
    assert "the failing tests are named after: ledger/parse_once.py::parse\n" in result.stdout
    saved = json.loads((tmp_path / "run" / "localize.json").read_text())
    assert saved["execution"]["named"] == [{"path": "ledger/parse_once.py", "score": 1.0}]
