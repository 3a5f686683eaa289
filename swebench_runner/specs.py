"""How to build and test each SWE-bench (repository, version): our own specs.

Written from the public facts of the official harness (its v4.1.0 specs say which Python, which
pins and which test command each version had), adapted to what we can build without conda or a
registry: Debian's Python 3.9 (bullseye), 3.11 (bookworm) or 3.13 (trixie) in a venv, packages
from PyPI, system packages from Debian.

The Python mapping (PYTHON_USED): a wanted version we have is used as is; 3.6 and 3.8 map to 3.9
(bullseye): the oldest we have, with wheels for the old numpy/scipy pins those versions need;
3.10 maps to 3.9 when the repository's pins have 3.9 wheels (xarray) and to 3.11 otherwise.
`EnvSpec.python_wanted` and `EnvSpec.python` record both for every (repo, version).
"""

from __future__ import annotations

import re
import shlex

from patchsmith.swebench_runner.env_spec import EnvSpec, VendoredSource
from patchsmith.swebench_runner.errors import SwebenchError

# Files a test patch touches that are data, not tests to run.
NON_TEST_SUFFIXES = (".json", ".png", "csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml", ".yaml", ".toml")

# Headers and tools most scientific builds want, on top of the base image's C toolchain.
_BUILD_PACKAGES = ("pkg-config", "libfreetype6-dev", "libpng-dev", "libjpeg-dev", "zlib1g-dev")


def _versions(*names: str) -> tuple[str, ...]:
    return names


PYTEST_RA = "pytest -rA"
DJANGO_TEST = "./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1"
SYMPY_TEST = "PYTHONWARNINGS='ignore::UserWarning,ignore::SyntaxWarning' bin/test -C --verbose"
_UTF8 = (("LANG", "C.UTF-8"), ("LC_ALL", "C.UTF-8"), ("PYTHONIOENCODING", "utf8"))


def _scm_version(version: str) -> tuple[tuple[str, str], ...]:
    """For projects versioned by setuptools_scm: the work tree's git history is not upstream's, so
    the version it would compute is meaningless (0.1.dev1); pretend the release instead (suites
    check it, e.g. pytest's tox.ini minversion)."""
    return (("SETUPTOOLS_SCM_PRETEND_VERSION", f"{version}.0"),)


def _django(version: str) -> EnvSpec:
    wanted = {"3.0": "3.6", "3.1": "3.6", "3.2": "3.6", "4.0": "3.8", "4.1": "3.9", "4.2": "3.9"}.get(version, "3.11")
    return EnvSpec(
        "django/django",
        version,
        wanted,
        "3.11" if wanted == "3.11" else "3.9",
        DJANGO_TEST,
        "django",
        requirements=("tests/requirements/py3.txt",),
        # On the wanted Python 3.6, pip resolves asgiref to 3.4.1, its last release for 3.6; later
        # ones run thread-sensitive code elsewhere, and asgi tests of that era then fail.
        pip_packages=("asgiref==3.4.1",) if wanted == "3.6" else (),
        system_packages=("libmemcached-dev", "libjpeg-dev", "zlib1g-dev", "libffi-dev"),
        env=_UTF8,
    )


def _sympy(version: str) -> EnvSpec:
    return EnvSpec("sympy/sympy", version, "3.9", "3.9", SYMPY_TEST, "sympy", pip_packages=("mpmath==1.3.0",))


