"""The settings tree: one frozen, nested value that holds every knob of a run, part by part.

    Settings(model, index, localize, reproduce, repair, sandbox, swebench, bot)

Each default is declared once, on the part's dataclass next to the code that uses it. A field that
has a named shortcut flag says so in its metadata (`{"flag": "--max-cost", "env": ..., "min": 1,
"positive": True, "parse": fn}`); the flag of a bool field is a switch that takes no value and turns
the default around (`--no-cache` on `model.cache = True`); a field with a "const" takes its value
optionally (`--ray` alone is `--ray local`); every field, flagged or not, is reached with
`--set part.key=value` (for example `--set reproduce.regression.max_files=4`).

Layers, last wins:
1. the defaults;
2. the user's config file: `--config FILE`, else $PATCHSMITH_CONFIG, else
   $XDG_CONFIG_HOME/patchsmith/config.toml (~/.config/patchsmith/config.toml), one table per part;
3. environment variables named in the metadata (PATCHSMITH_MODEL, PATCHSMITH_API_BASE);
4. shortcut flags, then `--set part.key=value`.

The repository being fixed is no layer: its `.patchsmith.toml` or `[tool.patchsmith]` table is read
only for its sandbox recipe (sandbox.recipe), never for a model, an endpoint, a key or a cost, so a
foreign repository cannot redirect the user's model key. `ignored_repository_tables` names what
such a file says beyond its recipe, so the command can tell the user it was ignored.

A run folder's settings.json holds the whole tree (`to_dict`); `--resume` reads it back
(`from_dict`) and lets only the flags given to the resume change it.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchsmith.bot_settings import BotSettings
from patchsmith.localize.settings import LocalizeSettings
from patchsmith.model_settings import ModelSettings
from patchsmith.paths import config_path
from patchsmith.repair.generate import RepairSettings
from patchsmith.repo_index.settings import IndexSettings
from patchsmith.reproduce.settings import ReproduceSettings
from patchsmith.sandbox.settings import SandboxSettings
from patchsmith.swebench_runner.settings import SwebenchSettings


class SettingsError(Exception):
    user_error = True


@dataclass(frozen=True)
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    localize: LocalizeSettings = field(default_factory=LocalizeSettings)
    reproduce: ReproduceSettings = field(default_factory=ReproduceSettings)
    repair: RepairSettings = field(default_factory=RepairSettings)
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    swebench: SwebenchSettings = field(default_factory=SwebenchSettings)
    bot: BotSettings = field(default_factory=BotSettings)


PARTS = tuple(f.name for f in dataclasses.fields(Settings))


# ---- walking the tree -------------------------------------------------------------------------


def _walk(cls: type, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field, Any]]:
    hints = typing.get_type_hints(cls)
    for item in dataclasses.fields(cls):
        kind = hints[item.name]
        name = f"{prefix}{item.name}"
        if dataclasses.is_dataclass(kind):
            yield from _walk(kind, name + ".")
        else:
            yield name, item, kind


@functools.cache
def _leaf_table() -> dict[str, tuple[dataclasses.Field, Any]]:
    """Every setting by its dotted name, worked out once: the tree's shape is fixed at import."""
    return {name: (item, kind) for name, item, kind in _walk(Settings)}


def leaves() -> Iterator[tuple[str, dataclasses.Field, Any]]:
    """(dotted name, field, type) of every setting of the tree."""
    return ((name, item, kind) for name, (item, kind) in _leaf_table().items())


def _leaf(dotted: str) -> tuple[dataclasses.Field, Any]:
    found = _leaf_table().get(dotted)
    if found is None:
        parts = ", ".join(PARTS)
        raise SettingsError(f"there is no setting {dotted!r} (settings are part.key, with the parts {parts})")
    return found


def _label(dotted: str, item: dataclasses.Field) -> str:
    return item.metadata.get("flag") or dotted


def _coerce(value: Any, kind: Any, label: str) -> Any:
    """value (a string from a flag or the environment, or a TOML/JSON value) as the field's type."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
            if type(None) in args:
                return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, label)
    if origin is tuple:
        items = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else list(value)
        element_types = args if args and args[-1] is not Ellipsis else (args[0],) * len(items)
        if len(element_types) != len(items):
            raise SettingsError(f"{label} takes {len(element_types)} comma-separated values, not {value!r}")
        return tuple(_coerce(v, t, label) for v, t in zip(items, element_types))
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{label} takes true or false, not {value!r}")
    if kind in (int, float):
        if isinstance(value, bool):
            raise SettingsError(f"{label} takes a number, not {value!r}")
        try:
            number = kind(value)
        except (TypeError, ValueError):
            what = "a whole number" if kind is int else "a number"
            raise SettingsError(f"{label} takes {what}, not {value!r}") from None
        return number
    if kind is Path:
        return Path(str(value)).expanduser()
    if kind is str:
        if not isinstance(value, str):
            raise SettingsError(f"{label} takes text, not {value!r}")
        return value
    return value


def _checked(value: Any, item: dataclasses.Field, label: str) -> Any:
    """The bounds a field's metadata declares."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if item.metadata.get("positive") and not value > 0:
            raise SettingsError(f"{label} must be a positive number, not {value!r}")
        if "min" in item.metadata and value < item.metadata["min"]:
            raise SettingsError(f"{label} must be at least {item.metadata['min']}, not {value!r}")
    return value


