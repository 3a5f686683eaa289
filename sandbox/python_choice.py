"""Which Python an inferred environment gets, and why.

Read from the project's own metadata: `requires-python` / `python_requires` (pyproject.toml,
setup.cfg, setup.py), the trove classifiers, tox's envlist and the CI matrix; then the date:
a commit older than a Python's release was never run on it. The answer is one of the
interpreters we can run (Debian's 3.9, 3.11, 3.13).
"""

from __future__ import annotations

import ast
import configparser
import re

AVAILABLE = ("3.9", "3.11", "3.13")
# First release of each interpreter we can run: a commit older than this never saw it.
RELEASED = {"3.9": "2020-10-05", "3.11": "2022-10-24", "3.13": "2024-10-07"}
DEFAULT = "3.11"


def _version_key(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def requires_python(texts: dict[str, str], pyproject: dict) -> tuple[str, str]:
    """(specifier, where it was found), or ("", "")."""
    spec = pyproject.get("project", {}).get("requires-python", "")
    if spec:
        return spec, "pyproject.toml requires-python"
    cfg = read_ini(texts.get("setup.cfg", ""))
    if cfg.has_option("options", "python_requires"):
        return cfg.get("options", "python_requires").strip(), "setup.cfg python_requires"
    found = re.search(r"python_requires\s*=\s*(['\"])(.+?)\1", texts.get("setup.py", ""))
    if found:
        return found.group(2), "setup.py python_requires"
    return "", ""


def declared_versions(texts: dict[str, str], pyproject: dict) -> tuple[list[str], str]:
    """Python 3 minor versions the project says it runs on (classifiers, tox envlist, CI), and where."""
    classifiers = "\n".join(pyproject.get("project", {}).get("classifiers", []))
    classifiers += texts.get("setup.py", "") + texts.get("setup.cfg", "")
    found = re.findall(r"Programming Language :: Python :: (3\.\d+)", classifiers)
    if found:
        return sorted(set(found), key=_version_key), "trove classifiers"
    envlist = _tox_envlist(texts.get("tox.ini", ""))
    found = [f"3.{m}" for m in re.findall(r"\bpy3(\d+)\b", " ".join(envlist))]
    if found:
        return sorted(set(found), key=_version_key), "tox envlist"
    ci = "\n".join(text for path, text in texts.items() if path.startswith(".github/workflows/") or path == ".travis.yml")
    found = re.findall(r"['\"\s\[,-](3\.\d{1,2})(?=['\"\s\],])", ci)
    if found:
        return sorted(set(found), key=_version_key), "the CI matrix"
    return [], ""


def choose_python(texts: dict[str, str], pyproject: dict, date: str) -> tuple[str, str]:
    """(python, why): the newest interpreter that the project's bounds allow, that is no newer than
    the newest version it declares, and that was released by the date; failing those, the oldest
    one the bounds allow."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    spec, spec_source = requires_python(texts, pyproject)
    try:
        allowed = SpecifierSet(spec) if spec else SpecifierSet()
    except InvalidSpecifier:
        allowed, spec_source = SpecifierSet(), ""
    candidates = [v for v in AVAILABLE if allowed.contains(v + ".0")] or list(AVAILABLE)
    reasons = [f"{spec_source} {spec!r} allows {', '.join(candidates)}"] if spec_source else []
    declared, declared_source = declared_versions(texts, pyproject)
    # Without a declared version, newer than the default only when the bounds demand it.
    top = declared[-1] if declared else DEFAULT
    ceiling = [v for v in candidates if _version_key(v) <= _version_key(top)]
    if declared:
        reasons.append(f"{declared_source} name up to {declared[-1]}")
    if date:
        dated = [v for v in ceiling if RELEASED[v] <= date]
        if ceiling and not dated:
            reasons.append(f"no allowed interpreter was released by {date}")
        elif len(dated) < len(ceiling):
            reasons.append(f"Python {', '.join(v for v in ceiling if v not in dated)} came after {date}")
        ceiling = dated
    # Otherwise the project predates (or outgrew) every interpreter we have: the oldest allowed is nearest.
    chosen = ceiling[-1] if ceiling else candidates[0]
    if not reasons:
        reasons.append("the project states nothing; the default")
    return chosen, f"Python {chosen}: " + "; ".join(reasons)


def read_ini(text: str) -> configparser.ConfigParser:
    """An INI file (setup.cfg, tox.ini) parsed leniently: a broken one reads as empty."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        pass
    return parser


def _tox_envlist(text: str) -> list[str]:
    """tox's envlist with brace groups expanded (py{37,38}-django{22,32} gives four names)."""
    parser = read_ini(text)
    raw = parser.get("tox", "envlist", fallback="")
    names: list[str] = []
    for part in re.split(r"[,\n](?![^{]*\})", raw):
        names.extend(expand_braces(part.strip()))
    return [n for n in names if n]


def expand_braces(text: str) -> list[str]:
    found = re.search(r"\{([^{}]*)\}", text)
    if not found:
        return [text] if text else []
    head, tail = text[: found.start()], text[found.end():]
    return [name for option in found.group(1).split(",") for name in expand_braces(head + option.strip() + tail)]


def setup_py_literal(text: str, keyword: str):
    """The literal value of `keyword=` in setup.py's setup() call (names bound at module level to a
    literal are followed), or None when it cannot be read without running setup.py."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    names = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            names[node.targets[0].id] = node.value
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == keyword:
                    value = names.get(kw.value.id, kw.value) if isinstance(kw.value, ast.Name) else kw.value
                    try:
                        return ast.literal_eval(value)
                    except ValueError:
                        return None
    return None
