"""repo_index: tree-sitter index of a repository (leaf: imports nothing of ours)."""

from repo_index.model import Definition, FileEntry, RepoIndex, RepoIndexError, SearchHit

__all__ = ["Definition", "FileEntry", "RepoIndex", "RepoIndexError", "SearchHit"]
