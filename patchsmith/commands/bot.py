"""`patchsmith bot`: answer the GitHub issue event of the current Actions job (see patchsmith.bot).

The flags are BotSettings' fields: each takes its name and help from the field's metadata and its
default from the field, so no default is declared twice.
"""

from __future__ import annotations

import argparse
import dataclasses
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


def _associations(text: str) -> tuple[str, ...]:
    return tuple(part.strip().upper() for part in text.split(",") if part.strip())


def _price(text: str) -> tuple[float, float] | None:
    """"IN,OUT" dollars per million tokens -> dollars per token; "" -> None."""
    if not text.strip():
        return None
    parts = text.replace("/", ",").split(",")
    try:
        price_in, price_out = (float(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected dollars per million input and output tokens such as 3,15, got {text!r}") from None
    if price_in < 0 or price_out < 0:
        raise argparse.ArgumentTypeError(f"a price cannot be negative: {text!r}")
    return price_in / 1e6, price_out / 1e6


def _text_or_none(text: str) -> str | None:
    return text.strip() or None


# How each field's flag reads its text; the rest are plain strings.
_PARSERS = {
    "samples": int, "max_cost": _optional_float, "draft": _boolean, "allowed_associations": _associations,
    "out_dir": Path, "base_branch": _text_or_none, "base_image": _text_or_none, "api_base": _text_or_none,
    "price_per_token": _price, "allow_protected_paths": _boolean,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from patchsmith.bot import BotSettings

    for spec in dataclasses.fields(BotSettings):
        flag, help_text = spec.metadata["flag"], spec.metadata["help"]
        if spec.default is dataclasses.MISSING:
            parser.add_argument(flag, dest=spec.name, required=True, help=help_text)
        elif spec.name == "dry_run":
            parser.add_argument(flag, dest=spec.name, action="store_true", help=help_text)
        elif spec.name == "out_dir":  # its default depends on the runner: $RUNNER_TEMP/patchsmith-run
            parser.add_argument(flag, dest=spec.name, type=Path, default=None, help=help_text + " (default $RUNNER_TEMP/patchsmith-run)")
        else:
            shown = ",".join(spec.default) if isinstance(spec.default, tuple) and spec.name != "price_per_token" else spec.default
            parser.add_argument(flag, dest=spec.name, type=_PARSERS.get(spec.name, str), default=spec.default,
                                help=f"{help_text} (default {shown})")


def settings_from_args(args: argparse.Namespace, env: dict[str, str]):
    from patchsmith.bot import BotError, BotSettings

    if not args.allowed_associations:
        raise BotError("--allow names no author association; nobody could start a run.")
    if args.samples < 1:
        raise BotError("--samples must be at least 1.")
    values = {spec.name: getattr(args, spec.name) for spec in dataclasses.fields(BotSettings)}
    values["out_dir"] = args.out_dir or Path(env.get("RUNNER_TEMP") or ".") / "patchsmith-run"
    return BotSettings(**values)


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
