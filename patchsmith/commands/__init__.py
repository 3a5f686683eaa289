"""One module per `patchsmith` subcommand; see patchsmith.cli."""
