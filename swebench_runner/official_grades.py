"""Re-grading a run's logs through the official `swebench` package (the `grader` extra), and
every place its grade differs from ours: `patchsmith swebench eval --grader official`.

Each graded instance's test_output.txt is read by the official parser of its repository (of
its log format, for repositories SWE-bench does not have) and graded by the official rules; the
FAIL_TO_PASS and PASS_TO_PASS lists and the resolution are compared with our report. A run that
timed out grades nothing in either. The result is written to official-grades.json in the run.
"""

from __future__ import annotations

import json
from pathlib import Path

from patchsmith.swebench_runner.dataset import Instance
from patchsmith.swebench_runner.errors import SwebenchError
from patchsmith.swebench_runner.run_records import write_atomically

START, END = ">>>>> Start Test Output", ">>>>> End Test Output"
LISTS = ("FAIL_TO_PASS", "PASS_TO_PASS")


def _official():
    try:
        from swebench.harness import grading
        from swebench.harness.log_parsers import python as parsers
    except ImportError as exc:
        raise SwebenchError("--grader official needs the official harness: pip install 'patchsmith[grader]'.") from exc
    return grading, parsers


def _parser(parsers, repo: str, our_parser: str):
    by_format = {"pytest": parsers.parse_log_pytest, "django": parsers.parse_log_django, "sympy": parsers.parse_log_sympy,
                 "unittest": parsers.parse_log_django}
    return parsers.MAP_REPO_TO_PARSER_PY.get(repo) or by_format[our_parser]


def regrade(run_dir: Path, instances: dict[str, Instance], parser_of) -> dict:
    """{"version": official package version, "graded": n, "differences": [...]} for every report
    in the run; `parser_of(instance)` names our parser of its log."""
    import importlib.metadata

    grading, parsers = _official()
    differences, graded = [], 0
    for report_file in sorted(run_dir.glob("*/*/report.json")):
        iid = report_file.parent.name
        ours = json.loads(report_file.read_text())[iid]
        log_file = report_file.parent / "test_output.txt"
        if iid not in instances or "tests_status" not in ours or not log_file.is_file():
            continue  # not graded by us (the patch did not apply): nothing to compare
        instance = instances[iid]
        log = log_file.read_text(encoding="utf-8", errors="replace")
        body = log.split(START, 1)[-1].split(END, 1)[0]
        statuses = {} if ours.get("timed_out") else _parser(parsers, instance.repo, parser_of(instance))(body, None)
        lists = {"FAIL_TO_PASS": list(instance.fail_to_pass), "PASS_TO_PASS": list(instance.pass_to_pass)}
        theirs = grading.get_eval_tests_report(statuses, lists)
        resolved = grading.get_resolution_status(theirs) == "RESOLVED_FULL"
        graded += 1
        for key in LISTS:
            for outcome in ("success", "failure"):
                only_theirs = sorted(set(theirs[key][outcome]) - set(ours["tests_status"][key][outcome]))
                for test in only_theirs:
                    differences.append({"instance_id": iid, "model": report_file.parent.parent.name, "list": key,
                                        "test": test, "official": outcome, "ours": "failure" if outcome == "success" else "success"})
        if resolved != ours["resolved"]:
            differences.append({"instance_id": iid, "model": report_file.parent.parent.name, "list": "resolved",
                                "official": resolved, "ours": ours["resolved"]})
    result = {"version": importlib.metadata.version("swebench"), "graded": graded, "differences": differences}
    write_atomically(run_dir / "official-grades.json", json.dumps(result, indent=1))
    return result


def describe(difference: dict) -> str:
    where = f"{difference['model']}/{difference['instance_id']}"
    if difference["list"] == "resolved":
        return f"{where}: official resolved={difference['official']}, ours resolved={difference['ours']}"
    return f"{where}: {difference['list']} {difference['test']}: official {difference['official']}, ours {difference['ours']}"
