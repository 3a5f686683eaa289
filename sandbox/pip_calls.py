"""Asking pip, inside the build container: its options for a dated resolution, a logged run,
and which release of a package to take when the date's will not do (the oldest that installs,
the oldest with a wheel for this Python). Standard library only, like sandbox/installer.py,
which it sits next to in the container.
"""

import json
import os
import re
import subprocess
import sys

PIP = [sys.executable, "-m", "pip"]


def note(kind, text):
    print(f"PATCHSMITH-NOTE {kind}: {text}", flush=True)


def pip_options(plan, dated=True, cutoff=""):
    options = ["--isolated", "--disable-pip-version-check", "--no-input"]
    if os.environ.get("PIP_CERT"):
        options += ["--cert", os.environ["PIP_CERT"]]  # --isolated ignores the variable itself
    if dated and (cutoff or plan.get("cutoff")):
        options += ["--uploaded-prior-to", cutoff or plan["cutoff"]]
    if dated and plan.get("only_binary"):
        options += ["--only-binary", ":all:"]
    return options


def interpreter_cutoff(plan):
    """The release date of this Python, when it is later than the plan's date: old commits meet
    newer Pythons, and a release of the commit's day may not run (or build) on this one."""
    released = plan.get("python_released", {}).get("%d.%d" % sys.version_info[:2], "")
    return f"{released}T00:00:00Z" if released and plan.get("cutoff") and released + "T" > plan["cutoff"] else ""


def run(args, env=None):
    print("+ " + " ".join(args), flush=True)
    done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, **env} if env else None)
    sys.stdout.write(done.stdout[-20000:])
    sys.stdout.flush()
    return done.returncode, done.stdout


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(text):
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
    return canonical(match.group(1)) if match else ""


def oldest_installable(plan, requirement):
    """`name==version` of the oldest release matching requirement that pip installs here, or None."""
    try:
        from pip._vendor.packaging.requirements import Requirement
    except ImportError:
        return None
    parsed = Requirement(requirement)
    code, output = run(PIP + ["index", "versions", *pip_options(plan, dated=False), parsed.name])
    found = re.search(r"Available versions: (.*)", output)
    if code != 0 or not found:
        return None
    versions = [v.strip() for v in found.group(1).split(",")]
    matching = [v for v in reversed(versions) if parsed.specifier.contains(v, prereleases=True)]
    for version in matching[:3]:  # oldest first; old sdists often fail to build, so try a few
        pinned = f"{parsed.name}{'[' + ','.join(sorted(parsed.extras)) + ']' if parsed.extras else ''}=={version}"
        code, _ = run(PIP + ["install", *pip_options(plan, dated=False), "--dry-run", "--no-deps", pinned])
        if code == 0:
            return pinned
    return None


def _is_final(version):
    try:
        from pip._vendor.packaging.version import Version
        return not Version(version).is_prerelease
    except Exception:  # noqa: BLE001 - an unparsable version is no candidate
        return False


def index_versions(plan, name, dated):
    code, output = run(PIP + ["index", "versions", *pip_options(plan, dated=dated), name])
    found = re.search(r"Available versions: (.*)", output)
    return [v.strip() for v in found.group(1).split(",")] if code == 0 and found else []


def oldest_wheel(plan, requirement):
    """`name==version` of the oldest release after the date that ships a wheel installing on this
    Python, or None. A compiled package of the date has no wheel for a newer interpreter and its
    sdist seldom builds there; the first release with such a wheel is the nearest that works.
    The releases with such a wheel are a contiguous run (from the first that supports this Python
    to the last before it was dropped): it is found by galloping from the oldest, then its start
    by bisection."""
    try:
        from pip._vendor.packaging.requirements import Requirement
    except ImportError:
        return None
    parsed = Requirement(requirement)
    before = set(index_versions(plan, parsed.name, dated=True))
    later = [v for v in reversed(index_versions(plan, parsed.name, dated=False))
             if v not in before and _is_final(v) and parsed.specifier.contains(v, prereleases=True)]

    def has_wheel(index):
        pinned = f"{parsed.name}=={later[index]}"
        return run(PIP + ["install", *pip_options(plan, dated=False), "--dry-run", "--no-deps", "--only-binary", ":all:", pinned])[0] == 0

    failed, step, hit = -1, 1, None
    while failed + step < len(later):
        if has_wheel(failed + step):
            hit = failed + step
            break
        failed, step = failed + step, step * 2
    if hit is None and failed < len(later) - 1 and has_wheel(len(later) - 1):
        hit = len(later) - 1
    if hit is None:
        return None
    while hit - failed > 1:  # later[failed] has none, later[hit] has one
        middle = (failed + hit) // 2
        failed, hit = (failed, middle) if has_wheel(middle) else (middle, hit)
    return f"{parsed.name}=={later[hit]}"


def install_fallback(plan, pinned, cutoff):
    """Install a fallback now, so later resolutions keep it (an installed release that satisfies
    a requirement is not replaced, whatever its upload date)."""
    code, _ = run(PIP + ["install", *pip_options(plan, dated=bool(cutoff), cutoff=cutoff), pinned])
    if code != 0:
        note("dropped", f"{pinned} (the fallback release does not install with the rest)")


def newer_of_the_date(plan, requirements):
    """{name: version} of the requirements whose release of the date is newer than the one
    installed, their dependencies not considered. (An installed release newer than the date's,
    such as a fallback, is pip's best candidate, so it stays and is not listed.)"""
    done = subprocess.run(PIP + ["install", *pip_options(plan), "--dry-run", "--no-deps", "--upgrade", "--quiet",
                                 "--report", "-", *requirements], check=False, capture_output=True, text=True)
    try:
        return {item["metadata"]["name"]: item["metadata"]["version"] for item in json.loads(done.stdout)["install"]}
    except (ValueError, KeyError, TypeError):  # pip failed: nothing to compare with
        return {}
