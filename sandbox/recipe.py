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

from patchsmith.sandbox.dating import DATE_FORMAT, nearest_version_tag
from patchsmith.sandbox.errors import RecipeError

DEFAULT_TEST_COMMAND = "python -m pytest -rA -p no:cacheprovider"
# Bump when the build steps change what ends up in an image (2: no host CA variables in its config).
_BUILDER_VERSION = 2
_DEPENDENCY_NAMES = ("pyproject.toml", "setup.py", "setup.cfg", "tox.ini", ".patchsmith.toml")
_TEST_EXTRAS = ("test", "tests", "testing", "dev")
_CONFIG_NAMES = ("pytest.ini", "runtests.py", "tests/runtests.py", ".travis.yml")  # test and CI configuration
_OVERRIDE_KEYS = {"image", "python", "system_packages", "setup", "test_command", "env", "date", "requirements"}
_NOT_HASHED = ("source", "test_command", "mode", "why", "left_out", "compiled")  # how tests run does not change the image
_HASHED_WHEN_SET = ("date", "requirements")


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
    # The package world's date (YYYY-MM-DD): pip resolves releases uploaded by the end of that day.
    date: str = ""
    requirements: tuple[str, ...] = ()  # what the dated install asks for besides the project
    # The account `--explain` prints; none of it changes the image.
    mode: str = "dated"  # "dated", or "legacy" (the inference before dates, kept for comparison)
    why: tuple[tuple[str, str], ...] = ()  # (topic, reason): python, date, test command, ...
    left_out: tuple[str, ...] = ()  # requirements found but not needed for tests (linters, docs)
    compiled: bool = False  # the project builds extensions: another commit's sources need a rebuild

    def recipe_hash(self) -> str:
        data = asdict(self)
        for name in _NOT_HASHED:
            data.pop(name)
        for name in _HASHED_WHEN_SET:  # fields added later: recipes without them keep their hash
            if not data[name]:
                data.pop(name)
        data["builder"] = _BUILDER_VERSION
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return asdict(self)


class DependencyFiles(dict):
    """path -> bytes of the files a recipe is inferred from, with the date of their package world
    (see sandbox.dating): "" when unknown."""

    date: str = ""
    date_reason: str = ""
    nearest_tag: str = ""  # the newest version tag reachable from the commit, for version-from-git tools
    root_names: set[str] = set()  # module names at the tree's root (a setup.py's local imports) and of its Cython modules
    cython_sources: bool = False  # the tree has .pyx files: building it needs Cython
    cimported: set[str] = set()  # top-level modules its Cython sources cimport (their .pxd files are read at build time)


def _legacy_file(path: str) -> bool:
    """The files the inference before dates read (the root's, and requirements/*.txt)."""
    return (path in _DEPENDENCY_NAMES or re.fullmatch(r"requirements[^/]*\.(txt|in)", path) is not None
            or re.fullmatch(r"requirements/[^/]+\.txt", path) is not None)


def _wanted(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (_legacy_file(path) or path in _CONFIG_NAMES
            or (re.search(r"req", name) is not None and name.endswith((".txt", ".in")) and path.count("/") <= 2)
            or (re.search(r"requirements", path.rsplit("/", 1)[0] if "/" in path else "") is not None
                and name.endswith((".txt", ".in", ".yml", ".yaml")))
            or re.fullmatch(r"environment[^/]*\.ya?ml", name) is not None
            or (path.startswith(".github/workflows/") and name.endswith((".yml", ".yaml"))))


def _hashed(path: str) -> bool:
    """Files whose bytes take part in the recipe's hash: what the install reads (CI files and test
    runners only inform the Python and the test command, which the recipe records itself)."""
    return _wanted(path) and path not in _CONFIG_NAMES and not path.startswith(".github/")


def _cython_source(path: str) -> bool:
    """A .pyx file the build compiles (test data and fixtures under test folders are not)."""
    return path.endswith(".pyx") and "test" not in path and not path.startswith(".git/")


_CIMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+([A-Za-z_][\w.]*)[ \t]+cimport\b|cimport[ \t]+([A-Za-z_][\w.]*))", re.M)