def _pytest(version: str) -> EnvSpec:
    # Plugin and helper pins of each pytest era (pluggy's API changed under 1.0).
    if version in ("4.4", "4.5", "4.6", "5.0", "5.2"):
        pins = ("atomicwrites==1.4.1", "attrs==23.1.0", "more-itertools==10.1.0", "pluggy==0.13.1", "py==1.11.0",
                "six==1.16.0", "wcwidth==0.2.6", "packaging==23.1", "setuptools==68.0.0")
        if version == "4.5":
            pins = tuple(p if not p.startswith("pluggy") else "pluggy==0.11.0" for p in pins)
    elif version in ("5.4", "6.0", "6.3", "7.0"):
        # wcwidth: a dependency during 5.4's development (base commits need it; the release did not).
        pins = ("attrs==23.1.0", "iniconfig==2.0.0", "more-itertools==10.1.0", "packaging==23.1", "pluggy==0.13.1",
                "py==1.11.0", "toml==0.10.2", "setuptools==68.0.0", "wcwidth==0.2.6")
    else:
        pins = ("iniconfig==2.0.0", "packaging==23.1", "pluggy==1.3.0", "exceptiongroup==1.1.3", "tomli==2.0.1")
    pre = ("sed -i 's/>=>=/>=/' setup.cfg",) if version == "6.3" else ()
    # `python -m pytest`: the `pytest` script written at the environment's commit may import a
    # name (console_main) that an older base commit does not have.
    return EnvSpec("pytest-dev/pytest", version, "3.9", "3.9", "python -m pytest -rA", "pytest", pip_packages=pins,
                   pre_install=pre, env=_scm_version(version))


# The sdist's address, from PyPI's simple index (the address pip itself would use).
_FETCH_ASTROPY_HELPERS = (
    "import re, urllib.request; "
    "page = urllib.request.urlopen('https://pypi.org/simple/astropy-helpers/').read().decode(); "
    "url = re.search(r'href=\"([^\"]*astropy-helpers-3[.]0[.]2[.]tar[.]gz)', page).group(1); "
    "urllib.request.urlretrieve(url, '/tmp/astropy-helpers.tar.gz')"
)


def _astropy(version: str) -> EnvSpec:
    if version in ("1.3",):
        return EnvSpec(
            "astropy/astropy", version, "3.6", "3.9", "pytest -rA -vv -o console_output_style=classic --tb=no", "pytest",
            pip_packages=("cython==0.29.36", "setuptools<60", "jinja2==2.10", "MarkupSafe==1.1.1",
                          "pytest==3.10.1", "attrs==19.3.0", "pluggy==0.7.1", "py==1.11.0", "more-itertools==8.14.0",
                          "hypothesis==4.57.1", "pytest-astropy==0.2.1", "pytest-doctestplus==0.1.3",
                          "pytest-remotedata==0.2.0", "pytest-openfiles==0.2.0", "pytest-arraydiff==0.1", "psutil"),
            # astropy_helpers is a git submodule, which the snapshot lacks, and setup.py would
            # fetch it from an index that no longer answers. The same helpers come from PyPI's
            # sdist: 3.0.2, the last release before the environment's commit (September 2018).
            pre_install=(
                # numpy 1.19 and later deprecate ndarray.tostring(), which 1.3's fits code calls
                # and its test setup turns into an error; 1.18.5, the last without that, has no
                # Python 3.9 wheel but builds from its sdist (about 5 minutes, once per image).
                "python -m pip install --no-build-isolation --no-binary numpy numpy==1.18.5",
                "[ -f astropy_helpers/setup.py ] || { python -c " + shlex.quote(_FETCH_ASTROPY_HELPERS) + " && mkdir -p astropy_helpers && "
                "tar -xzf /tmp/astropy-helpers.tar.gz -C astropy_helpers --strip-components=1; }",
            ),
            install="python -m pip install --no-build-isolation -e .",
            reinstall_per_instance=True,
            silent_collections_abcs=True,
            env=_scm_version(version),
            notes="astropy 1.3 built against numpy 1.18.5 (built from source for Python 3.9); astropy_helpers 3.0.2 from "
                  "PyPI; hypothesis 4.57 (3.x cannot make code objects on Python 3.8 and later)",
        )
    return EnvSpec(
        "astropy/astropy", version, "3.9", "3.9", PYTEST_RA, "pytest",
        pip_packages=("numpy==1.25.2", "pyerfa==2.0.0.3", "PyYAML==6.0.1", "packaging==23.1", "pytest==7.4.0",
                      "pytest-astropy==0.10.0", "pytest-astropy-header==0.2.2", "pytest-doctestplus==1.0.0",
                      "pytest-remotedata==0.4.0", "pytest-openfiles==0.5.0", "pytest-arraydiff==0.5.0",
                      "pytest-filter-subpackage==0.1.2", "pytest-mock==3.11.1", "pytest-cov==4.1.0",
                      "pytest-xdist==3.3.1", "hypothesis==6.82.6", "psutil==5.9.5", "setuptools==68.0.0",
                      "setuptools_scm==7.1.0", "extension-helpers==1.1.0", "cython==0.29.36", "wheel"),
        # The build requirements float upward; pin them through a no-isolation build.
        install="python -m pip install --no-build-isolation -e .[test]",
        reinstall_per_instance=True,
        env=_scm_version(version),
    )


