"""The install step of an inferred environment, run inside the build container.

This file is copied into the container and run with the environment's Python, so it uses the
standard library only (and pip's vendored `packaging`). It reads a JSON plan (see
sandbox/plan.py) and installs the project and its requirements in one pip resolution, limited
to releases uploaded before the plan's cutoff:

- pip itself is upgraded first, undated (pip 26 is the first with --uploaded-prior-to);
- setuptools and wheel are put back to the release of the date;
- a tree without .git gets one commit first, so setuptools-scm, versioneer and hatch-vcs can
  read a version;
- one requirement that cannot be resolved (no release, all yanked, in conflict with the project)
  is dropped and the resolution retried; one with no release before the cutoff gets the oldest
  release that installs on this Python instead, and one of the date that will not install on
  this (newer) Python gets the oldest later release with a wheel for it;
- what the build compiles against (numpy, Cython) meets this Python: as of its release, wheels
  only, when it is later than the date. Every such decision is printed as a line
  starting with "PATCHSMITH-NOTE" so the build log (and `--explain`) can show it.

pip runs with --isolated: a host's pip configuration (local find-links carry no upload dates)
must not leak into a dated resolution.
"""

import json
import os
import re
import subprocess
import sys

PIP = [sys.executable, "-m", "pip"]
MAX_ROUNDS = 12  # drops and fallbacks per resolution; a plan this broken is better reported


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


def culprits(output):
    """Names pip blames for a failed resolution, most specific first."""
    names = []
    for pattern in (r"No matching distribution found for ([^\s;]+)",
                    r"The user requested ([^\s;(]+)",
                    r"Failed to build ([A-Za-z0-9._-]+)",
                    r"Failed building wheel for ([A-Za-z0-9._-]+)",
                    r"Could not build wheels for ([A-Za-z0-9._-]+)",
                    r"installing build dependencies for ([A-Za-z0-9._-]+)",
                    r"generating package metadata.*?\n.*?(?:╰─>|->)\s*([A-Za-z0-9._-]+)"):
        for match in re.finditer(pattern, output, re.S if "metadata" in pattern else 0):
            name = requirement_name(match.group(1))
            if name and name not in names:
                names.append(name)
    return names + [n for n in blamed_for_build(output) if n not in names]


_FAILED_BEFORE_BUILD = re.compile(r"(metadata-generation-failed|did not run successfully)")


_GETTING = re.compile(r"^\s*(?:Collecting|Processing) (\S+)(?:[^\n(]*\(from ([A-Za-z0-9][A-Za-z0-9._-]*))?", re.M)


def blamed_for_build(output):
    """The package pip was collecting when a build step (metadata, build requirements) failed,
    then what pulled it in, up to a requirement: pip then names no requirement, only
    `Collecting NAME (from PARENT)` (or `Processing PATH (from PARENT)`) before the error. A
    dependency that will not build (cartopy without GEOS) is blamed on the requirement that
    wants it (scitools-iris), found in one round instead of one trial install per requirement."""
    return [name for name in build_chain(output) if name]


def build_chain(output):
    """[what failed to build, what wanted it, ...]; "" for a package pip names by a path."""
    failed = _FAILED_BEFORE_BUILD.search(output)
    getting = _GETTING.findall(output[:failed.start()]) if failed else []
    if not getting:
        return []
    parents = {requirement_name(child): requirement_name(parent) for child, parent in getting if parent}
    chain = [requirement_name(getting[-1][0]), requirement_name(getting[-1][1])]
    while chain[-1] in parents and parents[chain[-1]] not in chain:
        chain.append(parents[chain[-1]])
    return chain if chain[-1] else chain[:-1]


def no_release_before_cutoff(output, name):
    found = re.search(r"No matching distribution found for ([^\s;]+)", output)
    return bool(found) and requirement_name(found.group(1)) == name


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


