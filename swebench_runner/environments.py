"""Environment images: one per SWE-bench (repository, version), shared by all its instances.

An image is the sandbox's Debian base image for the spec's Python, plus a venv at /opt/venv
with the spec's pins and requirement files, plus the repository at the version's
environment_setup_commit under /testbed, installed as the spec says. It is built in a
container with the network on, then committed. The tag hashes the recipe, so a second build
is a lookup; build time and outcome are recorded next to the cache so `swebench envs` can
report them later.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import time
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

from patchsmith.sandbox import VENV, VENV_PATH, WORKDIR
from patchsmith.swebench_runner.errors import SwebenchError
from patchsmith.swebench_runner.run_records import write_atomically
from patchsmith.swebench_runner.sources import snapshot
from patchsmith.swebench_runner.compat_shims import compat_shims
from patchsmith.swebench_runner.env_spec import LOCAL_INTERNET_SCRIPT, RUN_ONLY_FIELDS, EnvSpec
from patchsmith.swebench_runner.resolved import CONSTRAINTS_PATH, LABEL_RESOLVED, Pins, constraints, differences

_BUILDER_VERSION = "3"  # bump when the steps below change what ends up in an image
CCACHE_LINKS = "/usr/lib/ccache"  # Debian's ccache: links named after each compiler
CCACHE_DIR = "/opt/ccache"
IMAGE_REPOSITORY = "patchsmith-swebench-env"
LABEL_SWEBENCH = "patchsmith.swebench"  # value: the (repo, version) key

# pip of late 2023: newer pips refuse the legacy version strings some old packages carry.
_PIP = "pip==23.3.2"
FREEZE_PATH = "/opt/pip-freeze.txt"  # what the build installed; also the image's LABEL_RESOLVED
PIP_CONSTRAINT = "PIP_CONSTRAINT"  # pip's variable for --constraint; set for a build only


@dataclass(frozen=True)
class EnvBuild:
    """The outcome of building (or finding) one environment image."""

    key: str
    image: str
    built: bool
    seconds: float  # build time; the recorded one when the image already existed
    size_bytes: int
    cached: bool = False
    error: str = ""
    log_path: str = ""
    pulled: bool = False  # fetched from the image registry instead of built


def _recipe_fields(spec: EnvSpec) -> dict:
    """The spec's fields that differ from their defaults: a new field with a default then leaves
    every existing environment's tag (and image) as it was."""
    defaults = {f.name: f.default for f in fields(EnvSpec) if f.default is not MISSING}
    return {name: value for name, value in asdict(spec).items()
            if name not in RUN_ONLY_FIELDS and (name not in defaults or value != defaults[name])}


def local_internet_script(spec: EnvSpec) -> str:
    """The text of swebench_runner/local_internet.py when spec's suite needs it, else ''."""
    return (Path(__file__).with_name("local_internet.py").read_text() if spec.local_internet else "")


def local_internet_capabilities(spec: EnvSpec) -> tuple[str, ...]:
    """What a test container needs beyond the default: routing tarpit addresses into loopback."""
    return ("NET_ADMIN",) if spec.local_internet else ()


def image_tag(spec: EnvSpec, setup_commit: str, base_tag: str, scm: str | None = None) -> str:
    recipe = {"v": _BUILDER_VERSION, "spec": _recipe_fields(spec), "commit": setup_commit, "base": base_tag}
    if scm:
        recipe["scm"] = scm
    if compat_shims(spec):
        recipe["shims"] = compat_shims(spec)
    if spec.local_internet:
        recipe["local_internet"] = local_internet_script(spec)
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    return f"{IMAGE_REPOSITORY}:{spec.key.lower()}-{digest}"


_SCM_VARIABLE = "SETUPTOOLS_SCM_PRETEND_VERSION"


def venv_environment(spec: EnvSpec, scm_version: str | None = None) -> dict[str, str]:
    """Variables every command in an environment container runs with; `scm_version` replaces the
    spec's stand-in release for projects versioned by setuptools_scm."""
    path = VENV_PATH
    env = {"PATH": path, "VIRTUAL_ENV": VENV, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **dict(spec.env)}
    if spec.compiler_cache:
        env.update(PATH=f"{CCACHE_LINKS}:{path}", CCACHE_DIR=CCACHE_DIR)
    if scm_version and _SCM_VARIABLE in env:
        env[_SCM_VARIABLE] = scm_version
    return env