def _matplotlib(version: str) -> EnvSpec:
    common = ("contourpy==1.1.0", "cycler==0.11.0", "fonttools==4.42.1", "kiwisolver==1.4.5", "packaging==23.1",
              "pillow==10.0.0", "pyparsing==3.0.9", "python-dateutil==2.8.2", "six==1.16.0", "pytest==7.4.0",
              "setuptools==68.1.2", "setuptools-scm==7.1.0", "typing-extensions==4.7.1", "certifi", "wheel")
    wanted = "3.8" if version in ("3.1", "3.2", "3.3", "3.4") else "3.11"
    numpy = "numpy==1.25.2" if wanted == "3.11" else "numpy==1.24.4"
    if version == "3.5":
        # 3.5's recorded test ids tell clashing parameter ids apart as pytest 8 does
        # ("test_validate_fontweight[100-100_0]"); pytest 7 writes "[100-1000]".
        common = tuple("pytest==8.0.2" if pin.startswith("pytest==") else pin for pin in common)
    # Optional test dependencies whose tests 3.5-3.7's records pass (test_axes.py's pandas tests,
    # test_figure.py's Cairo cases); 3.3's records have none.
    optional = ("pandas==2.0.3", "pycairo==1.25.1") if wanted == "3.11" else ()
    return EnvSpec(
        "matplotlib/matplotlib", version, wanted, "3.11" if wanted == "3.11" else "3.9", PYTEST_RA, "pytest",
        pip_packages=(numpy, *common, "pybind11>=2.6", "ipython", *optional),
        # LaTeX, dvipng and ffmpeg as the official images carry them: tests marked needs_usetex
        # (e.g. test_backend_ps.py::test_failing_latex) are PASS_TO_PASS there, not skipped.
        # autoconf, automake and libtool generate FreeType's configure script from its git tree.
        system_packages=(*_BUILD_PACKAGES, "libqhull-dev", "ghostscript", "fonts-dejavu-core", "texlive",
                         "texlive-latex-extra", "texlive-fonts-recommended", "texlive-xetex", "texlive-luatex",
                         "cm-super", "dvipng", "ffmpeg", "imagemagick", "libcairo2-dev",
                         "autoconf", "automake", "libtool"),
        # Image comparisons hold only with the FreeType matplotlib's build pins (2.6.1), which it
        # downloads into build/freetype-2.6.1 unless that folder exists: we put the tag's tree there
        # from a freetype/freetype mirror. Its qhull download is Debian's release of the same
        # version (2020.2).
        vendored_sources=(VendoredSource("freetype/freetype", "VER-2-6-1", "build/freetype-2.6.1", "sh autogen.sh"),),
        pre_install=("printf '[libs]\\nsystem_qhull = True\\n' > mplsetup.cfg",),
        install="MPLSETUPCFG=mplsetup.cfg python -m pip install --no-build-isolation -e .",
        reinstall_per_instance=True,
        env=_scm_version(version),
    )


