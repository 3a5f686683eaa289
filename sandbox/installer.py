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
  release that installs on this Python instead. Every such decision is printed as a line
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


def pip_options(plan, dated=True):
    options = ["--isolated", "--disable-pip-version-check", "--no-input"]
    if os.environ.get("PIP_CERT"):
        options += ["--cert", os.environ["PIP_CERT"]]  # --isolated ignores the variable itself
    if dated and plan.get("cutoff"):
        options += ["--uploaded-prior-to", plan["cutoff"]]
    return options


def run(args):
    print("+ " + " ".join(args), flush=True)
    done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
    return names


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


def resolve(plan, target, requirements):
    """pip install target (the project, editable, or nothing) with requirements, dropping what
    cannot be installed. Returns the requirements that stayed."""
    requirements = list(requirements)
    undated = []  # fallbacks: installed in the same resolution, pinned, from any date
    for _ in range(MAX_ROUNDS):
        args = PIP + ["install", *pip_options(plan), *target, *requirements]
        code, output = run(args)
        if code == 0:
            break
        blamed = [n for n in culprits(output) if n in {requirement_name(r) for r in requirements}]
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
            pinned = oldest_installable(plan, requirement)
            if pinned:
                note("fallback", f"{requirement} had no release before {plan['date']}; using the oldest that installs, {pinned}")
                undated.append(pinned)
                continue
        note("dropped", f"{requirement} ({reason_of(output, name)})")
    else:
        raise SystemExit("too many requirements failed; see the notes above")
    for pinned in undated:
        code, _ = run(PIP + ["install", *pip_options(plan, dated=False), *target, pinned])
        if code != 0:
            note("dropped", f"{pinned} (the fallback release does not install with the rest)")
    return requirements


def solo_ok(plan, requirement):
    code, _ = run(PIP + ["install", *pip_options(plan), "--dry-run", requirement])
    return code == 0


def reason_of(output, name):
    if re.search(r"No matching distribution found for " + re.escape(name), output, re.I):
        return "no installable release" + (" before the date" if "uploaded-prior-to" in output else "")
    if "ResolutionImpossible" in output or "conflict" in output.lower():
        return "conflicts with the project's other requirements"
    return "failed to build or install"


def test_extras_from_metadata(plan):
    """The project's extras named as test extras, read from the installed distribution's metadata
    (for a setup.py that could not be read without running it)."""
    code, output = run([sys.executable, "-c", (
        "import importlib.metadata as m, json, sys\n"
        "names = set()\n"
        "for d in m.distributions():\n"
        "    url = d.read_text('direct_url.json') or ''\n"
        "    if '\"editable\": true' in url.replace(\"'\", '\"') or 'dir_info' in url:\n"
        "        names |= set(d.metadata.get_all('Provides-Extra') or [])\n"
        "print('EXTRAS ' + json.dumps(sorted(names)))\n")])
    found = re.search(r"^EXTRAS (.*)$", output, re.M)
    extras = json.loads(found.group(1)) if code == 0 and found else []
    wanted = set(plan.get("extra_names", []))
    return [e for e in extras if canonical(e) in wanted]


def main(path):
    with open(path) as handle:
        plan = json.load(handle)
    if plan.get("cutoff"):
        print(f"dated install: releases uploaded before {plan['cutoff']}", flush=True)
    code, _ = run(PIP + ["install", *pip_options(plan, dated=False), "--upgrade", "pip"])
    if code != 0:
        raise SystemExit("upgrading pip failed")
    if plan.get("cutoff"):
        # The date's build tools: old setup.py files break on today's setuptools.
        run(PIP + ["install", *pip_options(plan), "--force-reinstall", "setuptools", "wheel"])
    if plan.get("git_commit") and not os.path.isdir(".git"):
        note("version", "no .git in the tree: committed it once so version-from-git tools find a version")
        for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=patchsmith", "-c", "user.email=patchsmith@localhost",
                                                       "commit", "-q", "--no-verify", "-m", "base"]):
            subprocess.run(["git", *args], check=False)
    for env_name, value in plan.get("env", {}).items():
        os.environ[env_name] = value
    requirements = plan.get("requirements", [])
    if not plan.get("installable"):
        resolve(plan, [], requirements)
        return
    extras = plan.get("extras", [])
    target = ["-e", "." + (f"[{','.join(extras)}]" if extras else "")]
    kept = resolve(plan, target, requirements)
    if not extras and plan.get("extra_names"):
        found = test_extras_from_metadata(plan)
        if found:
            note("extras", f"test extras from the installed metadata: {', '.join(found)}")
            resolve(plan, ["-e", f".[{','.join(found)}]"], kept)


if __name__ == "__main__":
    main(sys.argv[1])