def parse_value(dotted: str, raw: Any) -> Any:
    """raw as the value of the setting `dotted`, parsed and checked; SettingsError says what is wrong."""
    item, kind = _leaf(dotted)
    label = _label(dotted, item)
    parser = item.metadata.get("parse")
    optional = typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind)
    if optional and isinstance(raw, str) and not raw.strip():
        value = None  # an empty value (an action input left blank) means the field is not set
    elif parser is not None and isinstance(raw, str):
        try:
            value = parser(raw)
        except ValueError as exc:
            raise SettingsError(f"{label} {exc}") from None
    else:
        value = _coerce(raw, kind, label)
    return _checked(value, item, label)


def with_values(settings: Settings, values: Mapping[str, Any]) -> Settings:
    """settings with each dotted setting replaced (values already parsed, or raw: parsed here)."""
    for dotted, raw in values.items():
        value = parse_value(dotted, raw)
        settings = _replace_path(settings, dotted.split("."), value)
    return settings


def _replace_path(node: Any, path: list[str], value: Any) -> Any:
    head, rest = path[0], path[1:]
    return dataclasses.replace(node, **{head: _replace_path(getattr(node, head), rest, value) if rest else value})


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def to_dict(settings: Settings) -> dict[str, Any]:
    """The tree as JSON-ready data, without the fields marked secret (keys stay in the environment)."""
    data = dataclasses.asdict(settings)
    for dotted, item, _ in leaves():
        if item.metadata.get("secret"):
            *parents, name = dotted.split(".")
            node = data
            for parent in parents:
                node = node[parent]
            node.pop(name, None)
    return data


def from_dict(data: Mapping[str, Any]) -> Settings:
    """The tree a settings.json holds (keys it does not know are refused, in one sentence)."""
    return with_values(Settings(), _flatten(data))


# ---- the layers -------------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"the config file {path} is not valid TOML: {exc}") from None


def _config_values(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.is_file():
        if explicit:
            raise SettingsError(f"the config file {path} does not exist")
        return {}
    data = _read_toml(path)
    unknown = [key for key in data if key not in PARTS]
    if unknown:
        raise SettingsError(f"the config file {path} has tables patchsmith does not know: {', '.join(unknown)} "
                            f"(the parts are {', '.join(PARTS)})")
    return _flatten(data)


def _environment_values(env: Mapping[str, str]) -> dict[str, Any]:
    return {name: env[item.metadata["env"]] for name, item, _ in leaves()
            if item.metadata.get("env") and env.get(item.metadata["env"])}


def ignored_repository_tables(repo: Path) -> list[str]:
    """What the repository's own patchsmith config says beyond its sandbox recipe (ignored)."""
    found: dict[str, Any] = {}
    if (repo / ".patchsmith.toml").is_file():
        found = _read_toml(repo / ".patchsmith.toml")
    elif (repo / "pyproject.toml").is_file():
        try:
            found = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8")).get("tool", {}).get("patchsmith", {})
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            return []  # the recipe reader reports a broken pyproject.toml
    return sorted(key for key in found if key != "sandbox")


# ---- the command line -------------------------------------------------------------------------


def _dest(dotted: str) -> str:
    return "setting__" + dotted.replace(".", "__")


def add_flags(parser: argparse.ArgumentParser, parts: Sequence[str]) -> None:
    """The shortcut flags of these parts (a part, or a dotted branch or leaf of one, such as
    swebench.ray or swebench.timeout), plus --set and --config."""
    for dotted, item, kind in leaves():
        flag = item.metadata.get("flag")
        if flag and any(dotted == part or dotted.startswith(part + ".") for part in parts):
            default = item.default if item.default is not dataclasses.MISSING else None
            if kind is bool and "parse" not in item.metadata:  # a switch: giving it turns the default around (--no-cache sets cache to false)
                parser.add_argument(flag, dest=_dest(dotted), action="store_const", const=not default, default=None,
                                    help=item.metadata.get("help", dotted))
                continue
            shown = "" if default in (None, "", ()) else f" (default {default})"
            optional_value = {"nargs": "?", "const": item.metadata["const"]} if "const" in item.metadata else {}
            parser.add_argument(flag, dest=_dest(dotted), default=None, **optional_value,
                                metavar=item.metadata.get("metavar", dotted.rsplit(".", 1)[-1].upper()),
                                help=item.metadata.get("help", dotted) + shown)
    parser.add_argument("--set", dest="settings_set", action="append", default=[], metavar="PART.KEY=VALUE",
                        help="any setting, e.g. --set repair.temperature=0.5 (repeatable)")
    parser.add_argument("--config", dest="settings_config", type=Path, default=None,
                        help="the user's config file (default: $PATCHSMITH_CONFIG or ~/.config/patchsmith/config.toml)")


def given_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The settings this command line gives: shortcut flags, then --set."""
    values = {dotted: getattr(args, _dest(dotted)) for dotted, _, _ in leaves()
              if getattr(args, _dest(dotted), None) is not None}
    for assignment in getattr(args, "settings_set", []):
        name, sep, raw = assignment.partition("=")
        if not sep or not name.strip():
            raise SettingsError(f"--set takes PART.KEY=VALUE, not {assignment!r}")
        values[name.strip()] = raw.strip()
    return values


def load(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> Settings:
    """The layered settings for a new run: defaults < config file < environment < flags."""
    explicit = getattr(args, "settings_config", None)
    settings = with_values(Settings(), _config_values(explicit or config_path(env), explicit is not None))
    settings = with_values(settings, _environment_values(env))
    return with_values(settings, given_flags(args))


def resumed(saved: Mapping[str, Any], args: argparse.Namespace) -> Settings:
    """A saved run's settings; only the flags given to the resume change them (not the environment)."""
    return with_values(from_dict(saved), given_flags(args))