def scm_version(spec: EnvSpec, git_dir: Path, commit: str) -> str | None:
    """The release setuptools_scm would start from: the newest tag reachable from commit (our work
    trees lack upstream's history, so the version is read from the mirror); None when the spec's
    project does not use setuptools_scm or no tag is reachable."""
    import re
    import subprocess

    if _SCM_VARIABLE not in dict(spec.env):
        return None
    done = subprocess.run(["git", f"--git-dir={git_dir}", "describe", "--tags", "--abbrev=0", commit],
                          capture_output=True, text=True)
    tag = done.stdout.strip().removeprefix("v")
    return tag if done.returncode == 0 and re.fullmatch(r"\d+(\.\d+)*", tag) else None


def install_script(spec: EnvSpec) -> str:
    """The repository's install, as run in /testbed at the environment's commit (and again at an
    instance's base commit when the spec builds compiled extensions)."""
    return "\n".join(["set -ex", *spec.pre_install, spec.install])


def _write_file(destination: str, text: str) -> str:
    """A build-script line that writes text (ending in a newline) to destination, a shell word."""
    return f"cat > {destination} <<'PATCHSMITH_EOF'\n{text}PATCHSMITH_EOF"


def pip_package_lines(spec: EnvSpec) -> list[str]:
    """The spec's pip packages: exact pins as written; with `date_unpinned`, the others resolve as
    of that date through a pip 26 of its own (`--python` drives the venv), so the venv keeps its pip."""
    from patchsmith.sandbox import cutoff_of

    pinned = [p for p in spec.pip_packages if "==" in p or not spec.date_unpinned]
    lines = ["python -m pip install " + " ".join(shlex.quote(p) for p in pinned)] if pinned else []
    unpinned = [p for p in spec.pip_packages if p not in pinned]
    if unpinned:
        lines.append("[ -x /opt/pip-dated/bin/pip ] || (python3 -m venv /opt/pip-dated && /opt/pip-dated/bin/pip install -q --isolated "
                     "${PIP_CERT:+--cert $PIP_CERT} -U pip)")
        lines.append(f"/opt/pip-dated/bin/pip --python {VENV}/bin/python install --isolated ${{PIP_CERT:+--cert $PIP_CERT}} "
                     "${PIP_CONSTRAINT:+-c $PIP_CONSTRAINT} "
                     f"--uploaded-prior-to {cutoff_of(spec.date_unpinned)} " + " ".join(shlex.quote(p) for p in unpinned))
    return lines


def build_script(spec: EnvSpec) -> str:
    """Everything after the repository is copied in: system packages, the venv, pins, install."""
    lines = ["set -ex"]
    system_packages = spec.system_packages + (("ccache",) if spec.compiler_cache else ())
    if system_packages:
        lines.append(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
            + " ".join(system_packages)
        )
    for vendored in spec.vendored_sources:
        if vendored.prepare:
            lines.append(f"(cd {shlex.quote(vendored.path)} && {vendored.prepare})")
    lines.append(f"python3 -m venv {VENV}")
    lines.append(f"python -m pip install -q {_PIP} 'setuptools<70' wheel")
    if spec.pip_packages:
        lines.extend(pip_package_lines(spec))
    for requirements in spec.requirements:
        quoted = shlex.quote(requirements)
        # A requirement that will not install (an optional backend needing a service) must not
        # sink the rest: retry one line at a time and say which failed.
        lines.append(
            f"if [ -f {quoted} ]; then python -m pip install -r {quoted} || "
            f"(grep -v '^\\s*#' {quoted} | grep -v '^\\s*$' | while read -r req; do "
            f"python -m pip install \"$req\" || echo \"REQUIREMENT FAILED: $req\"; done); fi"
        )
    lines.append(install_script(spec).removeprefix("set -ex\n"))
    # Pins of the spec win over whatever the install pulled in.
    if spec.pip_packages:
        lines.extend(pip_package_lines(spec))
    for name, text in compat_shims(spec).items():
        lines.append(_write_file(f"\"$(python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])')/{name}\"", text))
    if spec.local_internet:
        lines.append(f"mkdir -p {shlex.quote(str(Path(LOCAL_INTERNET_SCRIPT).parent))} && "
                     + _write_file(LOCAL_INTERNET_SCRIPT, local_internet_script(spec)))
    lines.append(f"python -m pip freeze > {FREEZE_PATH}")
    # Tracked files go back to the commit's state (pre_install may have edited them), so that an
    # instance can move the tree to its own commit by applying only the files that differ. Minimal
    # stat checks keep git from rehashing every file in a new container (new inodes, same files).
    lines.append("git checkout -q -- . && git config core.checkStat minimal && git config core.trustctime false")
    lines.append("git update-index -q --refresh || true")
    return "\n".join(lines)


