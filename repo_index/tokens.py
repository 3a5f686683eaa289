"""Token ids for retrieval, kept by git blob id, so that the index of another commit reuses the
tokens of every file it shares with this one."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from patchsmith.repo_index.query import IDENTIFIER, split_identifier, tokens

_TOKEN_CACHE_SIZE = 100_000  # files whose tokens are kept

# One vocabulary for every index this process builds, so token ids of a file can be kept by
# blob id and reused by the index of another commit. Id 0 is bm25s's empty token.
vocabulary: dict[str, int] = {"": 0}
_split_cache: dict[str, list[str]] = {}


@dataclass(frozen=True)
class FileTokens:
    ids: np.ndarray  # token ids of the whole file, in order
    line_starts: np.ndarray  # position in `ids` where line i (1-based) starts, at [i - 1]; one extra at the end


token_cache: OrderedDict[str, FileTokens] = OrderedDict()


def token_ids(text: str) -> list[int]:
    """Ids of `tokens(text)`, adding new tokens to the vocabulary."""
    ids = []
    for identifier in IDENTIFIER.findall(text):
        words = _split_cache.get(identifier)
        if words is None:
            words = [identifier.lower()] + [w for w in split_identifier(identifier) if len(w) > 1]
            if len(_split_cache) < 2_000_000:
                _split_cache[identifier] = words
        for word in words:
            token_id = vocabulary.get(word)
            if token_id is None:
                token_id = vocabulary[word] = len(vocabulary)
            ids.append(token_id)
    return ids


def tokens_of_file(blob_id: str, text: str) -> FileTokens:
    cached = token_cache.get(blob_id) if blob_id else None
    if cached is not None:
        token_cache.move_to_end(blob_id)
        return cached
    ids: list[int] = []
    starts = []
    for line in text.split("\n"):
        starts.append(len(ids))
        ids.extend(token_ids(line))
    starts.append(len(ids))
    result = FileTokens(np.asarray(ids, dtype=np.int32), np.asarray(starts, dtype=np.int64))
    if blob_id:
        token_cache[blob_id] = result
        if len(token_cache) > _TOKEN_CACHE_SIZE:
            token_cache.popitem(last=False)
    return result


def query_ids(query: str) -> list[int]:
    return [vocabulary[t] for t in tokens(query) if t in vocabulary]
