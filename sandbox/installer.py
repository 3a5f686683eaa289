"""The install step of an inferred environment, run inside the build container.

This file is copied into the container (with sandbox/pip_calls.py beside it) and run with the
environment's Python, so it uses the standard library only (and pip's vendored `packaging`). It reads a JSON plan (see
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
- a requirement pip held back below its release of the date, because a dependency of that
  release has none before the date, gets it, the dependency its oldest release that installs;
- what the build compiles against (numpy, Cython) meets this Python: as of its release, wheels
  only, when it is later than the date;
- a requirement beyond the project's own that installs but will not import (its C library is
  missing) is uninstalled again;
- a pytest of the date that cannot run a trivial test on this (newer) Python, or has no `pytest`
  command yet, moves with its plugins to their releases as of this Python. Every such decision is printed as a line
  starting with "PATCHSMITH-NOTE" so the build log (and `--explain`) can show it.

pip runs with --isolated: a host's pip configuration (local find-links carry no upload dates)
must not leak into a dated resolution.
"""

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile

try:  # imported as part of patchsmith (discovery reads requirement names the same way)
    from patchsmith.sandbox import pip_calls
except ImportError:  # in the build container, where pip_calls.py is written next to this file
    import pip_calls

PIP, note, run, pip_options, canonical, requirement_name = (
    pip_calls.PIP, pip_calls.note, pip_calls.run, pip_calls.pip_options, pip_calls.canonical, pip_calls.requirement_name)
interpreter_cutoff, install_fallback, oldest_installable, oldest_wheel, newer_of_the_date = (
    pip_calls.interpreter_cutoff, pip_calls.install_fallback, pip_calls.oldest_installable, pip_calls.oldest_wheel,
    pip_calls.newer_of_the_date)

MAX_ROUNDS = 12  # drops and fallbacks per resolution; a plan this broken is better reported


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


def catch_up(plan, requirements):
    """A requirement pip held back because a dependency of its newer releases has no release
    before the date gets its release of the date, and that dependency its oldest release that
    installs, as a requirement would. (atomicwrites' old releases were deleted and one put back
    in 2022; pip then backtracked pytest of 2019 to 3.5, before pytest needed it.)"""
    names = {requirement_name(r) for r in requirements}
    for name, newest in newer_of_the_date(plan, requirements).items():
        args = PIP + ["install", *pip_options(plan), f"{name}=={newest}",
                      *(r for r in requirements if requirement_name(r) != canonical(name))]
        fell_back = False
        for _ in range(3):  # one missing dependency at a time, as pip reports them
            code, output = run([*args, "--dry-run"])
            missing = re.search(r"No matching distribution found for ([^\s;]+)", output)
            pinned = missing and requirement_name(missing.group(1)) not in names and oldest_installable(plan, missing.group(1))
            if code == 0 or not pinned:
                break
            note("fallback", f"{missing.group(1)}, which {name} {newest} needs, had no release before {plan['date']}; "
                             f"using the oldest that installs, {pinned}")
            install_fallback(plan, pinned, "")
            fell_back = True
        if code == 0 and fell_back:
            run(args)


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


def top_level_modules(names):
    """{name: its top-level modules} of the installed distributions named (canonical names). This
    file runs with the environment's Python, so its metadata is the environment's."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = canonical(dist.metadata["Name"] or "")
        if name not in names:
            continue
        top = (dist.read_text("top_level.txt") or "").split()
        if not top:  # wheels of newer build tools leave top_level.txt out; their files say it
            top = [f.parts[0][:-3] if len(f.parts) == 1 else f.parts[0] for f in dist.files or []
                   if (len(f.parts) == 1 and f.parts[0].endswith(".py")) or (len(f.parts) == 2 and f.parts[1] == "__init__.py")]
        found[name] = sorted(set(top))
    return found


# Top-level names a distribution may ship by mistake, whose import says nothing of the package.
_NOT_ITS_API = {"test", "tests", "testing", "doc", "docs", "example", "examples", "benchmarks", "scripts"}


def drop_unimportable(plan, requirements):
    """Uninstall each requirement beyond the project's own that installed but will not import.
    conda brings a package's C library, pip does not (cfgrib without ecCodes raises RuntimeError),
    and a project's optional imports catch ImportError only: one such package fails every test,
    while without it the tests that want it skip. The project's own requirements stay: if they do
    not import, that is the environment's failure to report, not to hide."""
    protected = set(plan.get("protected", []))
    names = sorted({requirement_name(r) for r in requirements} - protected - {"pip", "setuptools", "wheel"})
    for name, modules in top_level_modules(set(names)).items():
        modules = [m for m in modules if m.isidentifier() and m not in _NOT_ITS_API]
        if not modules:
            continue
        try:  # from / so that nothing in the work tree stands in for the package
            tried = subprocess.run([sys.executable, "-c", "import " + ", ".join(modules)], cwd="/",
                                   capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            continue  # slow, not broken
        if tried.returncode != 0:
            last = ([line for line in tried.stderr.splitlines() if line.strip()] or ["no message"])[-1]
            run(PIP + ["uninstall", "-y", name])
            note("dropped", f"{name} (installed, but `import {', '.join(modules)}` fails: {last[:200]})")


def pytest_runs():
    """Whether this environment's pytest runs a trivial test, and has the `pytest` command that
    test commands call (pytest before 3.0 has only `py.test`)."""
    folder = tempfile.mkdtemp(prefix="patchsmith-pytest-")
    with open(os.path.join(folder, "test_patchsmith_smoke.py"), "w") as handle:
        handle.write("def test_smoke():\n    assert True\n")
    code, output = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", folder])
    return code == 0 and "1 passed" in output and os.path.exists(os.path.join(os.path.dirname(sys.executable), "pytest"))


def pytest_that_runs(plan):
    """A commit's pinned pytest (requests 2.7's 2.3.4) may not run on the newer Python we have; its
    developers ran a pytest that worked on theirs. Then pytest and its plugins (a plugin of the
    date breaks a newer pytest at start-up: pytest-cov 1.6's funcarg hook) move to their releases
    as of this Python."""
    if run([sys.executable, "-c", "import pytest"])[0] != 0 or pytest_runs():
        return
    cutoff = interpreter_cutoff(plan)
    if not cutoff:
        note("runner", "pytest does not run a trivial test in this environment")
        return
    plugins = [dist.metadata["Name"] for dist in importlib.metadata.distributions()
               if any(entry.group == "pytest11" for entry in dist.entry_points)]
    python = f"Python {sys.version_info[0]}.{sys.version_info[1]}"
    note("fallback", f"pytest of {plan['date']} does not run on {python}; pytest"
                     + (f" and its plugins ({', '.join(plugins)})" if plugins else "") + f" as of that Python ({cutoff[:10]})")
    run(PIP + ["install", *pip_options(plan, cutoff=cutoff), "--upgrade", "pytest", *plugins])
    if not pytest_runs():
        note("runner", f"pytest as of {python} does not run a trivial test either")


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
    kept = resolve(plan, [], requirements)
    if plan.get("cutoff"):
        catch_up(plan, kept)
    drop_unimportable(plan, kept)
    pytest_that_runs(plan)


if __name__ == "__main__":
    main(sys.argv[1])
