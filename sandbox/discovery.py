"""Where projects declare what their tests need, and how they run them.

Test requirements come from every usual place: extras named test/tests/testing/dev (pyproject,
setup.cfg, setup.py read without running it), PEP 735 dependency groups, tox's default
[testenv] (`deps` with `-r` files and factor lines, `extras`), and requirement files whose names
say test or dev, plus the runtime requirements.txt; failing such files, a conda environment file
(sandbox/conda_files.py). Packages that only lint, type-check, format,
build docs or release are left out: they are never needed to run tests, and their pins often
conflict with the project.
"""

from __future__ import annotations

import posixpath
import re

from patchsmith.sandbox.conda_files import chosen_conda_file, conda_requirements
from patchsmith.sandbox.pip_calls import canonical, requirement_name
from patchsmith.sandbox.python_choice import _tox_envlist, read_ini, setup_py_literal

TEST_EXTRA_NAMES = ("test", "tests", "testing", "dev")
# Tools that never run a test: linters, type checkers and stubs, formatters, docs, release tools.
_NOT_FOR_TESTS = re.compile(
    r"^(flake8.*|pylint|pyflakes|pycodestyle|pydocstyle|pep8.*|autopep8|yapf|black|isort|ruff|mypy|pyright|pytype|"
    r"types-.*|.*-stubs|typing-.*stubs|pre-commit|bandit|codespell|doc8|sphinx.*|furo|mkdocs.*|numpydoc|"
    r"twine|check-manifest|build|bump2?version|towncrier|readme-renderer|restructuredtext-lint|tox|nox|"
    r"safety|vulture|prospector|pyroma|darglint|blacken-docs|pip-tools|wheel|setuptools)$")
_LINT_FILE_WORDS = re.compile(r"(doc|lint|type|mypy|style|format|flake|release|publish|bench)", re.I)
# Files for a run against the oldest supported releases: alternatives to the main ones.
_MINIMUM_FILE = re.compile(r"(^|[-_.])(min|minimum|minver|oldest)([-_.]|$)", re.I)
_TEST_FILE_WORDS = re.compile(r"(test|dev|ci)", re.I)


def for_tests(requirement: str) -> bool:
    return not _NOT_FOR_TESTS.match(requirement_name(requirement))


def parse_requirement_file(path: str, texts: dict[str, str], seen: set[str] | None = None) -> list[str]:
    """Requirement lines of a file, `-r`/`-c` includes followed (relative to the file); options,
    editable and URL lines are skipped (the project itself is installed separately)."""
    seen = seen if seen is not None else set()
    if path in seen or path not in texts:
        return []
    seen.add(path)
    found = []
    for raw in texts[path].splitlines():
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        include = re.match(r"^(-r|--requirement)\s*(\S+)", line)
        if include and _LINT_FILE_WORDS.search(include.group(2).rsplit("/", 1)[-1]):
            continue  # a docs or lint file included by a dev file: not what tests need
        if include:
            found += parse_requirement_file(posixpath.normpath(posixpath.join(posixpath.dirname(path), include.group(2))), texts, seen)
        elif line and not line.startswith("-") and "://" not in line and not line.startswith("."):
            found.append(line)
    return found


def declared_extras(texts: dict[str, str], pyproject: dict) -> tuple[dict[str, list[str]], bool]:
    """Every extra the project declares, by name, and whether setup.py declares extras that cannot
    be read without running it (they are then asked from the installed metadata)."""
    declared: dict[str, list[str]] = {n: list(r) for n, r in (pyproject.get("project", {}).get("optional-dependencies") or {}).items()}
    cfg = read_ini(texts.get("setup.cfg", ""))
    if cfg.has_section("options.extras_require"):
        declared.update({n: [x.strip() for x in raw.splitlines() if x.strip()] for n, raw in cfg["options.extras_require"].items()})
    unreadable = False
    if "extras_require" in texts.get("setup.py", ""):
        value = setup_py_literal(texts["setup.py"], "extras_require")
        if isinstance(value, dict):
            declared.update({str(n): [r] if isinstance(r, str) else [str(x) for x in r] for n, r in value.items()})
        else:
            unreadable = True
    return declared, unreadable


def dependency_groups(pyproject: dict) -> list[str]:
    """PEP 735 groups named like test extras, include-group entries followed."""
    groups = pyproject.get("dependency-groups") or {}

    def expand(name: str, seen: set[str]) -> list[str]:
        if name in seen or name not in groups:
            return []
        seen.add(name)
        found = []
        for entry in groups[name]:
            if isinstance(entry, dict) and "include-group" in entry:
                found += expand(entry["include-group"], seen)
            elif isinstance(entry, str):
                found.append(entry)
        return found

    return [r for name in groups if canonical(name) in TEST_EXTRA_NAMES for r in expand(name, set())]


