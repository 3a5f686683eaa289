"""What the index walks and skips, as one frozen value that callers can vary."""

from __future__ import annotations

import os
from dataclasses import dataclass

# Folders that hold other projects' code (installed or copied in), never the repository's own.
VENDORED_DIRS = (
    "node_modules",
    "vendor",
    "vendors",
    "third_party",
    "third-party",
    "thirdparty",
    "site-packages",
    "dist-packages",
    "bower_components",
    "__pycache__",
    ".git",
    ".hg",
    ".svn",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    ".mypy_cache",
    ".pytest_cache",
)

# Generated or minified files that are text but not worth reading, and files binary by their
# name (skipped without reading them; other binary files are found by their bytes).
SKIP_GLOBS = (
    "*.min.js", "*.min.css", "*.map", "*.lock", "package-lock.json",
    "*.png", "*.jpg", "*.jpeg", "*.gif", "*.ico", "*.bmp", "*.webp", "*.tif", "*.tiff", "*.psd",
    "*.mo", "*.woff", "*.woff2", "*.ttf", "*.otf", "*.eot",
    "*.zip", "*.gz", "*.tgz", "*.bz2", "*.xz", "*.7z", "*.whl", "*.egg", "*.jar", "*.class",
    "*.pdf", "*.pyc", "*.pyo", "*.so", "*.dll", "*.dylib", "*.exe", "*.o", "*.a",
    "*.npy", "*.npz", "*.pkl", "*.pickle", "*.sqlite", "*.sqlite3", "*.db",
    "*.mp3", "*.mp4", "*.wav", "*.ogg", "*.avi", "*.mov",
)


@dataclass(frozen=True)
class IndexSettings:
    max_file_bytes: int = 4 * 1024 * 1024  # larger files are skipped (a 50,000-line source file fits)
    vendored_dirs: tuple[str, ...] = VENDORED_DIRS  # any path component equal to one of these
    skip_globs: tuple[str, ...] = SKIP_GLOBS  # matched against the file name
    binary_probe_bytes: int = 8000  # a NUL byte in this many leading bytes marks a binary file (git's rule)
    workers: int = 0  # parsing processes; 0 = one per core
    parallel_min_bytes: int = 2 * 1024 * 1024  # below this much to parse, parse in-process
    languages: tuple[str, ...] = ("python", "javascript", "typescript", "go", "java", "rust")
    only_parsed: bool = False  # True: list only files in `languages` (others are skipped entirely)

    def worker_count(self) -> int:
        if self.workers > 0:
            return self.workers
        try:
            return len(os.sched_getaffinity(0))  # the cores this process may use, not all the machine has
        except AttributeError:
            return os.cpu_count() or 1
