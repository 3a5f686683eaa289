"""The three prompts of localization. Each asks for a plain, line-per-item answer in one fenced block."""

from __future__ import annotations

Messages = list[dict[str, str]]

SYSTEM = (
    "You are helping a developer find where in a repository an issue has to be fixed. "
    "Answer only from the material you are shown; never make up a file or a name."
)


def _issue_section(issue: str) -> str:
    return f"Here is the issue, as reported:\n<issue>\n{issue.strip()}\n</issue>"


def _messages(user: str) -> Messages:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def files_prompt(issue: str, tree: str, hints: list[str], max_files: int) -> Messages:
    parts = [_issue_section(issue), f"The repository's layout (test and documentation folders folded):\n<tree>\n{tree}\n</tree>"]
    if hints:
        listed = "\n".join(hints)
        parts.append(f"Files whose text matches the issue best, by a text search (it can be wrong):\n<search>\n{listed}\n</search>")
    parts.append(
        f"Which files would a developer edit to resolve this issue? Rank up to {max_files} of them, "
        "the most likely first. Write each repository-relative path on its own line, all inside one "
        "``` block, with nothing else in the block."
    )
    return _messages("\n\n".join(parts))


def elements_prompt(issue: str, skeletons: list[str], executed: list[str] | None = None) -> Messages:
    """`executed`: "path::QualifiedName score" lines for what the failing runs executed, if any were measured."""
    shown = "\n\n".join(skeletons)
    parts = [_issue_section(issue), "Outlines of the files most likely involved (signatures kept, bodies left out):\n" + shown]
    if executed:
        listed = "\n".join(executed)
        parts.append(
            "The failing run (a test that shows the issue) executed these, scored by how suspicious their "
            "lines are (1.00: executed by every failing run and by no passing test; it can still be wrong):\n"
            f"<executed>\n{listed}\n</executed>"
        )
    return _messages(
        "\n\n".join(
            [
                *parts,
                "Name the classes, functions, methods and module-level variables that have to be read or "
                "changed to resolve the issue, the most important first. Write one per line as "
                "path::QualifiedName (a method as path::ClassName.method_name), all inside one ``` block.",
            ]
        )
    )


def lines_prompt(issue: str, snippets: list[str]) -> Messages:
    shown = "\n\n".join(snippets)
    return _messages(
        "\n\n".join(
            [
                _issue_section(issue),
                "The code of the places found so far, each line with its number:\n" + shown,
                "Where exactly must the code change to resolve the issue? Give each place on its own line "
                "as path:FIRST-LAST QualifiedName, using the line numbers shown (one line is path:LINE), "
                "the most important first, all inside one ``` block.",
            ]
        )
    )