def tox_requirements(texts: dict[str, str]) -> tuple[list[str], list[str]]:
    """(deps, extras) of tox's default [testenv], for the factors of the envlist's first Python env."""
    cfg = read_ini(texts.get("tox.ini", ""))
    envs = [e for e in _tox_envlist(texts.get("tox.ini", "")) if re.match(r"py\d", e)]
    factors = set(envs[0].split("-")) if envs else set()
    deps: list[str] = []
    for raw in cfg.get("testenv", "deps", fallback="").splitlines():
        line = raw.split("#", 1)[0].strip()
        conditional = re.match(r"^([\w{},!.-]+):\s+(.*)$", line)
        if conditional:
            wanted = conditional.group(1).split("-")
            if not all((w[1:] not in factors) if w.startswith("!") else (w in factors or w in _expanded(w, factors)) for w in wanted):
                continue
            line = conditional.group(2).strip()
        line = line.replace("{toxinidir}/", "").replace("{toxinidir}", ".")
        include = re.match(r"^(-r|--requirement)\s*(\S+)", line)
        if include:
            deps += parse_requirement_file(posixpath.normpath(include.group(2)), texts)
        elif line and "{" not in line and not line.startswith("-") and not line.startswith("."):
            deps.append(line)
    extras = [e.strip() for e in re.split(r"[,\s]+", cfg.get("testenv", "extras", fallback="")) if e.strip() and "{" not in e]
    return deps, extras


def _expanded(word: str, factors: set[str]) -> list[str]:
    return [w for w in re.sub(r"[{}]", "", word).split(",") if w in factors]


# In a folder of several requirement files, the names of the ones a test run takes; the others
# (database backends, minimum versions) are alternatives to them.
_MAIN_FILE_WORDS = re.compile(r"(test|dev|ci|base|common|all|extra|default|py\d*)", re.I)


def requirement_files(texts: dict[str, str]) -> list[str]:
    """The runtime requirements.txt, then requirement files whose paths say test or dev (not docs
    or lint); in a folder of several, the main ones (see _MAIN_FILE_WORDS) when it has any."""
    chosen = [p for p in ("requirements.txt",) if p in texts]
    by_folder: dict[str, list[str]] = {}
    for path in sorted(texts):
        name = path.rsplit("/", 1)[-1]
        is_requirements = path.endswith((".txt", ".in")) and ("requirements" in path or path.startswith("requirements/"))
        if (is_requirements and path not in chosen and _TEST_FILE_WORDS.search(path) and not _LINT_FILE_WORDS.search(name)
                and not _MINIMUM_FILE.search(name.rsplit(".", 1)[0])):
            by_folder.setdefault(posixpath.dirname(path), []).append(path)
    for paths in by_folder.values():
        main = [p for p in paths if _MAIN_FILE_WORDS.search(p.rsplit("/", 1)[-1].rsplit(".", 1)[0])]
        chosen += main if len(paths) > 1 and main else paths
    return chosen


# Modules a setup.py imports that are part of the build itself, not packages to fetch.
_BUILD_ITSELF = {"setuptools", "distutils", "pkg_resources", "__future__", "wheel"}


# What Cython itself ships .pxd files for: cimported, never installed.
_CYTHON_OWN = {"libc", "libcpp", "cpython", "cython", "posix", "openmp"}


def build_requirements(texts: dict[str, str], pyproject: dict, local_names: set[str],
                       cython_sources: bool = False, cimported: set[str] = frozenset()) -> tuple[list[str], str]:
    """(what must be installed before the project builds, where that was read): pyproject's
    build-system requires; else the packages setup.py imports (numpy, Cython, ...) and its
    setup_requires, and Cython when the tree has .pyx files (a checkout carries no generated C).
    then what the Cython sources cimport from outside the tree (scipy's BLAS). Modules of the
    tree itself (local_names: its root's names and its Cython modules, which old Cython cimports
    by bare name from the same folder) and the standard library are not."""
    declared = [str(r) for r in pyproject.get("build-system", {}).get("requires", [])]
    if declared or "setup.py" not in texts:  # declared: the authors named what the build needs
        return declared, "pyproject.toml build-system" if declared else ""
    found, source = _setup_py_requirements(texts, pyproject, local_names, cython_sources)
    outside = sorted(m for m in cimported if m not in _CYTHON_OWN and m not in local_names and canonical(m) != project_name(texts, pyproject))
    more = [m for m in outside if canonical(m) not in map(requirement_name, found)]
    if more:
        found, source = [*found, *more], (source + " and " if source else "") + "the Cython sources' cimports"
    return found, source


