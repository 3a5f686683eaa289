"""patchsmith: fix GitHub issues in real Python repositories, Agentless-style."""

__version__ = "0.1.0"
