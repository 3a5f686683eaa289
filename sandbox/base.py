"""Base images: a Debian suite from debootstrap piped into `docker import`, or a registry image.

No registry is needed: the host's debootstrap fetches Debian packages over plain http from
the host's own mirror, and the resulting root file system becomes an image. The tag is a hash
of the recipe (suite and package list), so a second build of the same recipe is a tag lookup.
The root file system tarball is kept under the cache folder, so an image that was removed is
imported again in seconds rather than bootstrapped again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import docker.errors
from patchsmith.sandbox import engine, scratch
from patchsmith.sandbox.errors import BuildFailed, DiskFull, SandboxError, looks_like_disk_full
from patchsmith.sandbox.image_build import build_lock, image_exists

# The Python each suite ships. SWE-bench's older versions map to the nearest of these.
SUITE_PYTHON = {"bullseye": "3.9", "bookworm": "3.11", "trixie": "3.13"}

# Lean on purpose: CI builds this on a fresh machine. The headers are the ones Python packages
# most often compile against (Python's own, libffi, OpenSSL, zlib).
BASE_PACKAGES = (
    "python3", "python3-venv", "python3-pip", "python3-dev", "python-is-python3",
    "git", "patch", "gcc", "g++", "make", "libc6-dev",
    "libffi-dev", "libssl-dev", "zlib1g-dev", "ca-certificates",
)

_BUILDER_VERSION = "2"  # bump when the build steps change what ends up in the image
VENV = "/opt/venv"  # made once in the base image: Debian's Python refuses pip installs outside one
# The root file system tarball kept in the cache: zstd-compressed where zstd exists.
_TAR_SUFFIX = ".tar.zst" if shutil.which("zstd") else ".tar"
VENV_PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class BaseSpec:
    """What a base image is made of: a Debian suite and its packages, or a registry image."""

    suite: str = "bookworm"
    packages: tuple[str, ...] = BASE_PACKAGES
    registry_image: str | None = None  # e.g. "python:3.11-slim": used as it is, pulled if absent

    def recipe_hash(self) -> str:
        recipe = {"v": _BUILDER_VERSION, "suite": self.suite, "packages": sorted(self.packages), "registry": self.registry_image}
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def tag(self) -> str:
        if self.registry_image:
            return self.registry_image
        return f"patchsmith-base:{self.suite}-{self.recipe_hash()}"

    @property
    def python(self) -> str:
        """The python version of the image ("3.11"), or "" when unknown (registry images)."""
        if self.registry_image:
            match = re.search(r"python:(\d+\.\d+)", self.registry_image)
            return match.group(1) if match else ""
        return SUITE_PYTHON.get(self.suite, "")


def suite_for_python(version: str | None) -> str:
    """The suite whose Python is nearest to version ("3.8" -> bullseye, "3.10" -> bullseye: on a
    tie the older Python, which old code is likelier to run on); bookworm when none is asked."""
    if not version:
        return "bookworm"
    wanted = _minor(version)
    return min(SUITE_PYTHON, key=lambda suite: (abs(_minor(SUITE_PYTHON[suite]) - wanted), _minor(SUITE_PYTHON[suite])))


def _minor(version: str) -> int:
    parts = [int(part) for part in re.findall(r"\d+", version)[:2]]
    return parts[1] if len(parts) > 1 else 0


def host_debian_mirror() -> str:
    """The Debian mirror the host's apt uses (deb822 or one-line sources), else deb.debian.org."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")) + [Path("/etc/apt/sources.list")]:
        try:
            text = path.read_text()
        except OSError:
            continue
        for match in re.finditer(r"^(?:URIs:|deb)\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.MULTILINE):
            uri = match.group(1).rstrip("/")
            if uri.startswith("http") and "security" not in uri and "debian" in uri:
                return uri
    return "http://deb.debian.org/debian"


def ensure_base_image(
    spec: BaseSpec = BaseSpec(),
    *,
    cache_dir: str | Path | None = None,
    log_path: str | Path | None = None,
    mirror: str | None = None,
) -> str:
    """The tag of the base image for spec, building (or pulling) it only when it is missing."""
    tag = spec.tag
    if image_exists(tag):
        return tag
    if spec.registry_image:
        return _pull(spec.registry_image)
    cache = Path(cache_dir) if cache_dir else None
    with build_lock(cache, f"base-{spec.recipe_hash()}"):
        if image_exists(tag):  # another process built it while we waited
            return tag
        tarball = cache / "base" / f"{spec.suite}-{spec.recipe_hash()}{_TAR_SUFFIX}" if cache else None
        if tarball is None or not tarball.is_file():
            with scratch.tree(cache / "tmp" if cache else Path(tempfile.gettempdir()), "base-") as workdir:
                packed = tarball or workdir / f"rootfs{_TAR_SUFFIX}"
                _bootstrap(spec, packed, workdir, Path(log_path) if log_path else workdir / "debootstrap.log",
                           mirror or host_debian_mirror())
                if tarball is None:  # no cache to keep it in: import it before its tree goes
                    _import(spec, packed)
                    return tag
        _import(spec, tarball)
    return tag


def _pull(image: str) -> str:
    repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
    try:
        engine.client().api.pull(repository, tag=tag or "latest")
    except docker.errors.APIError as exc:
        engine.raise_if_disk_full(exc)
        raise SandboxError(
            f"Could not pull the base image {image} ({exc.explanation or exc}); use a local image or build "
            "one from Debian (drop --base-image)."
        ) from exc
    return image


def _check_host_can_bootstrap() -> None:
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap is not installed; install it (`apt-get install debootstrap`) or name a registry base image such as python:3.11-slim.")
    if os.geteuid() != 0:
        raise SandboxError("Building a Debian base image needs root (debootstrap); run as root or name a registry base image such as python:3.11-slim.")


def _bootstrap(spec: BaseSpec, tarball: Path, workdir: Path, log: Path, mirror: str) -> None:
    """debootstrap the suite into workdir (a scratch tree, removed by the caller) and pack it into tarball."""
    _check_host_can_bootstrap()
    log.parent.mkdir(parents=True, exist_ok=True)
    rootfs = workdir / "rootfs"
    marked = scratch.marked_env(workdir)  # a later run finds these processes if this one is killed
    debootstrap = [
        "debootstrap", "--variant=minbase", f"--include={','.join(spec.packages)}",
        spec.suite, str(rootfs), mirror,
    ]
    _logged_run(debootstrap, log, f"the {spec.suite} base image", marked)
    _logged_run(["chroot", str(rootfs), "python3", "-m", "venv", VENV], log, f"the {spec.suite} base image's virtual environment", marked)
    # What apt downloaded is not needed in the image; apt-get update refetches the lists.
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (rootfs / leftover).glob("*"):
            if item.is_file():
                item.unlink()
    (rootfs / "etc/apt/sources.list").write_text(f"deb {mirror} {spec.suite} main\n")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(".partial")
    tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=marked)
    with partial.open("wb") as out:
        pack = ["zstd", "-q", "-T0", "-3", "-c"] if _TAR_SUFFIX == ".tar.zst" else ["cat"]
        zstd = subprocess.run(pack, stdin=tar.stdout, stdout=out, stderr=subprocess.PIPE, env=marked)
    tar.stdout.close()
    tar_err = tar.communicate()[1].decode(errors="replace")
    if tar.returncode != 0 or zstd.returncode != 0:
        message = tar_err + zstd.stderr.decode(errors="replace")
        if looks_like_disk_full(message):
            raise DiskFull(str(tarball.parent))
        raise SandboxError(f"Packing the {spec.suite} root file system failed: {message.strip()[-300:]}")
    partial.rename(tarball)


