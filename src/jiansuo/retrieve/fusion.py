"""Fuse ranked lists (BM25, dense) into one. Pure functions from hits to hits.

- rrf: Reciprocal Rank Fusion, score = sum 1 / (k + rank) (Cormack et al., SIGIR 2009).
- weighted: sum of per-list min-max normalised scores times the list's weight.
- confidence_weighted (default): the 0.5/0.5 weighted sum, except that BM25's weight shrinks when its
  best hit contains under 10% of the query's terms (weight x coverage / 0.1). bench/fusion_tuning.py re-fuses the
  dev queries over a grid: on SciFact train .7359 at gates 0 and 0.1, .7352 at 0.25, .7336 at 0.5; weight 0.5 is
  the best on every dev set, and the grid's best point does not hold up on test (bench/results/fusion_tuning.md).
  A query whose words the corpus lacks (a Chinese query over English pages) then ranks by meaning alone instead of
  mixing in a list of accidental keyword matches; any query BM25 matches reasonably is fused as usual.
  A query written in a language that under half the store's documents are in (an English query over Chinese pages)
  gets BM25's full weight only when its best hit holds all of its information: coverage weighted by each term's
  IDF (so a common word such as "wizard" weighs little beside "agenda"), full_at = CROSS_LANGUAGE_FULL_AT; its
  keyword matches are mostly loanwords and untranslated pages. Chosen on dev (bench/fusion_coverage.py): it lifts
  the zh->en and en->zh dev halves and leaves every same-language query as it was.
"""

from __future__ import annotations

import math

from jiansuo.model import Hit

CROSS_LANGUAGE_FULL_AT = 1.0


def rrf(lists: list[list[Hit]], k: int = 60) -> list[Hit]:
    fused: dict[str, Hit] = {}
    for hits in lists:
        for rank, hit in enumerate(hits, start=1):
            entry = fused.setdefault(hit.doc_id, Hit(hit.doc_id, 0.0, {}))
            entry.score += 1.0 / (k + rank)
            entry.scores.update(hit.scores)
    return sorted(fused.values(), key=lambda h: -h.score)


def minmax(hits: list[Hit]) -> dict[str, float]:
    if not hits:
        return {}
    scores = [h.score for h in hits]
    low, high = min(scores), max(scores)
    span = high - low
    return {h.doc_id: (h.score - low) / span if span > 0 else 1.0 for h in hits}


def weighted(lists: list[list[Hit]], weights: list[float]) -> list[Hit]:
    fused: dict[str, Hit] = {}
    for hits, weight in zip(lists, weights, strict=True):
        for doc_id, value in minmax(hits).items():
            entry = fused.setdefault(doc_id, Hit(doc_id, 0.0, {}))
            entry.score += weight * value
        for hit in hits:
            fused[hit.doc_id].scores.update(hit.scores)
    return sorted(fused.values(), key=lambda h: -h.score)


def confidence_weighted(bm25: list[Hit], dense: list[Hit], coverage: float, bm25_weight: float = 0.5,
                        full_at: float = 0.1) -> list[Hit]:
    """`coverage` in [0, 1]: the share of the query's terms (or of their IDF) found in BM25's best hit."""
    weight = bm25_weight * min(1.0, coverage / full_at) if full_at > 0 else bm25_weight
    return weighted([bm25, dense], [weight, 1.0 - bm25_weight])


def idf_weights(document_frequencies: list[int], documents: int) -> list[float]:
    """BM25's inverse document frequency of each term: how much of the query's information a term carries."""
    return [math.log(1 + (documents - df + 0.5) / (df + 0.5)) for df in document_frequencies]


def weighted_share(found: list[bool], weights: list[float] | None = None) -> float:
    """The weight of the found items over the weight of all (each 1 when `weights` is None); 0 for none."""
    weights = weights if weights is not None else [1.0] * len(found)
    total = sum(weights)
    return sum(w for w, hit in zip(weights, found, strict=True) if hit) / total if total > 0 else 0.0
