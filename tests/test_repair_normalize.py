"""Normalized patches: equal for candidates that differ only in comments, docstrings or layout."""

from patchsmith.repair import Edit, apply_answer, format_edits, normalize_code, normalized_patch

BASE = {"m.py": 'def area(w, h):\n    """Area."""\n    return w * h\n'}


def candidate(replace: str) -> str:
    return apply_answer(format_edits([Edit("m.py", "    return w * h\n", replace)]), BASE).normalized_diff


def test_comments_docstrings_and_layout_do_not_matter():
    plain = candidate("    return abs(w) * abs(h)\n")
    assert plain
    assert candidate("    # both may be negative\n    return abs(w) * abs( h )\n") == plain
    assert candidate("    return (abs(w) *\n            abs(h))\n") == plain
    assert candidate("    unused = 0\n    return abs(w) * abs(h)\n") != plain


def test_different_code_differs():
    assert candidate("    return abs(w * h)\n") != candidate("    return abs(w) * abs(h)\n")


def test_docstring_only_change_normalizes_to_nothing():
    edited = {"m.py": BASE["m.py"].replace('"""Area."""', '"""The area of a rectangle."""')}
    assert normalized_patch(BASE, edited) == ""


def test_unparsable_python_falls_back_to_collapsed_lines():
    assert normalize_code("old.py", "print  'x'\n\n  # c\n") == "print 'x'\n# c\n"