def _import(spec: BaseSpec, tarball: Path) -> None:
    """`zstd -dc tarball | docker import` with the image's environment and labels."""
    repository, tag = spec.tag.split(":", 1)
    labels = {engine.LABEL_OWNER: "1", engine.LABEL_KIND: "base", engine.LABEL_RECIPE: spec.recipe_hash()}
    changes = [f"ENV PATH={VENV_PATH}", f"ENV VIRTUAL_ENV={VENV}", "ENV LANG=C.UTF-8", 'CMD ["bash"]']
    changes += [f'LABEL {key}="{value}"' for key, value in labels.items()]
    unpack = ["zstd", "-q", "-dc", str(tarball)] if tarball.name.endswith(".zst") else ["cat", str(tarball)]
    unzip = subprocess.Popen(unpack, stdout=subprocess.PIPE)
    try:
        engine.client().api.import_image(src=unzip.stdout, repository=repository, tag=tag, changes=changes, stream_src=True)
    except docker.errors.APIError as exc:
        engine.raise_if_disk_full(exc)
        raise SandboxError(f"Importing the {spec.suite} root file system into Docker failed: {exc}") from exc
    finally:
        unzip.stdout.close()
        unzip.wait()
    if not image_exists(spec.tag):
        raise SandboxError(f"Importing the {spec.suite} root file system into Docker did not produce {spec.tag}.")


def _logged_run(command: list[str], log: Path, what: str, env: dict[str, str]) -> None:
    """Run a host command with its output appended to the build log; BuildFailed when it fails."""
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(command)}\n")
        fh.flush()
        done = subprocess.run(command, stdout=fh, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        _raise_build_failed(what, log)


def _raise_build_failed(what: str, log: Path) -> None:
    text = log.read_text(errors="replace") if log.is_file() else ""
    if looks_like_disk_full(text):
        raise DiskFull()
    raise BuildFailed(what, "\n".join(text.splitlines()[-12:]), str(log))
