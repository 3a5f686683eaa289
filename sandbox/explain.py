"""A recipe told in words (`patchsmith sandbox build --explain`, the head of every build log) and
written back as the `[tool.patchsmith.sandbox]` table a user can edit (`--write-config`)."""

from __future__ import annotations

import json

from patchsmith.sandbox.base import suite_for_python

NOTE_PREFIX = "PATCHSMITH-NOTE "  # what sandbox/installer.py prints for each dropped or replaced requirement


def notes_in(output: str) -> list[str]:
    """The installer's notes (dropped requirements, fallbacks) in a build step's output."""
    return [line[len(NOTE_PREFIX):].strip() for line in output.splitlines() if line.startswith(NOTE_PREFIX)]


def explain(recipe, notes: tuple[str, ...] | list[str] = ()) -> str:
    why = dict(recipe.why)
    python = recipe.python or "the base image's"
    lines = [f"recipe ({recipe.source}, {recipe.mode} inference)"]
    where = recipe.base_image or f"Debian {suite_for_python(recipe.python)}"
    lines.append(f"  python:       {python} ({where}); {why.get('python', 'as given')}")
    lines.append(f"  date:         {recipe.date or 'none (today''s releases)'}; {why.get('date', 'not dated')}")
    if recipe.requirements:
        lines.append(f"  requirements: {', '.join(recipe.requirements)} ({why.get('requirements', '')})")
    if "build requirements" in why:
        lines.append(f"  build first:  {why['build requirements']}")
    if recipe.left_out:
        lines.append(f"  left out:     {', '.join(recipe.left_out)} (lint, type checking, formatting, docs or release only)")
    lines.append("  install:")
    for command in recipe.setup:
        first = command.splitlines()[0] if command else command
        lines.append(f"    {first}" + (" ..." if "\n" in command else ""))
    if recipe.date:
        lines.append(f"    (pip is upgraded undated, then resolves with --isolated --uploaded-prior-to the end of {recipe.date})")
    lines.append(f"  test command: {recipe.test_command}; {why.get('test command', 'as given')}")
    for note in notes:
        lines.append(f"  note:         {note}")
    return "\n".join(lines)


def recipe_table(recipe) -> str:
    """The recipe as a `[tool.patchsmith.sandbox]` table (TOML; JSON strings are valid TOML strings)."""
    lines = ["[tool.patchsmith.sandbox]"]
    if recipe.base_image:
        lines.append(f"image = {json.dumps(recipe.base_image)}")
    if recipe.python:
        lines.append(f"python = {json.dumps(recipe.python)}")
    lines.append(f"date = {json.dumps(recipe.date or 'none')}")
    if recipe.mode == "dated" and recipe.source == "inferred" or recipe.requirements:
        lines.append("requirements = [" + ", ".join(json.dumps(r) for r in recipe.requirements) + "]")
    else:
        lines.append("setup = [" + ", ".join(json.dumps(c) for c in recipe.setup) + "]")
    if recipe.system_packages:
        lines.append("system_packages = [" + ", ".join(json.dumps(p) for p in recipe.system_packages) + "]")
    lines.append(f"test_command = {json.dumps(recipe.test_command)}")
    if recipe.env:
        lines.append("env = { " + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in recipe.env) + " }")
    return "\n".join(lines) + "\n"
