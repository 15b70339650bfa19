"""BM25 as tantivy scores it, split into a document side and a query side, for engines that only add up products.

Terms here are whatever strings the caller indexes (the Milvus backend passes its encoded terms).
A sparse vector per document holds, for each (field, term), BM25's term-frequency part
`tf (k1 + 1) / (tf + k1 (1 - b + b dl / avgdl))`; a query's sparse vector holds each (field, term)'s
`boost idf`, with `idf = ln(1 + (N - df + 0.5) / (df + 0.5))`. Their inner product is the boosted sum of per-field
BM25 scores that tantivy's boolean query of term queries computes, to float precision: `dl` is rounded down to one
of the 256 one-byte field norms tantivy stores (Lucene's SmallFloat table), `avgdl` is the field's exact mean
length, k1 = 1.2, b = 0.75.

The one difference: the document side is fixed when a document is written, so `avgdl` is the one of the last
rebuild; the caller rebuilds when the live mean has moved too far from it (`stale`).
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections import Counter
from collections.abc import Mapping

K1, B = 1.2, 0.75
STALE = 0.05  # relative change of a field's mean length that calls for re-weighting every document


def _field_norm(code: int) -> int:
    """The length one field-norm byte stands for (exact below 24, then 3 significant bits)."""
    if code < 24:
        return code
    bits, shift = (code - 24) & 7, ((code - 24) >> 3) - 1
    return 24 + (bits if shift < 0 else (bits | 8) << shift)


FIELD_NORMS = tuple(_field_norm(code) for code in range(256))


def stored_length(length: int) -> int:
    """The length tantivy scores a field with: the largest field norm not above the true length."""
    return FIELD_NORMS[bisect.bisect_right(FIELD_NORMS, length) - 1]


EMPTY = 2**32 - 2  # the one dimension of a document without terms (Milvus refuses an empty sparse vector)


def term_dimension(field: str, term: str) -> int:
    """The sparse-vector dimension of `term` in `field`: 32 bits of a hash (Milvus takes indices below 2^32 - 1)."""
    digest = hashlib.blake2b(f"{field}\x00{term}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") % EMPTY


def document_weights(fields: Mapping[str, list[str]], mean_length: Mapping[str, float]) -> dict[int, float]:
    """The document side: the term-frequency part of every (field, term) the document holds."""
    vector: dict[int, float] = {}
    for field, terms in fields.items():
        if not terms:
            continue
        mean = mean_length.get(field) or len(terms)
        norm = K1 * (1 - B + B * stored_length(len(terms)) / mean)
        for term, tf in Counter(terms).items():
            dim = term_dimension(field, term)
            vector[dim] = vector.get(dim, 0.0) + tf * (K1 + 1) / (tf + norm)
    return vector or {EMPTY: 1.0}


def idf(documents: int, frequency: int) -> float:
    return math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))


def query_weights(fields: Mapping[str, list[str]], frequency: Mapping[int, int], documents: int,
                  boosts: Mapping[str, float]) -> dict[int, float]:
    """The query side: `boost idf` per (field, term), `frequency` giving each dimension's document count; a word
    typed twice counts twice, as in tantivy's query."""
    vector: dict[int, float] = {}
    for field, terms in fields.items():
        for term in terms:
            dim = term_dimension(field, term)
            found = frequency.get(dim, 0)
            if found:
                vector[dim] = vector.get(dim, 0.0) + boosts.get(field, 1.0) * idf(documents, found)
    return vector


def held_dimensions(vector: Mapping[int, float]) -> set[int]:
    """The (field, term) dimensions a document's weights hold: what its document frequencies count."""
    return {dim for dim in vector if dim != EMPTY}


def stale(weighted: Mapping[str, float], live: Mapping[str, float]) -> bool:
    """Whether a field's live mean length has moved more than STALE from the one the documents were weighted with."""
    for field, mean in live.items():
        before = weighted.get(field, 0.0)
        if abs(mean - before) > STALE * max(before, 1e-9):
            return True
    return False