def resolve(plan, target, requirements):
    """pip install target (the project, editable, or nothing) with requirements, dropping what
    cannot be installed. Returns the requirements that stayed."""
    requirements = list(requirements)
    undated = []  # fallbacks: (requirement, cutoff) installed after the resolution; "" = any date
    for _ in range(MAX_ROUNDS):
        if not target and not requirements:
            break  # every requirement went to a fallback (or was dropped)
        args = PIP + ["install", *pip_options(plan), *target, *requirements]
        code, output = run(args)
        if code == 0:
            break
        blamed = [n for n in culprits(output) if n in {requirement_name(r) for r in requirements}]
        # The project's own requirements go last: a test tool's pin is the likelier mistake.
        blamed.sort(key=lambda n: n in plan.get("protected", []))
        if not blamed:
            blamed = [requirement_name(r) for r in requirements if not solo_ok(plan, r)][:1]
        if not blamed:
            if not requirements:
                raise SystemExit(f"the project itself does not install (exit {code})")
            note("dropped", f"{requirements[-1]} (pip failed and named no requirement; the last one goes first)")
            requirements.pop()
            continue
        name = blamed[0]
        requirement = next(r for r in requirements if requirement_name(r) == name)
        requirements.remove(requirement)
        if plan.get("cutoff") and no_release_before_cutoff(output, name):
            pinned = oldest_wheel(plan, requirement) if plan.get("only_binary") else oldest_installable(plan, requirement)
            if pinned and plan.get("only_binary"):
                note("fallback", f"{requirement} had no wheel for Python {sys.version_info[0]}.{sys.version_info[1]} before "
                                 f"{plan['cutoff'][:10]}; using the oldest release with a wheel for it, {pinned}")
                install_fallback(plan, pinned, "")  # found once: the interpreter's fallback below would search again
                undated.append((requirement, None))
                continue
            if pinned:
                note("fallback", f"{requirement} had no release before {plan['date']}; using the oldest that installs, {pinned}")
                undated.append((pinned, ""))
                continue
        python_cutoff = interpreter_cutoff(plan) or plan.get("python_cutoff", "")
        if python_cutoff and requirement not in [r for r, _ in undated]:
            python = f"Python {sys.version_info[0]}.{sys.version_info[1]}"
            pinned = oldest_wheel(plan, requirement)
            if pinned:
                note("fallback", f"{requirement} of {plan['date']} does not install on {python}; using the oldest release "
                                 f"with a wheel for it, {pinned}")
                install_fallback(plan, pinned, "")
            else:
                note("fallback", f"{requirement} of {plan['date']} does not install on {python}; "
                                 f"using its release as of that Python ({python_cutoff[:10]})")
                install_fallback(plan, requirement, python_cutoff)
            undated.append((requirement, None))  # installed: tried once
            continue
        note("dropped", f"{requirement} ({reason_of(output, name)})")
    else:
        raise SystemExit("too many requirements failed; see the notes above")
    for pinned, cutoff in undated:
        if cutoff is not None:
            install_fallback(plan, pinned, cutoff)
    return requirements


def solo_ok(plan, requirement):
    code, _ = run(PIP + ["install", *pip_options(plan), "--dry-run", requirement])
    return code == 0


def reason_of(output, name):
    chain = build_chain(output)
    if name in chain[1:]:
        return f"its dependency {chain[0]} failed to build" if chain[0] else "a dependency of it failed to build"
    if re.search(r"No matching distribution found for " + re.escape(name), output, re.I):
        return "no installable release" + (" before the date" if "uploaded-prior-to" in output else "")
    if "ResolutionImpossible" in output or "conflict" in output.lower():
        return "conflicts with the project's other requirements"
    return "failed to build or install"


def project_requirements(plan):
    """Requires-Dist of the editable install: its own requirements, and those of its test extras
    (markers kept, the extra condition removed)."""
    code, output = run([sys.executable, "-c", (
        "import importlib.metadata as m, json, sys\n"
        "reqs = []\n"
        "for d in m.distributions():\n"
        "    url = d.read_text('direct_url.json') or ''\n"
        "    here = str(d.locate_file('')).startswith(sys.argv[1])\n"
        "    if here or 'file://' + sys.argv[1] in url.replace('file://localhost', 'file://'):\n"
        "        reqs += d.requires or []\n"
        "print('REQUIRES ' + json.dumps(reqs))\n"), os.getcwd()])
    found = re.search(r"^REQUIRES (.*)$", output, re.M)
    wanted = set(plan.get("extra_names", []))
    chosen = []
    for requirement in (json.loads(found.group(1)) if code == 0 and found else []):
        extra = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", requirement)
        if extra and canonical(extra.group(1)) not in wanted:
            continue
        if extra:  # drop the extra condition, keep any other marker
            requirement = re.sub(r"""\s*(and\s+)?extra\s*==\s*['"][^'"]+['"]""", "", requirement).rstrip().rstrip(";").strip()
            requirement = re.sub(r";\s*$", "", requirement.replace("; and ", "; "))
        chosen.append(requirement)
    return chosen


def setuptools_version():
    code, output = run([sys.executable, "-c", "import setuptools; print('SETUPTOOLS', setuptools.__version__)"])
    found = re.search(r"SETUPTOOLS (\d+)", output)
    return int(found.group(1)) if code == 0 and found else 0


