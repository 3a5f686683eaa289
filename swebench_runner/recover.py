"""Files the public snapshots lack, recovered from maintained sources.

astropy's IERS-B table `astropy/utils/iers/data/eopc04.1962-now` (about 4.7 MB) is absent from
the snapshot. The astropy-iers-data package on PyPI, which astropy itself later moved this table
to, carries it. Its first release (June 2023) is the nearest to the Lite base commits
(April and June 2023); the commits' `ReadMe.eopc04`, which defines the table's format, is
byte-identical to that release's, so the table reads the same way. Its rows run a few weeks
further than the committed copy's; it is not byte-identical, and reports say where it came from.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

IERS_PACKAGE = "astropy-iers-data==0.2023.6.15.21.10.12"
IERS_MEMBER = "astropy_iers_data/data/eopc04.1962-now"


def _download_dir() -> Path:
    from patchsmith.paths import cache_root

    return cache_root() / "swebench" / "recovered"


def astropy_iers_b() -> tuple[bytes, str] | None:
    """The IERS-B table from PyPI (downloaded once, then cached); None when unreachable."""
    folder = _download_dir()
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


def recoverers_for(repo: str) -> dict:
    """Files snapshots lack that a maintained source carries (see sources.py)."""
    if repo == "astropy/astropy":
        return {"astropy/utils/iers/data/eopc04.1962-now": astropy_iers_b}
    return {}