def _cimports(path: str, data: bytes) -> set[str]:
    """Top-level modules a Cython source (.pyx, .pxd) of the build cimports: Cython reads their
    .pxd files when it compiles, so they must be installed before the project (scikit-learn
    0.21 cimports scipy's BLAS, and neither setup.py nor a pyproject names scipy)."""
    if not (_cython_source(path) or (path.endswith(".pxd") and "test" not in path)):
        return set()
    return {(a or b).decode().split(".")[0] for a, b in _CIMPORT.findall(data)}


def read_dependency_files(repo: str | Path, commit: str | None = "HEAD") -> DependencyFiles:
    """The files a recipe is inferred from (dependency and test configuration files, requirement
    files up to two folders deep, CI workflows) at commit, dated by sandbox.dating; with commit
    None, from the work tree at repo."""
    from patchsmith.sandbox.dating import dependency_date

    found = DependencyFiles()
    if commit is None:
        root = Path(repo)
        for path in root.rglob("*"):
            rel = path.relative_to(root).as_posix()
            if rel.count("/") <= 2 and path.is_file() and ".git/" not in rel and _wanted(rel):
                found[rel] = path.read_bytes()
        found.root_names = {p.stem for p in root.iterdir()}
        found.cython_sources = any(_cython_source(p.relative_to(root).as_posix()) for p in root.rglob("*.pyx"))
        cython_files = [p for p in [*root.rglob("*.pyx"), *root.rglob("*.pxd")] if ".git/" not in p.as_posix()]
        found.cimported = {name for p in cython_files for name in _cimports(p.relative_to(root).as_posix(), p.read_bytes())}
        found.root_names = found.root_names | {p.stem for p in cython_files}
    else:
        import git

        from patchsmith.sandbox.repo_archives import open_repo
        from patchsmith.sandbox.errors import SandboxError

        try:
            tree = open_repo(repo).commit(commit).tree
        except (git.exc.GitError, git.exc.BadName, git.exc.BadObject, ValueError) as exc:
            raise SandboxError(f"Cannot read commit {commit!r} of the repository {repo}.") from exc
        cython_stems = set()  # old Cython cimports a module of the same folder by its bare name
        for blob in tree.traverse(predicate=lambda item, depth: item.type == "blob"):
            if blob.path.count("/") <= 2 and _wanted(blob.path):
                found[blob.path] = blob.data_stream.read()
            found.cython_sources = found.cython_sources or _cython_source(blob.path)
            if blob.path.endswith((".pyx", ".pxd")):
                found.cimported = found.cimported | _cimports(blob.path, blob.data_stream.read())
                cython_stems.add(blob.name.split(".")[0])
        found.root_names = {item.name.split(".")[0] for item in tree} | cython_stems
    found.date, found.date_reason = dependency_date(repo, commit)
    found.nearest_tag = nearest_version_tag(repo, commit)
    return found


def infer_recipe(files: dict[str, bytes], mode: str = "dated") -> EnvRecipe:
    """The default recipe from dependency files (see read_dependency_files), with the
    repository's own overrides applied. mode "legacy" is the inference before dates."""
    text = {path: data.decode("utf-8", "replace") for path, data in files.items()}
    pyproject = _toml(text.get("pyproject.toml", ""), "pyproject.toml")
    overrides, source = _override_table(pyproject, text)
    if mode == "legacy":
        text = {path: data for path, data in text.items() if _legacy_file(path)}
        recipe = _legacy_recipe(text, pyproject, files)
    else:
        recipe = _dated_recipe(text, pyproject, files, overrides, source)
    return apply_overrides(recipe, overrides, source) if overrides else recipe


def _override_table(pyproject: dict, text: dict[str, str]) -> tuple[dict, str]:
    """The repository's sandbox table and where it was: the only thing read from a repository
    being fixed (never a model, an endpoint, a key or a cost)."""
    overrides, source = {}, ""
    table = pyproject.get("tool", {}).get("patchsmith", {}).get("sandbox")
    if table is not None:
        overrides, source = table, "pyproject.toml"
    if ".patchsmith.toml" in text:
        data = _toml(text[".patchsmith.toml"], ".patchsmith.toml")
        overrides = data.get("sandbox") or data.get("tool", {}).get("patchsmith", {}).get("sandbox") or {}
        source = ".patchsmith.toml"
    if not isinstance(overrides, dict):
        raise RecipeError(f"{source}: the sandbox setting must be a table.")
    return overrides, source


