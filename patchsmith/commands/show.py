"""`patchsmith show [--repo PATH] QUALNAME`: print the source of one definition."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from patchsmith.commands.arguments import add_repository

    add_repository(parser, "a working tree, or a git directory (bare or not)")
    parser.add_argument("qualname", help='a qualified name such as "QuerySet.delete", or "FILE:QUALNAME" to pick the file')
    parser.add_argument("--commit", default=None, help="a revision to read without checking it out")


def run(args: argparse.Namespace) -> int:
    from patchsmith.commands.arguments import repository
    from patchsmith.paths import cache_root
    from patchsmith.repo_index import build_index, definition_source, find_definitions

    path, _, qualname = args.qualname.rpartition(":")
    index = build_index(repository(args, "show"), commit=args.commit, cache_dir=cache_root() / "index")
    found = find_definitions(index, qualname, path or None)
    named = {(d.path, d.qualname) for d in found}
    if len(named) > 1:  # never pick one of several silently: the user says which
        listed = ", ".join(f"{p}:{q}" for p, q in sorted(named)[:MAX_LISTED])
        more = f" and {len(named) - MAX_LISTED} more" if len(named) > MAX_LISTED else ""
        raise ShowError(f"{args.qualname} names {len(named)} definitions ({listed}{more}); give one of them as FILE:QUALNAME")
    if found:
        print(f"# {found[0].path}:{found[0].start}-{found[0].end}")
    print(definition_source(index, qualname, path or None))
    return 0


MAX_LISTED = 8


class ShowError(Exception):
    user_error = True
