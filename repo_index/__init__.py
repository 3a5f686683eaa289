"""repo_index: tree-sitter index of a repository (leaf: imports nothing of ours)."""

from patchsmith.repo_index.build import build_index, read_text
from patchsmith.repo_index.model import Definition, FileEntry, RepoIndex, RepoIndexError, SearchHit
from patchsmith.repo_index.search import search, search_definitions, search_files
from patchsmith.repo_index.prompt import definition_source, estimate_tokens, file_skeleton, find_definitions, line_snippets, tree_view
from patchsmith.repo_index.settings import IndexSettings

__all__ = [
    "Definition",
    "FileEntry",
    "IndexSettings",
    "RepoIndex",
    "RepoIndexError",
    "SearchHit",
    "build_index",
    "definition_source",
    "estimate_tokens",
    "file_skeleton",
    "find_definitions",
    "line_snippets",
    "read_text",
    "search",
    "search_definitions",
    "search_files",
    "tree_view",
]
