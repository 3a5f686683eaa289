"""Environments for SWE-bench-format instances without a hand-written spec, and "specs off".

An instance whose (repository, version) has no spec gets one inferred the way the sandbox infers
any repository's recipe (sandbox.infer_recipe), dated by the version's environment commit. Its
tests run with the inferred test command and the pytest log parser, on the test files the test
patch names, so FAIL_TO_PASS and PASS_TO_PASS are pytest node ids as the dataset gives them.

With `harness` (a hand-written spec), only the install part is inferred: the Python, packages,
pins, setup commands and shims. The harness part stays: the test command, log parser and id
form, and the resources no inference could know (requests' local internet with the servers it
runs, matplotlib's FreeType source, the system packages that build it and the line that takes
qhull from Debian instead of a download from qhull.org, which no container here can reach). bench/env_inference.py compares these "specs off"
environments with the hand-written ones.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from patchsmith.swebench_runner.errors import SwebenchError
from patchsmith.swebench_runner.env_spec import LOCAL_INTERNET_SERVERS, SUITE_FOR_PYTHON, EnvSpec

DEFAULT_PYTHON = "3.11"
# Python 3.8's release: code of an earlier date that builds code objects (vendored copies of
# cloudpickle do, at import) passes types.CodeType 15 arguments; every Python we run wants 16.
PYTHON_38_RELEASED = "2019-10-14"
# pytest before 4.5 (May 2019) leaves passing tests out of the -rA summary; its verbose lines name
# every test with its status, in any pytest, so a dated pytest's log still grades.
PYTEST_EVERY_TEST = (("PYTEST_ADDOPTS", "-v"),)


@lru_cache(maxsize=256)
def _inferred(repo: str, version: str, commit: str, git_dir: Path, mode: str, harness: EnvSpec | None) -> EnvSpec:
    from patchsmith.sandbox import commit_date, files_containing, infer_recipe, read_dependency_files

    files = read_dependency_files(git_dir, commit)
    date = commit_date(git_dir, commit)
    if date:  # SWE-bench: the version's environment commit dates the package world
        files.date, files.date_reason = date, f"the version's environment commit {commit[:12]} is of {date}"
    recipe = infer_recipe(files, mode=mode)
    python = recipe.python if recipe.python in SUITE_FOR_PYTHON else DEFAULT_PYTHON
    parser = harness.parser if harness else "pytest"
    spec = EnvSpec(
        repo, version, python_wanted=harness.python_wanted if harness else python, python=python,
        test_command=harness.test_command if harness else recipe.test_command,
        parser=parser, test_run_env=PYTEST_EVERY_TEST if parser == "pytest" else (),
        install="\n".join(recipe.setup), env=recipe.env,
        code_type_37_signature=(bool(recipe.date) and recipe.date < PYTHON_38_RELEASED
                                and bool(files_containing(git_dir, commit, "CodeType("))),
        # Compiled extensions are built again at a base commit whose build inputs differ, through ccache.
        reinstall_per_instance=recipe.compiled, compiler_cache=recipe.compiled,
        environment_source=f"inferred ({mode}; date {recipe.date or 'none'}; {dict(recipe.why).get('python', 'python ' + python)})",
    )
    if harness is not None:
        spec = replace(spec, local_internet=harness.local_internet, vendored_sources=harness.vendored_sources,
                       shorten_path_ids=harness.shorten_path_ids,
                       # The local internet runs with the spec's tools (requests': iproute2 for the
                       # tarpit's route, openssl for the CA), as a vendored source builds with them.
                       system_packages=harness.system_packages if harness.vendored_sources or harness.local_internet else (),
                       # and with the spec's pins of the servers it runs (installed after the inferred install).
                       pip_packages=local_internet_servers(harness),
                       # With the vendored sources come the spec's lines that point the build's other
                       # downloads (hosts beyond the package registries) at them or at Debian's copies.
                       pre_install=harness.pre_install if harness.vendored_sources else (),
                       # and the variables its install line sets for them (matplotlib's MPLSETUPCFG
                       # names the file those lines write; a base commit before 3.4 reads setup.cfg
                       # without it, and downloads qhull).
                       env=(*spec.env, *(install_variables(harness.install) if harness.vendored_sources else ())))
    return spec


def install_variables(install: str) -> tuple[tuple[str, str], ...]:
    """The NAME=value words that open a spec's install line: variables its install runs with."""
    found = []
    for word in shlex.split(install.splitlines()[0]) if install.strip() else ():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word):
            break
        name, value = word.split("=", 1)
        found.append((name, value))
    return tuple(found)


def local_internet_servers(harness: EnvSpec) -> tuple[str, ...]:
    """The spec's pip packages that its local internet serves with."""
    from patchsmith.sandbox import requirement_name

    if not harness.local_internet:
        return ()
    return tuple(p for p in harness.pip_packages if requirement_name(p) in LOCAL_INTERNET_SERVERS)


def inferred_spec(repo: str, version: str, dataset: list, repo_cache: Path, mode: str = "dated",
                  harness: EnvSpec | None = None) -> EnvSpec:
    """The inferred spec of (repo, version), built at the commit environment_for will use."""
    from patchsmith.swebench_runner.environments import setup_commit
    from patchsmith.swebench_runner.repos import find_mirror

    group = [i for i in dataset if (i.repo, i.version) == (repo, version)]
    if not group:
        raise SwebenchError(f"no instance of {repo} {version} in the dataset to build its environment from.")
    git_dir = find_mirror(repo, repo_cache)
    return _inferred(repo, version, setup_commit(group, git_dir), Path(git_dir), mode, harness)


def spec_or_inferred(settings, repo: str, version: str, dataset: list) -> EnvSpec:
    """The hand-written spec when there is one, else the inferred one."""
    try:
        return settings.spec(repo, version)
    except SwebenchError:
        return inferred_spec(repo, version, dataset, settings.repo_cache)
