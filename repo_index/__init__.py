"""repo_index."""