def _sklearn(version: str) -> EnvSpec:
    if version in ("0.20", "0.21", "0.22"):
        pins = ("numpy==1.19.5", "scipy==1.5.4", "cython==0.29.36", "setuptools<60", "wheel", "joblib==1.1.1",
                "threadpoolctl==3.1.0", "pandas==1.1.5", "matplotlib==3.3.4")
        # scikit-learn 0.20's test generators (`yield` tests) were removed in pytest 4.
        pins += ("pytest==3.10.1", "attrs==19.3.0", "pluggy==0.7.1", "py==1.11.0", "more-itertools==8.14.0") if version == "0.20" else ("pytest==6.2.5",)
        wanted = "3.6"
    else:
        pins = ("numpy==1.19.5", "scipy==1.5.4", "cython==3.0.10", "setuptools==68.0.0", "wheel", "joblib==1.3.2",
                "threadpoolctl==3.2.0", "pandas<2.0.0", "matplotlib<3.9.0", "pytest==7.4.0")
        wanted = "3.9"
    # pytest 3.10 (0.20's yield tests) has no -rA summary; -v prints each test's id and status,
    # and the classic console style ends each such line with the status (no progress column),
    # which is the form the official parser reads.
    return EnvSpec(
        "scikit-learn/scikit-learn", version, wanted, "3.9", PYTEST_RA + (" -v" if version == "0.20" else ""), "pytest",
        pip_packages=pins,
        system_packages=("libopenblas-dev",),
        install="python -m pip install -v --no-use-pep517 --no-build-isolation -e .",
        reinstall_per_instance=True,
        compiler_cache=True,
        # 0.20 and 0.21 vendor a joblib whose cloudpickle cannot make code objects on Python 3.8
        # and later; this switch (theirs) makes them use the installed joblib instead.
        env=(("SKLEARN_SITE_JOBLIB", "1"),) if version in ("0.20", "0.21") else (),
        test_run_env=(("PYTEST_ADDOPTS", "-o console_output_style=classic"),) if version == "0.20" else (),
        # Some 0.21 base commits (12471's) import the vendored joblib directly from
        # sklearn.utils.testing, which every test imports: its cloudpickle then needs the old
        # code constructor at import.
        code_type_37_signature=version == "0.21",
    )


def _sphinx(version: str) -> EnvSpec:
    major_minor = tuple(int(part) for part in version.split("."))
    pre: tuple[str, ...] = ()
    if major_minor < (4, 5):
        # Sphinx of this era asked for unbounded sphinxcontrib-* and Jinja2, whose new releases dropped it.
        pre = (
            "sed -i 's/Jinja2>=2.3/Jinja2<3.0/' setup.py",
            "sed -i 's/sphinxcontrib-applehelp/sphinxcontrib-applehelp<=1.0.7/' setup.py",
            "sed -i 's/sphinxcontrib-devhelp/sphinxcontrib-devhelp<=1.0.5/' setup.py",
            "sed -i 's/sphinxcontrib-qthelp/sphinxcontrib-qthelp<=1.0.6/' setup.py",
            "sed -i 's/sphinxcontrib-jsmath/sphinxcontrib-jsmath<=1.0.1/' setup.py",  # 2.0 requires Sphinx 5
            "sed -i 's/alabaster>=0.7,<0.8/alabaster>=0.7,<0.7.12/' setup.py",
            "sed -i \"s/'packaging',/'packaging', 'markupsafe<=2.0.1',/\" setup.py",
            "sed -i 's/sphinxcontrib-htmlhelp\\([^<]\\)/sphinxcontrib-htmlhelp<=2.0.4\\1/' setup.py",
            "sed -i 's/sphinxcontrib-serializinghtml\\([^<]\\)/sphinxcontrib-serializinghtml<=1.1.9\\1/' setup.py",
        )
    else:
        # Bound the two helpers whose later releases need a newer Sphinx, whether setup.py names
        # them bare or with a lower bound ("sphinxcontrib-htmlhelp>=2.0.0" in 5.x).
        pre = tuple(
            f"sed -i -e \"s/{name}\\(['\\\"]\\)/{name}<={top}\\1/\" -e 's/{name}>=\\([0-9.]*\\)/{name}>=\\1,<={top}/' setup.py || true"
            for name, top in (("sphinxcontrib-htmlhelp", "2.0.4"), ("sphinxcontrib-serializinghtml", "1.1.9"))
        )
    jinja = ("Jinja2==3.0.3",) if major_minor >= (4, 5) else ()
    # docutils of each Sphinx's time: later ones dropped modules old Sphinx imports (utils.roman).
    docutils = "docutils==0.16" if major_minor < (4, 0) else "docutils==0.17.1" if major_minor < (5, 0) else (
        "docutils==0.18.1" if major_minor < (6, 0) else "docutils==0.20.1")
    return EnvSpec(
        "sphinx-doc/sphinx", version, "3.9", "3.9", "python -X dev -m pytest -rA --durations 25", "pytest",
        pip_packages=(*jinja, docutils, "setuptools==68.0.0"),
        system_packages=("graphviz",) if major_minor >= (7, 2) else (),
        pre_install=pre,
        install="python -m pip install -e .[test]",
        env=(("PYTHONWARNINGS", "all,ignore::ImportWarning:importlib._bootstrap_external,"
              "ignore::DeprecationWarning:site,ignore::DeprecationWarning:distutils,"
              "ignore::DeprecationWarning:pip._vendor.packaging.version"),),
        notes="tox.ini's pytest command run directly (no tox)",
    )


