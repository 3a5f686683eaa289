"""The bot's part of the settings tree: what only the GitHub Action bot decides. The model, the
number of candidates, the cost cap and the sandbox's base image are the tree's own parts (model,
repair, sandbox), with the same flags as `solve`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ASSOCIATIONS = ("OWNER", "MEMBER", "COLLABORATOR")


def parse_associations(text: str) -> tuple[str, ...]:
    return tuple(part.strip().upper() for part in text.split(",") if part.strip())


def parse_boolean(text: str) -> bool:
    """An action input's true or false (a flag that takes a value, as the action passes one)."""
    value = text.strip().lower()
    if value not in ("true", "false", "yes", "no", "1", "0"):
        raise ValueError(f"takes true or false, not {text!r}")
    return value in ("true", "yes", "1")


def _flag(default, flag: str, help: str, **more):
    return field(default=default, metadata={"flag": flag, "help": help, **more})


@dataclass(frozen=True)
class BotSettings:
    label: str = _flag("patchsmith", "--label", "the issue label that starts a run")
    trigger: str = _flag("/patchsmith", "--trigger", "the comment phrase that starts a run")
    base_branch: str | None = _flag(None, "--base-branch", "branch the pull request targets (default: the repository's default)")
    draft: bool = _flag(True, "--draft", "open the pull request as a draft (true or false)", parse=parse_boolean)
    allowed_associations: tuple[str, ...] = _flag(DEFAULT_ASSOCIATIONS, "--allow", "comma-separated author associations that may start a run",
                                                  parse=parse_associations)
    out_dir: Path | None = _flag(None, "--out", "run folder (default $RUNNER_TEMP/patchsmith-run)")
    dry_run: bool = _flag(False, "--dry-run", "print what would be pushed and posted; do neither")
    remote: str | None = _flag(None, "--remote", "git URL to push to (default GITHUB_SERVER_URL/GITHUB_REPOSITORY.git)")
    # {python} is the repository's Python version, as the sandbox infers it.
    hosted_base_image: str = _flag("python:{python}-slim", "--hosted-base-image", "base image on GitHub-hosted runners when --base-image is not given")
    allow_protected_paths: bool = _flag(False, "--allow-protected-paths", "let a fix change CI configuration, workflows and the action's files "
                                        "(true or false)", parse=parse_boolean)
