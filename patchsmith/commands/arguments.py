"""Argument types shared by the commands: each refuses a bad value with one sentence (argparse
prints it after the usage line and exits 2), before any work starts."""

from __future__ import annotations

import argparse


def folder_name(text: str) -> str:
    """One folder name, so that a run folder stays inside the folder that holds run folders (--run-id)."""
    if not text.strip() or text in (".", "..") or "/" in text or "\\" in text or "\0" in text:
        raise argparse.ArgumentTypeError(f"must be one folder name (no /, no ..), inside --out, not {text!r}")
    return text


class RepositoryArgumentError(Exception):
    user_error = True


def add_repository(parser: argparse.ArgumentParser, what: str) -> None:
    """--repo PATH, as in solve, localize and reproduce; the older positional PATH still works, with a note."""
    parser.add_argument("--repo", default=None, help=f"{what} (default: the current folder)")
    parser.add_argument("old_repo", nargs="?", default=None, metavar="PATH", help=argparse.SUPPRESS)


def repository(args: argparse.Namespace, command: str) -> str:
    """The repository a command was given: --repo, else the deprecated positional PATH, else '.'."""
    import sys

    if args.old_repo is None:
        return args.repo or "."
    if args.repo is not None:
        raise RepositoryArgumentError(f"give the repository once: --repo {args.repo} or {args.old_repo}, not both")
    print(f"patchsmith: `patchsmith {command} PATH` is deprecated; write `patchsmith {command} --repo PATH`, "
          "as in every other command", file=sys.stderr)
    return args.old_repo