def install_project(plan):
    """The work tree, editable, without its dependencies (they are resolved with the rest)."""
    args = PIP + ["install", *pip_options(plan), "--no-build-isolation", "--no-deps", "-e", "."]
    setuptools_based = plan.get("build_backend", "setuptools").startswith("setuptools")
    if setuptools_based and os.path.isfile("setup.py") and setuptools_version() < 64:
        # pip 26 installs editable only through PEP 660, which setuptools has since 64; the date's
        # setuptools installs the tree the way the commit's developers did.
        note("build", "setuptools of the date has no PEP 660 editable install; used `setup.py develop`")
        code, _ = run([sys.executable, "setup.py", "develop", "--no-deps"])
        if code == 0:
            return
        pinned = oldest_installable(plan, "setuptools>=64.0.1")
        if pinned:
            note("build", f"`setup.py develop` failed; editable install with {pinned}")
            run(PIP + ["install", *pip_options(plan, dated=False), pinned])
    code, output = run(args)
    if code != 0 and plan.get("build_requires"):
        note("build", "the build requirements of the date cannot build the project; using today's")
        run(PIP + ["install", *pip_options(plan, dated=False), "--upgrade", *plan["build_requires"]])
        code, output = run(args)
    if code != 0:
        raise SystemExit(f"the project itself does not install (exit {code})")


def main(path):
    with open(path) as handle:
        plan = json.load(handle)
    if plan.get("cutoff"):
        print(f"dated install: releases uploaded before {plan['cutoff']}", flush=True)
    code, _ = run(PIP + ["install", *pip_options(plan, dated=False), "--upgrade", "pip"])
    if code != 0:
        raise SystemExit("upgrading pip failed")
    # The date's build tools (old setup.py files break on today's setuptools); the project is
    # built without isolation, in this environment, so they must be here.
    run(PIP + ["install", *pip_options(plan), "--force-reinstall" if plan.get("cutoff") else "--upgrade", "setuptools", "wheel"])
    if run([sys.executable, "-c", "import setuptools, wheel"])[0] != 0 and interpreter_cutoff(plan):
        note("fallback", f"setuptools of {plan['date']} does not run on this Python; using its release as of {interpreter_cutoff(plan)[:10]}")
        run(PIP + ["install", *pip_options(plan, cutoff=interpreter_cutoff(plan)), "--force-reinstall", "setuptools", "wheel"])
    if plan.get("git_commit") and not os.path.isdir(".git"):
        note("version", "no .git in the tree: committed it once so version-from-git tools find a version")
        for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=patchsmith", "-c", "user.email=patchsmith@localhost",
                                                       "commit", "-q", "--no-verify", "-m", "base"]):
            subprocess.run(["git", *args], check=False)
    # Version-looking tags only, as setuptools-scm reads them (a runner may tag its own base commit).
    untagged = subprocess.run(["git", "describe", "--tags", "--match", "*[0-9]*"], capture_output=True).returncode != 0
    if plan.get("git_commit") and plan.get("version_tag") and untagged:
        # A history made for the container (here, or by whoever copied the tree in) has no tags.
        note("version", f"tagged it {plan['version_tag']}, the newest version tag before the commit")
        subprocess.run(["git", "tag", plan["version_tag"]], check=False)
    requirements = plan.get("requirements", [])
    if plan.get("installable"):
        build_tools = [r for r in plan.get("build_requires", []) if requirement_name(r) in ("setuptools", "wheel")]
        compiled = [r for r in plan.get("build_requires", []) if r not in build_tools]
        resolve(plan, [], build_tools)
        python_cutoff = interpreter_cutoff(plan)
        if compiled and python_cutoff:
            # What the build compiles against (numpy, Cython) meets this Python, not the date's: as
            # of its release, wheels only (an old sdist builds for minutes, then fails), else the
            # oldest release with a wheel for it.
            note("build", f"{', '.join(compiled)} as of Python {sys.version_info[0]}.{sys.version_info[1]}'s release, "
                          f"{python_cutoff[:10]}, which is later than {plan['date']}; wheels only")
            resolve({**plan, "cutoff": python_cutoff, "python_cutoff": python_cutoff, "only_binary": True}, [], compiled)
        else:
            resolve(plan, [], compiled)
        install_project(plan)
        own = [r for r in project_requirements(plan) if requirement_name(r) not in {requirement_name(x) for x in requirements}]
        requirements = own + list(requirements)
        plan["protected"] = [requirement_name(r) for r in own]
    resolve(plan, [], requirements)


if __name__ == "__main__":
    main(sys.argv[1])
