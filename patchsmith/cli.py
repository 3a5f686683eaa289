"""The `patchsmith` command.

Each subcommand lives in its own module under `patchsmith.commands` and is imported only
when it is the one being run, so that a quick command such as `patchsmith index` on a warm
cache does not pay for importing Docker, litellm or rich.

A command module provides `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# name -> (module under patchsmith.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "solve": ("solve", "fix one issue in one repository and print the chosen diff"),
    "index": ("index", "index a repository and print what was found"),
    "search": ("search", "rank a repository's files and definitions for a text"),
    "show": ("show", "print the source of one definition"),
    "localize": ("localize", "find where an issue should be fixed"),
    "reproduce": ("reproduce", "write and run a script that reproduces an issue"),
    "sandbox": ("sandbox", "manage the Docker images and containers patchsmith made"),
    "swebench": ("swebench", "SWE-bench Lite: build environments, run inference, evaluate"),
    "bot": ("bot", "answer a GitHub issue event with a draft pull request"),
}

# Exceptions a user can cause carry `user_error = True`; each package defines its own class
# (leaves import nothing of ours), and the command line turns them into one sentence.


def _top_level_help() -> str:
    lines = ["usage: patchsmith COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "Run `patchsmith COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_top_level_help())
        return 0 if argv else 2
    if argv[0] == "--version":
        from patchsmith import __version__

        print(f"patchsmith {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"patchsmith: unknown command {name!r}; run `patchsmith --help` for the list.", file=sys.stderr)
        return 2
    module = importlib.import_module(f"patchsmith.commands.{COMMANDS[name][0]}")
    parser = argparse.ArgumentParser(prog=f"patchsmith {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("patchsmith: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`patchsmith show ... | head`): what it wanted it has; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - only errors marked as the user's are turned into a sentence
        if getattr(exc, "user_error", False):
            print(f"patchsmith: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
