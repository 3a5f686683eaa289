"""`patchsmith search [--repo PATH] "text" [-k N] [--json] [--commit REV]`: rank files and definitions."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from patchsmith.commands.arguments import add_repository

    add_repository(parser, "a repository: a working tree, or a git directory with --commit")
    parser.add_argument("text", help="what to look for, such as an issue's text; '-' reads it from standard input")
    parser.add_argument("-k", type=int, default=10, help="how many files and how many definitions (default 10)")
    parser.add_argument("--commit", help="index this commit of a git repository instead of the working tree")
    parser.add_argument("--json", action="store_true", help="print {'files': [...], 'definitions': [...]} as JSON")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from patchsmith.commands.arguments import repository
    from patchsmith.paths import cache_root
    from patchsmith.repo_index import RepoIndexError, build_index, search

    if args.k < 1:
        raise RepoIndexError(f"-k must be at least 1, not {args.k}.")
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise RepoIndexError("the search text is empty; give the words to look for.")
    index = build_index(Path(repository(args, "search")), commit=args.commit, cache_dir=cache_root() / "index")
    hits = search(index, text, k=args.k)
    files = [h for h in hits if h.kind == "file"]
    definitions = [h for h in hits if h.kind == "definition"]
    if args.json:
        print(json.dumps({
            "files": [{"path": h.path, "score": h.score} for h in files],
            "definitions": [{"path": h.path, "qualname": h.qualname, "start": h.start, "end": h.end, "score": h.score}
                            for h in definitions],
        }, indent=2))
        return 0
    print("files:")
    for h in files:
        print(f"  {h.score:8.3f}  {h.path}")
    print("definitions:")
    for h in definitions:
        print(f"  {h.score:8.3f}  {h.path}:{h.start}-{h.end}  {h.qualname}")
    if not hits:
        print("  (nothing matched)")
    return 0
