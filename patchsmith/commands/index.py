"""`patchsmith index [--repo PATH] [--commit SHA]`: index a repository and say what was found and how fast.

Kept light on purpose: a warm `patchsmith index` is meant to finish within a second as a whole
process, so nothing here imports Docker, litellm or rich.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from patchsmith.commands.arguments import add_repository

    add_repository(parser, "a working tree, or a git directory (bare or not)")
    parser.add_argument("--commit", default=None, help="a revision to read without checking it out")
    parser.add_argument("--no-cache", action="store_true", help="parse every file; neither read nor write the cache")


def run(args: argparse.Namespace) -> int:
    from collections import Counter

    from patchsmith.commands.arguments import repository
    from patchsmith.paths import cache_root
    from patchsmith.repo_index import build_index

    index = build_index(repository(args, "index"), commit=args.commit, cache_dir=None if args.no_cache else cache_root() / "index")
    stats = index.stats
    languages = Counter(entry.language or "other" for entry in index.files.values())
    by_language = ", ".join(f"{name} {count}" for name, count in languages.most_common())
    print(f"indexed:     {index.root}" + (f" at {index.commit}" if index.commit else " (working tree)"))
    print(f"files:       {stats['files']} ({by_language})")
    print(f"definitions: {stats['definitions']}")
    print(f"cache hits:  {stats['cache_hits']} of {stats['files']} ({stats['parsed']} parsed)")
    print(f"time:        {stats['seconds']:.2f} s")
    return 0
