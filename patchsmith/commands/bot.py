"""`patchsmith bot`: answer the GitHub issue event of the current Actions job (see patchsmith.bot).

The flags are the settings tree's: the model part (--model, --max-cost, --api-base, --price...),
repair's --samples, the sandbox's --base-image and the bot part's own (patchsmith.bot_settings),
each with its name, help and default from its field. An action input left blank means "not set".
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from pathlib import Path

_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
PARTS = ("model", "repair", "sandbox", "bot")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from patchsmith.settings import add_flags

    add_flags(parser, PARTS)


def settings_from_args(args: argparse.Namespace, env: dict[str, str]):
    """The run's settings tree, with the run folder under $RUNNER_TEMP unless --out names one."""
    from patchsmith.bot import BotError
    from patchsmith.settings import load

    settings = load(args, env)
    if not settings.model.model:
        raise BotError("no model: pass --model (the action's `model` input), e.g. anthropic/claude-sonnet-4-5.")
    if not settings.bot.allowed_associations:
        raise BotError("--allow names no author association; nobody could start a run.")
    out_dir = settings.bot.out_dir or Path(env.get("RUNNER_TEMP") or ".") / "patchsmith-run"
    return dataclasses.replace(settings, bot=dataclasses.replace(settings.bot, out_dir=out_dir))


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
    settings = settings_from_args(args, env)
    _export_model_key()
    # The bot keeps the token; nothing solve starts (builds, test runs) needs to inherit it.
    os.environ.pop("GITHUB_TOKEN", None)
    return run_bot(settings, env).exit_code