def _dependency_hashes(files: dict[str, bytes]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((path, hashlib.sha256(data).hexdigest()) for path, data in files.items() if _hashed(path)))


def _dated_recipe(text: dict[str, str], pyproject: dict, files: dict[str, bytes], overrides: dict, source: str) -> EnvRecipe:
    from patchsmith.sandbox.discovery import build_requirements, test_command, test_requirements
    from patchsmith.sandbox.plan import install_commands, make_plan
    from patchsmith.sandbox.python_choice import choose_python

    date, date_reason = getattr(files, "date", ""), getattr(files, "date_reason", "") or "no date known: undated"
    if "date" in overrides:
        wanted = str(overrides["date"]).strip()
        if wanted.lower() == "none":
            date, date_reason = "", f"{source} sets date = \"none\": today's releases"
        elif DATE_FORMAT.fullmatch(wanted):
            date, date_reason = wanted, f"{source} sets the date"
        else:
            raise RecipeError(f"{source}: sandbox setting 'date' must be \"YYYY-MM-DD\" or \"none\", not {wanted!r}.")
    python, python_reason = choose_python(text, pyproject, date)
    requirements, sources, left_out, from_metadata = test_requirements(text, pyproject)
    if from_metadata:
        sources = [*sources, "the installed metadata (setup.py's extras cannot be read without running it)"]
    if "requirements" in overrides:
        requirements, sources = list(_strings(overrides, "requirements", source)), [source] * len(overrides["requirements"])
    installable = "setup.py" in text or "setup.cfg" in text or "build-system" in pyproject or "project" in pyproject
    build_requires, build_source = build_requirements(text, pyproject, getattr(files, "root_names", set()),
                                                      getattr(files, "cython_sources", False), getattr(files, "cimported", set()))
    command, command_reason = test_command(text)
    found_in = sorted(set(sources))
    why = (("python", python_reason), ("date", date_reason), ("test command", command_reason),
           ("requirements", "from " + ", ".join(found_in) if found_in else "none found"),
           ("build requirements", ", ".join(build_requires) + f" (from {build_source})" if build_requires else "none"))
    return EnvRecipe(
        python=python, setup=install_commands(make_plan(date, requirements, installable, pyproject.get("build-system", {}),
                                                     getattr(files, "nearest_tag", ""), build_requires)),
        test_command=command, dependency_files=_dependency_hashes(files), source="inferred",
        date=date, requirements=tuple(requirements), mode="dated", why=why, left_out=tuple(left_out),
        compiled=getattr(files, "cython_sources", False) or re.search(r"\b(ext_modules|Extension)\b", text.get("setup.py", "")) is not None,
    )


def _legacy_recipe(text: dict[str, str], pyproject: dict, files: dict[str, bytes]) -> EnvRecipe:
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
    return EnvRecipe(
        python=_python_from_requires(pyproject.get("project", {}).get("requires-python", "")),
        setup=tuple(setup),
        dependency_files=tuple(sorted((path, hashlib.sha256(data).hexdigest()) for path, data in files.items() if _legacy_file(path))),
        source="inferred", mode="legacy",
    )


def _strings(table: dict, key: str, source: str) -> tuple[str, ...]:
    value = table[key]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecipeError(f"{source}: sandbox setting {key!r} must be a string or a list of strings.")
    return tuple(value)


def apply_overrides(recipe: EnvRecipe, table: dict, source: str) -> EnvRecipe:
    """A recipe with a user's table applied: image, python, system_packages, setup, test_command, env
    (date and requirements are read by infer_recipe, which plans the install around them)."""
    unknown = set(table) - _OVERRIDE_KEYS
    if unknown:
        raise RecipeError(f"{source}: unknown sandbox setting(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(_OVERRIDE_KEYS))}.")

    def strings(key: str) -> tuple[str, ...]:
        return _strings(table, key, source)

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
