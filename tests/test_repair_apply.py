"""Applying edits, the diff they make (checked with real `git apply`), and the checks that reject candidates."""

import json
import subprocess
from pathlib import Path

from patchsmith.repair import Edit, EditResult, apply_answer, apply_edits, check_diff, format_edits, unified_diff

MODULE = (
    "import os\n"
    "\n"
    "\n"
    "class Cart:\n"
    "    def total(self, items):\n"
    "        result = 0\n"
    "        for item in items:  \n"  # trailing spaces, as real files have
    "            result += item.price\n"
    "        return result\n"
    "\n"
    "    def count(self, items):\n"
    "        result = 0\n"
    "        for item in items:\n"
    "            result += 1\n"
    "        return result\n"
)
FILES = {"shop/cart.py": MODULE, "README.md": "# shop\n"}


def answer(*edits: Edit) -> str:
    return format_edits(edits)


def edited(result: EditResult, tmp_path: Path, files=FILES) -> dict[str, str]:
    """The files after real `git apply` of the result's diff onto `files`."""
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(text.encode())
    subprocess.run(["git", "apply", "-"], input=result.diff.encode(), cwd=tmp_path, check=True)
    return {
        p.relative_to(tmp_path).as_posix(): p.read_bytes().decode() for p in tmp_path.rglob("*") if p.is_file()
    }


def test_exact_match_and_diff_applies_with_git(tmp_path):
    edit = Edit("shop/cart.py", "            result += item.price\n", "            result += item.price * item.qty\n")
    result = apply_answer(answer(edit), FILES)
    assert result.ok, result.reason
    assert result.edits[0].match == "exact" and result.edits[0].line == 8
    assert result.diff.startswith("diff --git a/shop/cart.py b/shop/cart.py\n--- a/shop/cart.py\n+++ b/shop/cart.py\n")
    assert edited(result, tmp_path)["shop/cart.py"] == MODULE.replace("item.price\n", "item.price * item.qty\n")


def test_whitespace_insensitive_match_reindents_a_dedented_block(tmp_path):
    # The model dropped the method's indentation on both sides.
    search = "for item in items:\n    result += item.price\nreturn result\n"
    replace = "for item in items:\n    if item.price > 0:\n        result += item.price\nreturn result\n"
    result = apply_answer(answer(Edit("shop/cart.py", search, replace)), FILES)
    assert result.ok, result.reason
    assert result.edits[0].match == "whitespace"
    after = edited(result, tmp_path)["shop/cart.py"]
    assert (
        "        for item in items:  \n"  # the kept line keeps the file's own trailing spaces
        "            if item.price > 0:\n"
        "                result += item.price\n"
        "        return result\n"
    ) in after


def test_mistyped_search_whitespace_keeps_replacement_as_written():
    # SEARCH indentation garbled line by line; REPLACE written in the file's indentation.
    search = "      result = 0\n\tfor item in items:\n            result += item.price   \n"
    replace = "        result = 0.0\n        for item in items:  \n            result += item.price\n"
    changed, outcomes = apply_edits(FILES, [Edit("shop/cart.py", search, replace)])
    assert outcomes[0].match == "whitespace"
    assert changed["shop/cart.py"] == MODULE.replace("result = 0\n", "result = 0.0\n", 1)


BODY = (
    "def scale(xa, n):\n"
    "    if xa.kind == 'f':\n"
    "        with errstate():\n"
    "            xa *= n\n"
    "            xa[xa < 0] = -1\n"
    "    return xa\n"
)


def test_kept_lines_re_indented_on_purpose_are_not_mistaken_for_a_shift():
    # SEARCH mistyped line by line; the replacement (in the file's indentation) moves two kept
    # lines out of the `with` block. The SEARCH side's usual shift (none) decides, not the moved lines.
    search = (
        "  if xa.kind == 'f':\n        with errstate():  \n            xa *= n\n\t    xa[xa < 0] = -1\n    return xa\n"
    )
    replace = "    if xa.kind == 'f':\n        xa *= n\n        xa[xa < 0] = -1\n    return xa\n"
    changed, outcomes = apply_edits({"s.py": BODY}, [Edit("s.py", search, replace)])
    assert outcomes[0].match == "whitespace"
    assert changed["s.py"] == "def scale(xa, n):\n" + replace