_FLASK_PINS = {
    "2.0": ("Werkzeug==2.3.7", "Jinja2==3.0.1", "itsdangerous==2.1.2", "click==8.0.1", "MarkupSafe==2.1.3"),
    "2.3": ("Werkzeug==2.3.7", "Jinja2==3.1.2", "itsdangerous==2.1.2", "click==8.1.3", "MarkupSafe==2.1.1",
            "blinker==1.6.2"),
}


def _flask(version: str) -> EnvSpec:
    wanted = "3.9" if version == "2.0" else "3.11"
    return EnvSpec(
        "pallets/flask", version, wanted, wanted, PYTEST_RA, "pytest",
        pip_packages=(*_FLASK_PINS.get(version, _FLASK_PINS["2.3"]), "setuptools==70.0.0", "pytest==7.4.0",
                      "python-dotenv==1.0.0", "asgiref==3.7.2"),
    )


def _requests(version: str) -> EnvSpec:
    # Suites of 2.3-2.7 read the CA bundle in the work tree (requests/cacert.pem) when certifi is
    # absent, as it is here; the local CA is appended to it for the run. 3362's tests/ use
    # pytest-httpbin's own server, and 863's only httpbin.org over HTTP.
    return EnvSpec(
        "psf/requests", version, "3.9", "3.9", "pytest -rA", "pytest",
        pip_packages=("pytest==7.4.0", "setuptools<60", "httpbin==0.10.2", "pytest-httpbin==2.0.0",
                      "gunicorn==23.0.0"),
        system_packages=("iproute2", "openssl"),
        local_internet=("--host", "httpbin.org", "--host", "www.google.co.uk", "--tarpit", "10.255.255.1",
                        "--trust", "requests/cacert.pem"),
        shorten_path_ids=True,
        notes="httpbin.org, a redirect target and an unroutable address played inside the container "
              "(the official harness reaches the internet)",
    )


