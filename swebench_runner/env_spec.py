"""What an environment spec is: how to build and test one SWE-bench (repository, version).
The hand-written specs of Lite's repositories are in swebench_runner.specs; inferred ones come
from swebench_runner.inferred."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

# Debian suite of the base image for each Python we can use.
SUITE_FOR_PYTHON = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}

# Where environment images carry swebench_runner/local_internet.py.
LOCAL_INTERNET_SCRIPT = "/opt/patchsmith/local_internet.py"
# The servers it runs (with the environment's Python): a spec's pins of them belong to that
# resource, not to the project, and come with it wherever it goes.
LOCAL_INTERNET_SERVERS = ("httpbin", "gunicorn")

# EnvSpec fields that change how tests run but not what an image holds: not part of image tags.
RUN_ONLY_FIELDS = ("test_run_env",)


@dataclass(frozen=True)
class VendoredSource:
    """A source tree the repository's build would download (matplotlib's FreeType), taken instead
    from a git mirror in the repo cache and put where the build looks before it downloads."""

    repo: str  # upstream "owner/name", found in the repo cache like an instance's repository
    ref: str  # the tag or commit the build pins
    path: str  # folder under the work tree that receives the tree
    prepare: str = ""  # shell command run in that folder once the image has its system packages


@dataclass(frozen=True)
class EnvSpec:
    """One environment image's recipe and the way its instances are tested."""

    repo: str
    version: str
    python_wanted: str
    python: str  # the Python the image has (a key of SUITE_FOR_PYTHON)
    test_command: str  # run in the work tree, followed by the test directives
    parser: str  # a sandbox.log_parsers name
    install: str = "python -m pip install -e ."
    pip_packages: tuple[str, ...] = ()  # installed before the repository, in one pip call
    requirements: tuple[str, ...] = ()  # requirement files of the snapshot, installed when present
    system_packages: tuple[str, ...] = ()
    pre_install: tuple[str, ...] = ()  # shell commands run in the work tree before `install`
    env: tuple[tuple[str, str], ...] = ()  # variables set for installs and test runs
    # Whether each instance must run `install` again at its own base commit: true for packages
    # with compiled extensions; pure-Python editable installs follow the work tree by themselves.
    reinstall_per_instance: bool = False
    # Compile through ccache (its compiler links first on PATH, the cache in the image): an
    # instance image that builds the extensions again then recompiles only what its commit changed.
    compiler_cache: bool = False
    # For suites that turn DeprecationWarnings into errors and import ABCs from `collections`,
    # which their Python (3.6) allowed silently: the aliases are made plain attributes again.
    silent_collections_abcs: bool = False
    # For code that builds code objects with Python 3.7's constructor (15 arguments, before
    # posonlyargcount), as old vendored copies of cloudpickle do at import.
    code_type_37_signature: bool = False
    shorten_path_ids: bool = False  # ids carry run-specific temporary paths (see log_parsers)
    # The internet the suite talks to, played inside its container before the tests run:
    # arguments of swebench_runner/local_internet.py (the container then gets CAP_NET_ADMIN).
    local_internet: tuple[str, ...] = ()
    vendored_sources: tuple[VendoredSource, ...] = ()
    notes: str = ""
    # Variables the test command alone gets, in front of it: how a run prints, never what the
    # image holds, so they stay out of its recipe and tag (RUN_ONLY_FIELDS).
    test_run_env: tuple[tuple[str, str], ...] = ()
    # A spec that asks for it (YYYY-MM-DD): its pip packages without an exact pin resolve as of
    # that date; exact pins stay as written.
    date_unpinned: str = ""
    # "spec" for the hand-written ones; inferred environments say how (swebench_runner/inferred.py).
    environment_source: str = "spec"

    @property
    def test_run(self) -> str:
        """The test command (with its own variables), after starting the suite's local internet
        when it has one."""
        command = " ".join([*(f"{name}={shlex.quote(value)}" for name, value in self.test_run_env), self.test_command])
        if not self.local_internet:
            return command
        return " ".join(["python", LOCAL_INTERNET_SCRIPT, *map(shlex.quote, self.local_internet), "&&", command])

    @property
    def suite(self) -> str:
        return SUITE_FOR_PYTHON[self.python]

    @property
    def key(self) -> str:
        return f"{self.repo.replace('/', '__')}-{self.version}"
