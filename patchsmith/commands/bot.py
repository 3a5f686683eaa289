"""`patchsmith bot`: answer the GitHub issue event of the current Actions job (see patchsmith.bot)."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def _optional_float(text: str) -> float | None:
    return float(text) if text.strip() else None


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false", "yes", "no", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value in ("true", "yes", "1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="litellm model name, e.g. anthropic/claude-sonnet-4-5")
    parser.add_argument("--samples", type=int, default=4, help="candidate fixes to sample (default 4)")
    parser.add_argument("--max-cost", type=_optional_float, default=None, metavar="USD",
                        help="stop when the model calls cost this much; empty for no cap")
    parser.add_argument("--label", default="patchsmith", help="the issue label that starts a run")
    parser.add_argument("--trigger", default="/patchsmith", help="the comment phrase that starts a run")
    parser.add_argument("--base-branch", default="", help="branch the pull request targets (default: the repository's default)")
    parser.add_argument("--draft", type=_boolean, default=True, metavar="true|false", help="open the pull request as a draft")
    parser.add_argument("--allow", default="OWNER,MEMBER,COLLABORATOR",
                        help="comma-separated author associations that may start a run")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default $RUNNER_TEMP/patchsmith-run)")
    parser.add_argument("--remote", default=None, help="git URL to push to (default GITHUB_SERVER_URL/GITHUB_REPOSITORY.git)")
    parser.add_argument("--base-image", default=None, help="Docker base image for the sandbox")
    parser.add_argument("--dry-run", action="store_true", help="print what would be pushed and posted; do neither")


def options_from_args(args: argparse.Namespace, env: dict[str, str]):
    from patchsmith.bot import BotError, BotOptions

    allowed = tuple(part.strip().upper() for part in args.allow.split(",") if part.strip())
    if not allowed:
        raise BotError("--allow names no author association; nobody could start a run.")
    if args.samples < 1:
        raise BotError("--samples must be at least 1.")
    out = args.out or Path(env.get("RUNNER_TEMP") or ".") / "patchsmith-run"
    return BotOptions(
        model=args.model,
        samples=args.samples,
        max_cost=args.max_cost,
        label=args.label,
        trigger=args.trigger,
        base_branch=args.base_branch or None,
        draft=args.draft,
        allowed_associations=allowed,
        out_dir=out,
        dry_run=args.dry_run,
        remote=args.remote,
        base_image=args.base_image or None,
    )


def _export_model_key() -> None:
    """The action hands the provider key over as PATCHSMITH_MODEL_API_KEY plus the variable
    litellm reads it from (e.g. ANTHROPIC_API_KEY); put it where litellm looks."""
    from patchsmith.bot import BotError

    key = os.environ.pop("PATCHSMITH_MODEL_API_KEY", "")
    name = os.environ.pop("PATCHSMITH_MODEL_API_KEY_ENV", "").strip()
    if not key:
        return
    if not _ENV_NAME.fullmatch(name):
        raise BotError(f"model-api-key-env must name an environment variable such as OPENAI_API_KEY, not {name!r}.")
    os.environ[name] = key


def run(args: argparse.Namespace) -> int:
    from patchsmith.bot import run_bot

    env = dict(os.environ)
    options = options_from_args(args, env)
    _export_model_key()
    # The bot keeps the token; nothing solve starts (builds, test runs) needs to inherit it.
    os.environ.pop("GITHUB_TOKEN", None)
    return run_bot(options, env).exit_code
