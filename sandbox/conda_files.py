"""Test dependencies declared in conda environment files (environment.yml, ci/requirements/*.yml).

Some projects declare what their tests need only for conda. Its packages are mostly PyPI's under
the same name; the few common renames are mapped, and what is not a Python package (the
interpreter, compilers, C libraries) is skipped. The `pip:` section is read as requirement lines.
Anything else that PyPI lacks is dropped by the installer like any unresolvable requirement.
"""

from __future__ import annotations

import re

import yaml

# conda-forge names whose PyPI distribution is called otherwise.
_PYPI_NAME = {"matplotlib-base": "matplotlib", "pytables": "tables", "msgpack-python": "msgpack", "pytorch": "torch",
              "iris": "scitools-iris", "pyqt": "PyQt5", "py-xgboost": "xgboost", "python-graphviz": "graphviz"}
# Not Python packages: the interpreter and installers, build tools, C/Fortran libraries and programs.
_NOT_PYTHON = re.compile(
    r"^(python|pip|setuptools|wheel|conda.*|mamba|compilers|c-compiler|cxx-compiler|fortran-compiler|make|cmake|"
    r"ninja|pkg-config|git|nodejs|pandoc|graphviz|ffmpeg|imagemagick|hdf5|netcdf-fortran|proj|geos|gdal|"
    r"openblas|mkl|blas|tbb|lib.*|r-.*|_.*)$")
_CONDA_SPEC = re.compile(r"^(?:[\w.-]+::)?([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$")
_DOC_OR_PLATFORM = re.compile(r"(doc|lint|mypy|type|windows|win|mac|osx|min|bare|upstream|nightly)", re.I)
_TEST_WORDS = re.compile(r"(test|dev|ci|py3)", re.I)


def is_conda_file(path: str) -> bool:
    return path.endswith((".yml", ".yaml")) and not path.startswith(".") and (
        re.fullmatch(r"environment[^/]*\.ya?ml", path.rsplit("/", 1)[-1]) is not None or "requirements/" in path)


def chosen_conda_file(texts: dict[str, str]) -> str:
    """The one conda file that describes the test environment, or "": `environment.yml` (one in a
    requirements folder before the root's), else a file whose name says test, dev or ci. Variants
    for other platforms, minimum versions or docs are alternatives, never the one."""
    files = sorted((p for p in texts if is_conda_file(p)), key=lambda p: ("requirements/" not in p, p))
    for path in files:
        if re.fullmatch(r"environment\.ya?ml", path.rsplit("/", 1)[-1]):
            return path
    for path in files:
        name = path.rsplit("/", 1)[-1]
        if _TEST_WORDS.search(name) and not _DOC_OR_PLATFORM.search(name):
            return path
    return ""


def pip_requirement(conda_spec: str) -> str:
    """A conda match spec as a pip requirement ("" when it is not a Python package): `numpy=1.17`
    means 1.17.*, `numpy 1.17.3 py_0` names a build, which pip cannot use."""
    found = _CONDA_SPEC.match(conda_spec.strip())
    if not found:
        return ""
    name, rest = found.group(1).lower(), found.group(2).strip()
    if _NOT_PYTHON.match(name):
        return ""
    name = _PYPI_NAME.get(name, name)
    version = re.split(r"[\s=]+", rest.lstrip("="), maxsplit=1)[0] if rest else ""
    if not version:
        return name
    if rest[0] in "<>!~" or rest.startswith("=="):
        return name + rest.split()[0]
    return f"{name}=={version}" if version.count(".") >= 2 or "*" in version else f"{name}=={version}.*"


def conda_requirements(text: str) -> list[str]:
    """The pip-installable requirements of a conda environment file; an unreadable one gives none."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    entries = data.get("dependencies") if isinstance(data, dict) else None
    found: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str):
            requirement = pip_requirement(entry)
            if requirement:
                found.append(requirement)
        elif isinstance(entry, dict) and isinstance(entry.get("pip"), list):
            found += [line.strip() for line in entry["pip"] if isinstance(line, str) and line.strip()
                      and not line.strip().startswith("-") and "://" not in line]
    return found
