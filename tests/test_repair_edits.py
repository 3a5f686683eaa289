"""The edit format's parser: what it tolerates and what it reports."""

from patchsmith.repair import FORMAT_HELP, Edit, format_edits, parse_edits

BLOCK = "@@@ FILE pkg/mod.py\n@@@ SEARCH\nx = 1\n@@@ REPLACE\nx = 2\n@@@ END\n"


def test_one_block():
    parsed = parse_edits(BLOCK)
    assert parsed.problems == ()
    assert parsed.edits == (Edit("pkg/mod.py", "x = 1\n", "x = 2\n"),)


def test_chatter_and_fences_around_blocks_are_ignored():
    answer = "I found the bug.\n\n```python\n" + BLOCK + "```\n\nThis fixes it. @@@ not a marker\n"
    assert parse_edits(answer).edits == (Edit("pkg/mod.py", "x = 1\n", "x = 2\n"),)


def test_fences_inside_sections_are_stripped_for_code_but_kept_for_markup():
    fenced = "@@@ FILE {}\n@@@ SEARCH\n```python\nx = 1\n```\n@@@ REPLACE\n```python\nx = 2\n```\n@@@ END\n"
    assert parse_edits(fenced.format("a.py")).edits[0] == Edit("a.py", "x = 1\n", "x = 2\n")
    kept = parse_edits(fenced.format("README.md")).edits[0]
    assert kept.search == "```python\nx = 1\n```\n"


def test_crlf_and_missing_final_newline():
    answer = BLOCK.replace("\n", "\r\n").removesuffix("\r\n")
    parsed = parse_edits(answer)
    assert parsed.problems == ()
    assert parsed.edits == (Edit("pkg/mod.py", "x = 1\n", "x = 2\n"),)


def test_marker_spacing_case_and_path_decoration():
    answer = "  @@@ file `./pkg/mod.py`:\n@@@search\nx = 1\n @@@ Replace \nx = 2\n@@@ end\n"
    assert parse_edits(answer).edits == (Edit("pkg/mod.py", "x = 1\n", "x = 2\n"),)


def test_line_hint():
    answer = BLOCK.replace("@@@ SEARCH", "@@@ SEARCH line 42")
    assert parse_edits(answer).edits[0].line_hint == 42


def test_several_pairs_after_one_file_line_and_missing_end_closed_by_next_block():
    answer = (
        "@@@ FILE a.py\n@@@ SEARCH\na\n@@@ REPLACE\nb\n"  # no END: the next SEARCH closes it
        "@@@ SEARCH\nc\n@@@ REPLACE\nd\n@@@ END\n"
        "@@@ FILE b.py\n@@@ SEARCH\ne\n@@@ REPLACE\n@@@ END\n"
    )
    parsed = parse_edits(answer)
    assert parsed.problems == ()
    assert parsed.edits == (
        Edit("a.py", "a\n", "b\n"),
        Edit("a.py", "c\n", "d\n"),
        Edit("b.py", "e\n", ""),
    )


def test_truncated_answer_is_a_problem_not_an_edit():
    parsed = parse_edits(BLOCK + "@@@ FILE a.py\n@@@ SEARCH\nx = 1\n@@@ REPLACE\nx = ")
    assert len(parsed.edits) == 1
    assert parsed.problems and "truncated" in parsed.problems[0]
    parsed = parse_edits("@@@ FILE a.py\n@@@ SEARCH\nx = 1\n")
    assert parsed.edits == () and "truncated" in parsed.problems[0]


def test_malformed_structures_each_have_a_reason():
    cases = {
        "@@@ SEARCH\nx\n@@@ REPLACE\ny\n@@@ END\n": "without a FILE line",
        "@@@ FILE\n@@@ SEARCH\nx\n@@@ REPLACE\ny\n@@@ END\n": "without a path",
        "@@@ FILE a.py\n@@@ REPLACE\ny\n@@@ END\n": "outside a block",
        "@@@ FILE a.py\n@@@ SEARCH\nx\n@@@ END\n": "before its REPLACE",
        "@@@ FILE a.py\n@@@ SEARCH\nx\n@@@ FILE b.py\n": "has no REPLACE",
        "just prose, no blocks": "no edit blocks",
        BLOCK + "@@@ FILE b.py\n": "has no SEARCH block",
    }
    for answer, expected in cases.items():
        parsed = parse_edits(answer)
        assert any(expected in problem for problem in parsed.problems), (answer, parsed.problems)


def test_bytes_answer_and_format_round_trip():
    edits = (Edit("a.py", "x\n", "y\n", line_hint=7), Edit("new.py", "", "z = 1\n"))
    assert parse_edits(format_edits(edits).encode()).edits == edits


def test_the_format_help_example_parses():
    example = FORMAT_HELP[FORMAT_HELP.index("@@@ FILE") : FORMAT_HELP.index("@@@ END") + len("@@@ END")]
    parsed = parse_edits(example)
    assert parsed.problems == ()
    assert parsed.edits[0].path == "path/to/file.py" and parsed.edits[0].line_hint == 120