def test_both_sides_dedented_with_a_mistyped_search_line_are_re_indented():
    search = "if xa.kind == 'f':\n    with errstate():\n      xa *= n\n        xa[xa < 0] = -1\n"
    replace = "if xa.kind == 'f':\n    with errstate():\n        xa *= n\n        xa[xa <= 0] = -1\n"
    changed, outcomes = apply_edits({"s.py": BODY}, [Edit("s.py", search, replace)])
    assert outcomes[0].match == "whitespace"
    assert changed["s.py"] == BODY.replace("xa < 0", "xa <= 0")


def test_an_indentation_nothing_supports_is_refused():
    # SEARCH lines scattered over three indentations; the kept line fits neither the file nor them.
    search = "if xa.kind == 'f':\n          with errstate():\n  xa *= n\n"
    replace = "  if xa.kind == 'f':\n      with errstate():\n          xa *= n + 1\n"
    outcome = apply_edits({"s.py": BODY}, [Edit("s.py", search, replace)])[1][0]
    assert not outcome.applied and "cannot tell how to indent" in outcome.reason


def test_blank_lines_padding_the_search_side_are_dropped_when_the_file_lacks_them():
    search = "\n    def count(self, items):\n        result = 0\n\n"
    replace = "\n    def count(self, items):\n        result = 1\n\n"
    changed, outcomes = apply_edits(FILES, [Edit("shop/cart.py", search, replace)])
    assert outcomes[0].applied and outcomes[0].match == "whitespace" and outcomes[0].line == 11
    count = "count(self, items):\n        result = 0"
    assert changed["shop/cart.py"] == MODULE.replace(count, count.replace("0", "1"))


def test_no_match_and_not_unique_are_refused_with_reasons():
    missing = apply_answer(answer(Edit("shop/cart.py", "return total\n", "return 0\n")), FILES)
    assert not missing.ok and "not found" in missing.reason
    twice = apply_answer(answer(Edit("shop/cart.py", "        result = 0\n", "        result = 1\n")), FILES)
    assert not twice.ok and "not unique" in twice.reason and "lines 6, 12" in twice.reason


def test_line_hint_picks_between_equal_matches():
    edit = Edit("shop/cart.py", "        result = 0\n", "        result = 1\n", line_hint=11)
    changed, outcomes = apply_edits(FILES, [edit])
    assert outcomes[0].applied and outcomes[0].line == 12
    assert changed["shop/cart.py"].count("result = 1\n") == 1
    assert changed["shop/cart.py"].index("result = 1") > changed["shop/cart.py"].index("def count")
    tie = Edit("shop/cart.py", "        result = 0\n", "        result = 1\n", line_hint=9)
    assert not apply_edits(FILES, [tie])[1][0].applied


def test_an_exact_match_contradicted_by_the_replacement_indentation_is_refused():
    files = {"m.py": "if a:\n    x = 1\n\n\ndef g():\n    if a:\n        x = 1\n"}
    # The SEARCH side lost its indentation, so it matches the top-level block exactly; the line
    # the replacement keeps ("if a:") indents like the block inside g(). Guessing would be wrong.
    edit = Edit("m.py", "if a:\n    x = 1\n", "    if a:\n        x = 2\n")
    outcome = apply_edits(files, [edit])[1][0]
    assert not outcome.applied and "fits line 6" in outcome.reason
    # Written consistently, the same exact match is taken.
    edit = Edit("m.py", "if a:\n    x = 1\n", "if a:\n    x = 2\n")
    assert apply_edits(files, [edit])[1][0].line == 1


def test_file_errors_new_files_and_unsafe_paths(tmp_path):
    assert "file not found" in apply_answer(answer(Edit("shop/nope.py", "x\n", "y\n")), FILES).reason
    assert "unsafe path" in apply_answer(answer(Edit("../etc/passwd", "x\n", "y\n")), FILES).reason
    assert "already exists" in apply_answer(answer(Edit("README.md", "", "y\n")), FILES).reason
    created = apply_answer(answer(Edit("shop/util.py", "", "def helper():\n    return 1\n")), FILES)
    assert created.ok and created.edits[0].match == "new file"
    assert "new file mode 100644\n--- /dev/null\n+++ b/shop/util.py\n" in created.diff
    assert edited(created, tmp_path)["shop/util.py"] == "def helper():\n    return 1\n"


