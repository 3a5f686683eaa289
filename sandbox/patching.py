"""Applying a diff in a container: methods tried in order until one applies, in one shell command.

Two lists are in use. Repair validates candidates with REPAIR_METHODS (git apply, then a 3-way
merge, then patch with fuzz); SWE-bench grading keeps the official harness's order and options,
OFFICIAL_METHODS, so that a prediction applies there exactly when it applies in the harness.

Each attempt prints a marker line, `@@METHOD name` when it applied or `@@FAIL name` followed by
its complaint, which read_apply_output turns into an ApplyResult. A method that fails leaves the
files as they were: git apply changes nothing when it fails, a method marked `undo` is rolled
back from a snapshot tree taken before it, and a method with a dry run only applies after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PatchMethod:
    name: str  # as reports name it
    command: str  # shell, with {patch} for the diff's path and {git} for git; exit 0 means applied
    dry_run: str = ""  # shell run first (same fields); the command runs only when it succeeds
    undo: bool = False  # restore the tree from a snapshot when the command fails
    after: str = ""  # shell run once it applied (a 3-way merge stages what it merged)


@dataclass(frozen=True)
class ApplyResult:
    applied: bool
    method: str | None  # the name of the method that applied, or None
    message: str  # what each method said when it failed (empty when one applied)
    attempts: dict[str, str] = field(default_factory=dict)  # method -> its complaint


REPAIR_METHODS = (
    PatchMethod("git apply", "{git} apply --whitespace=nowarn {patch}"),
    PatchMethod("git apply --3way", "{git} apply --3way --whitespace=nowarn {patch}", undo=True, after="{git} reset -q"),
    PatchMethod("patch --fuzz", "patch -p1 --fuzz=3 --forward --batch --no-backup-if-mismatch -i {patch}",
                dry_run="patch -p1 --fuzz=3 --forward --dry-run --batch -i {patch}", undo=True, after="{git} reset -q"),
)

# The official SWE-bench harness's order: git apply, then patch with fuzz, run dry first.
OFFICIAL_METHODS = (
    PatchMethod("git apply", "{git} apply -v {patch}"),
    PatchMethod("patch --fuzz=5", "patch --batch --fuzz=5 -p1 -i {patch}", dry_run="patch --batch --fuzz=5 -p1 --dry-run -i {patch}"),
)


def apply_script(patch: str, methods: Sequence[PatchMethod], git: str = "git") -> str:
    """The shell that tries each method on the diff at `patch` (a shell word) and exits 0 when one
    applied, 1 when none did. `git` is the git command line to use (with its -c options)."""
    def shell(text: str) -> str:
        return text.format(patch=patch, git=git)

    lines: list[str] = []
    snapshot_taken = False
    for method in methods:
        if method.undo and not snapshot_taken:
            # Taken before the first method that needs undoing, after the ones that change nothing.
            lines.append(f'before=$({git} add -A . && {git} write-tree)')
            lines.append(f'restore() {{ {git} read-tree --reset -u "$before"; {git} clean -fdq; {git} reset -q; }}')
            snapshot_taken = True
        done = f"{shell(method.after)}; " if method.after else ""
        if method.dry_run:
            attempt = f"out=$({shell(method.dry_run)} 2>&1) && {shell(method.command)} >/dev/null 2>&1"
        else:
            attempt = f"out=$({shell(method.command)} 2>&1)"
        lines.append(f"if {attempt}; then {done}echo '@@METHOD {method.name}'; exit 0; fi")
        if method.undo:
            lines.append("restore")
        lines.append(f"printf '@@FAIL {method.name}\\n%s\\n' \"$out\"")
    lines.append("exit 1")
    return "\n".join(lines)


def read_apply_output(output: str, subject: str = "diff") -> ApplyResult:
    """The ApplyResult that apply_script's output says: the method that applied, or each one's
    complaint (its first line, in the message)."""
    attempts: dict[str, str] = {}
    method = None
    current = None
    lines: list[str] = []
    for line in output.splitlines():
        if line.startswith("@@FAIL "):
            if current:
                attempts[current] = "\n".join(lines).strip()
            current, lines = line[len("@@FAIL "):], []
        elif line.startswith("@@METHOD "):
            method = line[len("@@METHOD "):]
        elif current is not None:
            lines.append(line)
    if current:
        attempts[current] = "\n".join(lines).strip()
    if method:
        return ApplyResult(True, method, "", attempts)
    if not attempts:
        return ApplyResult(False, None, f"applying the {subject} could not run: {output.strip()[-500:]}", attempts)
    message = "; ".join(f"{name}: {(text.splitlines() or ['failed'])[0]}" for name, text in attempts.items())
    return ApplyResult(False, None, f"the {subject} does not apply ({message})", attempts)