def _xarray(version: str) -> EnvSpec:
    return EnvSpec(
        "pydata/xarray", version, "3.10", "3.9", PYTEST_RA, "pytest",
        pip_packages=("numpy==1.23.0", "packaging==23.1", "pandas==1.5.3", "pytest==7.4.0", "python-dateutil==2.8.2",
                      "pytz==2023.3", "six==1.16.0", "scipy==1.11.1", "setuptools==68.0.0", "dask==2022.8.1",
                      # optional backends of ci/requirements/environment.yml the recorded tests exercise
                      "cftime==1.6.2", "bottleneck==1.3.5", "sparse==0.13.0", "numba==0.56.4", "numbagg==0.2.1",
                      "toolz==0.12.0", "pint==0.21.1"),
        env=_scm_version(version),
        notes="3.10 wanted; its pins all have Python 3.9 wheels",
    )


def _pylint(version: str) -> EnvSpec:
    return EnvSpec(
        "pylint-dev/pylint", version, "3.9", "3.9", PYTEST_RA, "pytest",
        requirements=("requirements_test_min.txt",),
        # tomlkit's later releases refuse the tables pylint 2.x writes (--generate-toml-config).
        # The pytest-benchmark that 2.13 and 2.14 pin writes through py.io, which only the real
        # `py` package has (pytest 7.2 and later ship a stand-in without it).
        pip_packages=("pytest<8", "tomlkit==0.11.6", *(("py==1.11.0",) if version in ("2.13", "2.14") else ())),
        shorten_path_ids=True,
    )


def _seaborn(version: str) -> EnvSpec:
    pins = ("contourpy==1.1.0", "cycler==0.11.0", "fonttools==4.42.1", "importlib-resources==6.0.1",
            "kiwisolver==1.4.5", "matplotlib==3.7.2", "numpy==1.25.2", "packaging==23.1",
            "pandas==1.3.5" if version == "0.11" else "pandas==2.0.0", "pillow==10.0.0", "pyparsing==3.0.9",
            "pytest==7.4.0", "python-dateutil==2.8.2", "pytz==2023.3.post1", "scipy==1.11.2", "six==1.16.0",
            "tzdata==2023.1", "zipp==3.16.2")
    return EnvSpec(
        "mwaskom/seaborn", version, "3.9", "3.9", "pytest --no-header -rA", "pytest",
        pip_packages=pins,
        install="python -m pip install -e ." if version == "0.11" else "python -m pip install -e .[dev]",
    )


_BUILDERS = {
    "astropy/astropy": _astropy,
    "django/django": _django,
    "matplotlib/matplotlib": _matplotlib,
    "mwaskom/seaborn": _seaborn,
    "pallets/flask": _flask,
    "psf/requests": _requests,
    "pydata/xarray": _xarray,
    "pylint-dev/pylint": _pylint,
    "pytest-dev/pytest": _pytest,
    "scikit-learn/scikit-learn": _sklearn,
    "sphinx-doc/sphinx": _sphinx,
    "sympy/sympy": _sympy,
}


def spec_for(repo: str, version: str, extra: tuple[EnvSpec, ...] = ()) -> EnvSpec:
    """The spec of (repo, version), from `extra` (specs beyond SWE-bench's repositories) first;
    SwebenchError for a repository we have no specs for."""
    for spec in extra:
        if (spec.repo, spec.version) == (repo, version):
            return spec
    try:
        return _BUILDERS[repo](version)
    except KeyError:
        raise SwebenchError(f"no environment spec for repository {repo}; supported: {', '.join(_BUILDERS)}.") from None


_DIFF_HEADER = re.compile(r"^diff --git a/.* b/(.*)$", re.MULTILINE)


def patched_files(patch: str) -> list[str]:
    """Paths a diff touches, in order."""
    return _DIFF_HEADER.findall(patch)


def directives_of(repo: str, test_patch: str) -> list[str]:
    """What to pass to the test command: the test files of the test patch (Django: their modules)."""
    files = [path for path in patched_files(test_patch) if not path.endswith(NON_TEST_SUFFIXES)]
    if repo != "django/django":
        return files
    modules = []
    for path in files:
        path = path.removesuffix(".py").removeprefix("tests/")
        modules.append(path.replace("/", "."))
    return modules


