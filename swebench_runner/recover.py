"""Files the public snapshots lack, recovered from maintained sources.

astropy's IERS-B table `astropy/utils/iers/data/eopc04.1962-now` (about 4.7 MB) is absent from
the snapshot. The astropy-iers-data package on PyPI, which astropy itself later moved this table
to, carries it. Its first release (June 2023) is the nearest to the Lite base commits
(April and June 2023); the commits' `ReadMe.eopc04`, which defines the table's format, is
byte-identical to that release's, so the table reads the same way. Its rows run a few weeks
further than the committed copy's; it is not byte-identical, and reports say where it came from.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

IERS_PACKAGE = "astropy-iers-data==0.2023.6.15.21.10.12"
IERS_MEMBER = "astropy_iers_data/data/eopc04.1962-now"


def astropy_iers_b(cache_dir: Path) -> tuple[bytes, str] | None:
    """The IERS-B table from PyPI (downloaded once into the cache); None when unreachable."""
    folder = cache_dir / "swebench" / "recovered"
    wheels = sorted(folder.glob("astropy_iers_data-*.whl")) if folder.is_dir() else []
    if not wheels:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", scratch, IERS_PACKAGE],
                capture_output=True,
            )
            if done.returncode != 0:
                return None
            for wheel in Path(scratch).glob("*.whl"):
                wheel.replace(folder / wheel.name)
        wheels = sorted(folder.glob("astropy_iers_data-*.whl"))
    if not wheels:
        return None
    with zipfile.ZipFile(wheels[0]) as archive:
        return archive.read(IERS_MEMBER), f"PyPI {IERS_PACKAGE} ({IERS_MEMBER})"


def recoverers_for(repo: str, cache_dir: Path) -> dict:
    """Files snapshots lack that a maintained source carries (see sources.py): path -> a function
    of no arguments that gives (bytes, where from) or None. Downloads are kept under cache_dir
    (patchsmith's cache root)."""
    if repo == "astropy/astropy":
        return {"astropy/utils/iers/data/eopc04.1962-now": functools.partial(astropy_iers_b, cache_dir)}
    return {}