def test_later_edit_builds_on_an_earlier_one_and_hints_follow_line_shifts():
    edits = [
        Edit("shop/cart.py", "import os\n", "import os\nimport sys\nimport re\n", line_hint=1),
        Edit("shop/cart.py", "import re\n", "import re as regex\n", line_hint=3),
        Edit("shop/cart.py", "        result = 0\n", "        result = 2\n", line_hint=12),
    ]
    changed, outcomes = apply_edits(FILES, edits)
    assert all(o.applied for o in outcomes), outcomes
    text = changed["shop/cart.py"]
    assert "import re as regex\n" in text and text.index("result = 2") > text.index("def count")


def test_crlf_and_missing_final_newline_are_preserved(tmp_path):
    files = {"w.py": "a = 1\r\nb = 2\r\nc = 3"}
    result = apply_answer(answer(Edit("w.py", "b = 2\nc = 3\n", "b = 20\nc = 30\n")), files)
    assert result.ok, result.reason
    assert "\\ No newline at end of file" in result.diff
    assert edited(result, tmp_path, files)["w.py"] == "a = 1\r\nb = 20\r\nc = 30"


def test_syntax_errors_are_rejected_unless_the_file_had_them_already():
    price = "            result += item.price\n"
    broken = apply_answer(answer(Edit("shop/cart.py", price, "            result += (item.price\n")), FILES)
    assert not broken.ok and "syntax errors" in broken.reason
    indented = apply_answer(answer(Edit("shop/cart.py", price, price + "              result -= 1\n")), FILES)
    assert not indented.ok and "indentation error" in indented.reason
    files = {"fixture.py": "def broken(:\n    pass\nx = 1\n"}
    assert apply_answer(answer(Edit("fixture.py", "x = 1\n", "x = 2\n")), files).ok


def test_empty_and_whitespace_only_changes_are_rejected():
    same = apply_answer(answer(Edit("shop/cart.py", "import os\n", "import os\n")), FILES)
    assert not same.ok and "change nothing" in same.reason
    loop = "        for item in items:  \n"
    spaces = apply_answer(answer(Edit("shop/cart.py", loop, "        for  item in items:\n")), FILES)
    assert not spaces.ok and "only whitespace" in spaces.reason
    # In Python, moving a line into or out of a block is a real change, and so are spaces in a string.
    tail = "            result += 1\n        return result\n"
    indent = Edit("shop/cart.py", tail, tail.replace("        return", "            return"))
    assert apply_answer(answer(indent), FILES).ok
    files = {"s.py": 'x = "a b\\n"\n'}
    assert apply_answer(answer(Edit("s.py", 'x = "a b\\n"\n', 'x = "a  b\\n"\n')), files).ok


def test_partial_answers_are_rejected_unless_allowed():
    from patchsmith.repair import EditSettings

    good = Edit("shop/cart.py", "import os\n", "import sys\n")
    bad = Edit("shop/cart.py", "no such line\n", "x\n")
    result = apply_answer(answer(good, bad), FILES)
    assert not result.ok and "edit 2 of 2" in result.reason and result.edits[0].applied
    assert apply_answer(answer(good, bad), FILES, EditSettings(allow_partial=True)).ok


def test_result_round_trips_through_json():
    result = apply_answer(answer(Edit("shop/cart.py", "import os\n", "import sys\n")), FILES)
    assert EditResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_check_diff_catches_a_diff_that_does_not_match():
    new = {"shop/cart.py": MODULE.replace("import os", "import sys")}
    diff = unified_diff(FILES, new)
    assert check_diff(diff, FILES, new) == ""
    assert check_diff(diff.replace("+import sys", "+import re"), FILES, new) != ""
    assert check_diff("garbage\n@@ -1 +1 @@\n", FILES, new) != ""
