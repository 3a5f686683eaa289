"""Environment recipes: what an environment image is made of, inferred from a repository's
dependency files or given in its `[tool.patchsmith.sandbox]` table (pyproject.toml) or in
`.patchsmith.toml`.

Only the dependency files take part in the recipe's hash, so commits that share them share
one environment image.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from patchsmith.sandbox.errors import RecipeError

DEFAULT_TEST_COMMAND = "python -m pytest -rA -p no:cacheprovider"
# Bump when the build steps change what ends up in an image (2: no host CA variables in its config).
_BUILDER_VERSION = 2
_DEPENDENCY_NAMES = ("pyproject.toml", "setup.py", "setup.cfg", "tox.ini", ".patchsmith.toml")
_TEST_EXTRAS = ("test", "tests", "testing", "dev")
_OVERRIDE_KEYS = {"image", "python", "system_packages", "setup", "test_command", "env"}


@dataclass(frozen=True)
class EnvRecipe:
    """How to make an environment image. `setup` runs in the repository's folder with the
    project's virtual environment first on PATH."""

    python: str = ""  # "3.11"; "" = whatever the base image has
    base_image: str = ""  # a registry image such as "python:3.11-slim"; "" = a Debian suite near `python`
    system_packages: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    test_command: str = DEFAULT_TEST_COMMAND
    env: tuple[tuple[str, str], ...] = ()
    dependency_files: tuple[tuple[str, str], ...] = ()  # (path, sha256 of its bytes)
    source: str = "given"  # "inferred", "pyproject.toml", ".patchsmith.toml" or "given"

    def recipe_hash(self) -> str:
        data = asdict(self)
        data.pop("source")
        data.pop("test_command")  # how tests are run does not change the image
        data["builder"] = _BUILDER_VERSION
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return asdict(self)


def read_dependency_files(repo: str | Path, commit: str | None = "HEAD") -> dict[str, bytes]:
    """The dependency files at the repository's root (and requirements/*.txt) at commit; with
    commit None, from the work tree at repo."""
    wanted = lambda path: (  # noqa: E731 - a small predicate reads best inline
        path in _DEPENDENCY_NAMES
        or (re.fullmatch(r"requirements[^/]*\.(txt|in)", path) is not None)
        or (re.fullmatch(r"requirements/[^/]+\.txt", path) is not None)
    )
    if commit is None:
        root = Path(repo)
        found = {}
        for path in list(root.iterdir()) + (list((root / "requirements").iterdir()) if (root / "requirements").is_dir() else []):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and wanted(rel):
                found[rel] = path.read_bytes()
        return found
    import git

    from patchsmith.sandbox.container import open_repo
    from patchsmith.sandbox.errors import SandboxError

    try:
        tree = open_repo(repo).commit(commit).tree
    except (git.exc.GitError, git.exc.BadName, git.exc.BadObject, ValueError) as exc:
        raise SandboxError(f"Cannot read commit {commit!r} of the repository {repo}.") from exc
    found = {}
    for blob in tree.traverse(predicate=lambda item, depth: depth <= 1 and item.type == "blob"):
        if wanted(blob.path):
            found[blob.path] = blob.data_stream.read()
    return found