class BuildRecords:
    """Build times and failures, kept in one JSON file under the cache."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict[str, dict]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def write(self, build: EnvBuild) -> None:
        records = self.read()
        records[build.image] = asdict(build)
        write_atomically(self.path, json.dumps(records, indent=1, sort_keys=True))


def ensure_env_image(
    spec: EnvSpec,
    commit: str,
    git_dir: Path,
    cache_dir: Path,
    log_dir: Path,
    recoverers: dict | None = None,
    build: bool = True,
    repo_cache: Path | None = None,
    pins: Pins | None = None,
) -> EnvBuild:
    """Find or build the environment image of spec; a failed build is reported, not raised.
    `repo_cache` holds the mirrors of the spec's vendored sources; `pins`, the cluster's record of
    what each tag resolved to (swebench_runner.resolved): a build of a recorded tag installs that."""
    from patchsmith import sandbox
    from patchsmith.sandbox import BaseSpec, DiskFull, DockerUnavailable, ensure_base_image

    log_path = log_dir / f"{spec.key}.log"
    records = BuildRecords(cache_dir / "swebench" / "env-builds.json")
    base_spec = BaseSpec(suite=spec.suite)
    version = scm_version(spec, git_dir, commit)
    tag = image_tag(spec, commit, base_spec.tag, version)
    if sandbox.image_exists(tag):
        share_resolved(tag, pins)
        seconds = records.read().get(tag, {}).get("seconds", 0.0)
        return EnvBuild(spec.key, tag, True, seconds, sandbox.image_size(tag), cached=True, log_path=str(log_path))
    if not build:
        return EnvBuild(spec.key, tag, False, 0.0, 0, error="not built", log_path=str(log_path))
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    what = f"the environment of {spec.key}"

    recorded = pins.get(tag) if pins is not None else None
    env = venv_environment(spec, version)
    if recorded:  # every pip of the build (the repository's own install too) keeps to the record
        env[PIP_CONSTRAINT] = CONSTRAINTS_PATH

    def fill(container) -> dict[str, str]:
        container.replace_files(snapshot(git_dir, commit, recoverers).archive)
        put_vendored_sources(container, spec, repo_cache)
        if recorded:
            container.put_file(CONSTRAINTS_PATH, constraints(recorded))
        sandbox.run_step(container, "build script", build_script(spec), 3600, what)
        freeze = container.get_file(FREEZE_PATH).decode()
        if pins is not None:
            freeze = keep_to_record(container, tag, freeze, pins.claim(tag, freeze), what)
        return {LABEL_SWEBENCH: spec.key, LABEL_RESOLVED: freeze}

    try:
        base = ensure_base_image(base_spec, cache_dir=cache_dir / "sandbox", log_path=log_dir / f"base-{spec.suite}.log")
        how = sandbox.build_image(sandbox.ImageBuild(
            tag, base, what, env=env, build_only=(PIP_CONSTRAINT,), log_path=log_path, lock_dir=cache_dir / "sandbox"), fill)
    except (DockerUnavailable, DiskFull):
        raise  # the machine's problem, not this environment's: stop the run with what to do
    except Exception as exc:  # noqa: BLE001 - any other failure is this build's outcome, reported per instance
        outcome = EnvBuild(spec.key, tag, False, time.monotonic() - started, 0, error=str(exc)[-2000:], log_path=str(log_path))
        records.write(outcome)
        return outcome
    if how != "built":  # another process built it while we waited, or another node did (the registry)
        share_resolved(tag, pins)
        return EnvBuild(spec.key, tag, True, 0.0, sandbox.image_size(tag), cached=True, log_path=str(log_path),
                        pulled=how == "pulled")
    outcome = EnvBuild(spec.key, tag, True, time.monotonic() - started, sandbox.image_size(tag), log_path=str(log_path))
    records.write(outcome)
    return outcome


def share_resolved(tag: str, pins: Pins | None) -> None:
    """An image found (or pulled) here: its freeze becomes the tag's record unless one exists."""
    from patchsmith import sandbox

    freeze = sandbox.image_labels(tag).get(LABEL_RESOLVED) if pins is not None else None
    if freeze:
        pins.claim(tag, freeze)