def _setup_py_requirements(texts: dict[str, str], pyproject: dict, local_names: set[str], cython_sources: bool) -> tuple[list[str], str]:
    import ast
    import sys

    try:
        tree = ast.parse(texts["setup.py"])
    except SyntaxError:
        return [], ""
    optional = set()  # imports under try or if are guarded: optional, or another Python's
    for guard in ast.walk(tree):
        if isinstance(guard, (ast.Try, ast.If)):
            optional |= {id(n) for n in ast.walk(guard) if isinstance(n, (ast.Import, ast.ImportFrom))}
    modules = []
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
        for name in names:
            top = name.split(".")[0]
            if top and top not in modules and top not in _BUILD_ITSELF and top not in sys.stdlib_module_names and top not in local_names:
                modules.append(top)
    requires = setup_py_literal(texts["setup.py"], "setup_requires")
    extra = [requires] if isinstance(requires, str) else [str(r) for r in requires or []]
    found = [m for m in modules if canonical(m) != project_name(texts, pyproject)] + [r for r in extra if requirement_name(r) not in map(canonical, modules)]
    if cython_sources and "cython" not in map(requirement_name, found):
        found.append("Cython")
    return [r for r in found if for_tests(r) or requirement_name(r) in ("setuptools", "wheel")], "setup.py's imports and setup_requires"


def test_requirements(texts: dict[str, str], pyproject: dict) -> tuple[list[str], list[str], list[str], bool]:
    """(requirements to install, where they came from, left out as not needed for tests,
    whether extras must be read from the installed metadata)."""
    found: list[tuple[str, str]] = []
    files = requirement_files(texts)
    for path in files:
        found += [(r, path) for r in parse_requirement_file(path, texts)]
    if files in ([], ["requirements.txt"]):  # no test requirement file: conda's may say what tests need
        conda_file = chosen_conda_file(texts)
        found += [(r, conda_file) for r in conda_requirements(texts[conda_file])] if conda_file else []
    declared, unreadable = declared_extras(texts, pyproject)
    extra_names = [n for n in declared if canonical(n.split(":")[0]) in TEST_EXTRA_NAMES]
    found += [(r, f"extra {n}") for n in extra_names for r in declared[n]]
    found += [(r, "dependency-groups") for r in dependency_groups(pyproject)]
    tox_deps, tox_extras = tox_requirements(texts)
    found += [(r, "tox.ini deps") for r in tox_deps]
    found += [(r, f"tox.ini extras {n}") for n in tox_extras if n not in extra_names for r in declared.get(n, [])]
    kept, sources, left_out, names = [], [], [], set()
    own = project_name(texts, pyproject)
    for requirement, where in found:
        name = requirement_name(requirement)
        if not name or requirement in kept or requirement in left_out or name == own:
            continue  # the project itself is the editable install, never a release from the index
        if not for_tests(requirement):
            left_out.append(requirement)
            continue
        kept.append(requirement)
        sources.append(where)
        names.add(name)
    if "pytest" not in names and own != "pytest":  # pytest's own tree tests itself
        kept.append("pytest")
        sources.append("the test runner")
    return kept, sources, left_out, unreadable and not extra_names


def project_name(texts: dict[str, str], pyproject: dict) -> str:
    name = pyproject.get("project", {}).get("name") or read_ini(texts.get("setup.cfg", "")).get("metadata", "name", fallback="")
    if not name and "setup.py" in texts:
        value = setup_py_literal(texts["setup.py"], "name")
        name = value if isinstance(value, str) else ""
    return canonical(name) if name else ""


def test_command(texts: dict[str, str]) -> tuple[str, str]:
    """(command, why): a Django-style runner when there is one, else pytest (which also runs
    unittest suites), with the configuration that says so."""
    for runner in ("tests/runtests.py", "runtests.py"):
        if runner in texts:
            return f"python {runner}", f"{runner} is the project's own test runner"
    cfg = read_ini(texts.get("tox.ini", ""))
    commands = cfg.get("testenv", "commands", fallback="")
    default = "python -m pytest -rA -p no:cacheprovider"
    if re.search(r"\b(py\.?test)\b", commands):
        return default, "tox.ini [testenv] commands run pytest"
    for path, marker in (("pytest.ini", "[pytest]"), ("pyproject.toml", "[tool.pytest"), ("setup.cfg", "[tool:pytest]"), ("tox.ini", "[pytest]")):
        if marker in texts.get(path, ""):
            return default, f"pytest is configured in {path}"
    if re.search(r"\bunittest\b", commands):
        return default, "tox.ini runs unittest; pytest runs those suites too and reports each test"
    return default, "no test configuration found; pytest"