def infer_recipe(files: dict[str, bytes]) -> EnvRecipe:
    """The default recipe from dependency files (see read_dependency_files), with the
    repository's own overrides applied."""
    text = {path: data.decode("utf-8", "replace") for path, data in files.items()}
    pyproject = _toml(text.get("pyproject.toml", ""), "pyproject.toml")
    # Editable installs of pyproject-only projects need pip 21.3 (bullseye ships 20.3); newer pips stay.
    setup: list[str] = ["python -m pip install 'pip>=21.3'"]
    for path in sorted(p for p in text if p.startswith("requirements") and p.endswith(".txt") and "doc" not in p):
        setup.append(f"python -m pip install -r {path}")
    tox_deps = _tox_deps(text.get("tox.ini", ""))
    if tox_deps:
        setup.append("python -m pip install " + " ".join(_quote(dep) for dep in tox_deps))
    installable = "setup.py" in text or "setup.cfg" in text or "build-system" in pyproject or "project" in pyproject
    if installable:
        extra = _test_extra(pyproject, text.get("setup.cfg", ""))
        setup.append(f"python -m pip install -e {_quote('.[' + extra + ']') if extra else '.'}")
    setup.append("python -m pip install pytest")
    recipe = EnvRecipe(
        python=_python_from_requires(pyproject.get("project", {}).get("requires-python", "")),
        setup=tuple(setup),
        dependency_files=tuple(sorted((path, hashlib.sha256(data).hexdigest()) for path, data in files.items())),
        source="inferred",
    )
    overrides, source = {}, ""
    table = pyproject.get("tool", {}).get("patchsmith", {}).get("sandbox")
    if table is not None:
        overrides, source = table, "pyproject.toml"
    if ".patchsmith.toml" in text:
        data = _toml(text[".patchsmith.toml"], ".patchsmith.toml")
        overrides = data.get("sandbox") or data.get("tool", {}).get("patchsmith", {}).get("sandbox") or data
        source = ".patchsmith.toml"
    return apply_overrides(recipe, overrides, source) if overrides else recipe


def apply_overrides(recipe: EnvRecipe, table: dict, source: str) -> EnvRecipe:
    """A recipe with a user's table applied: image, python, system_packages, setup, test_command, env."""
    unknown = set(table) - _OVERRIDE_KEYS
    if unknown:
        raise RecipeError(f"{source}: unknown sandbox setting(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(_OVERRIDE_KEYS))}.")

    def strings(key: str) -> tuple[str, ...]:
        value = table[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RecipeError(f"{source}: sandbox setting {key!r} must be a string or a list of strings.")
        return tuple(value)

    changes: dict = {"source": source}
    for key, attr in (("image", "base_image"), ("python", "python"), ("test_command", "test_command")):
        if key in table:
            if not isinstance(table[key], (str, int, float)):
                raise RecipeError(f"{source}: sandbox setting {key!r} must be a string.")
            changes[attr] = str(table[key])
    if "system_packages" in table:
        changes["system_packages"] = strings("system_packages")
    if "setup" in table:
        changes["setup"] = strings("setup")
    if "env" in table:
        if not isinstance(table["env"], dict):
            raise RecipeError(f"{source}: sandbox setting 'env' must be a table of strings.")
        changes["env"] = tuple(sorted((str(k), str(v)) for k, v in table["env"].items()))
    return replace(recipe, **changes)


def _toml(text: str, name: str) -> dict:
    if not text:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{name} is not valid TOML ({exc}); fix it or remove the file.") from exc


def _tox_deps(text: str) -> list[str]:
    """The plain requirement lines of tox.ini's [testenv] deps (no -r, no substitutions)."""
    if not text:
        return []
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    raw = parser.get("testenv", "deps", fallback="")
    deps = []
    for line in raw.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-") and "{" not in line and ":" not in line.split(";")[0]:
            deps.append(line)
    return deps


def _test_extra(pyproject: dict, setup_cfg: str) -> str:
    extras = set(pyproject.get("project", {}).get("optional-dependencies", {}) or {})
    if setup_cfg:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(setup_cfg)
            if parser.has_section("options.extras_require"):
                extras |= set(parser["options.extras_require"])
        except configparser.Error:
            pass
    return next((name for name in _TEST_EXTRAS if name in extras), "")


def _python_from_requires(spec: str) -> str:
    """The newest of our Pythons that `requires-python` allows; "" when it says nothing."""
    if not spec:
        return ""
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
    except ImportError:
        return ""
    try:
        allowed = SpecifierSet(spec)
    except InvalidSpecifier:
        return ""
    for version in ("3.11", "3.13", "3.9"):  # the default first, then newer, then older
        if allowed.contains(version + ".0"):
            return version
    return ""


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