def keep_to_record(container, tag: str, freeze: str, record: str, what: str) -> str:
    """The build's freeze once it matches the tag's record: a build that drifted (it resolved
    while another node built the tag first) installs the recorded versions; BuildFailed when it
    still differs."""
    from patchsmith import sandbox

    if differences(record, freeze):
        container.put_file(CONSTRAINTS_PATH, constraints(record))
        sandbox.run_step(container, "recorded versions", f"python -m pip install -q --no-deps -r {CONSTRAINTS_PATH} && "
                         f"python -m pip freeze > {FREEZE_PATH}", 1800, what)
        freeze = container.get_file(FREEZE_PATH).decode()
    left = differences(record, freeze)
    if left:
        raise sandbox.BuildFailed(f"{what} installs other versions than the first build of {tag}: {'; '.join(left[:5])}", "", None)
    return freeze


@dataclass(frozen=True)
class Environment:
    """An environment image looked up or built for one (repo, version), with where it came from."""

    build: EnvBuild
    commit: str  # the commit /testbed holds in the image
    git_dir: Path  # the repository's mirror


def environment_for(
    spec: EnvSpec,
    dataset: list,
    repo_cache: Path,
    cache_dir: Path,
    log_dir: Path,
    build: bool = True,
    pins: Pins | None = None,
) -> Environment:
    """The environment image of spec's (repo, version): its mirror from the repo cache, its commit
    chosen from the dataset's instances of that version, the image found or built."""
    from patchsmith.swebench_runner.recover import recoverers_for
    from patchsmith.swebench_runner.repos import find_mirror

    git_dir = find_mirror(spec.repo, repo_cache)
    commit = setup_commit([i for i in dataset if (i.repo, i.version) == (spec.repo, spec.version)], git_dir)
    outcome = ensure_env_image(spec, commit, git_dir, cache_dir, log_dir, recoverers_for(spec.repo, cache_dir), build=build,
                               repo_cache=repo_cache, pins=pins)
    return Environment(outcome, commit, git_dir)


def put_vendored_sources(container, spec: EnvSpec, repo_cache: Path | None) -> None:
    """Put each vendored source's tree where the build looks for it (untracked, so moving /testbed
    to an instance's commit keeps it, and what the first install built from it)."""
    from patchsmith.swebench_runner.repos import find_mirror

    for vendored in spec.vendored_sources:
        if repo_cache is None:
            raise SwebenchError(f"{spec.key} needs {vendored.repo} at {vendored.ref}; give a repo cache that holds it.")
        tree = snapshot(find_mirror(vendored.repo, repo_cache), vendored.ref)
        container.put_archive(f"{WORKDIR}/{vendored.path}", tree.archive)  # creates the folder


def setup_commit(group: list, git_dir: Path) -> str:
    """The commit an environment is built at: the version's environment_setup_commit when the
    mirror has it, else the newest base commit of the version's instances (some mirrors are forks
    that lack the upstream's release-branch commits)."""
    import subprocess

    wanted = group[0].environment_setup_commit
    if wanted and subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "-e", f"{wanted}^{{commit}}"],
                                 capture_output=True).returncode == 0:
        return wanted

    def commit_time(commit: str) -> int:
        done = subprocess.run(["git", f"--git-dir={git_dir}", "show", "-s", "--format=%ct", commit], capture_output=True, text=True)
        return int(done.stdout.strip() or 0)

    return max(sorted({i.base_commit for i in group}), key=commit_time)


def move_tree(container, change) -> None:
    """Move /testbed from the environment's commit to another: delete, then copy what differs.
    (No git commit of the result: evaluation needs none, and hashing thousands of changed files
    would cost more than many test runs.)"""
    if change.deleted:
        container.put_file("/tmp/.patchsmith-swebench/deleted", "\0".join(change.deleted) + "\0")
        container.check("xargs -0 -r rm -f < /tmp/.patchsmith-swebench/deleted", "deleting files")
    container.put_archive(WORKDIR, change.archive)
