"""CUR approximation of cross-encoder scores (ANNCUR: Yadav et al., EMNLP 2022) and its adaptive form
(ADACUR: Yadav et al., Findings of EMNLP 2023). Pure algebra over arrays.

Offline: R (anchor queries x all items) holds exact cross-encoder scores. At query time the query is scored
exactly against the anchor items A only, giving the row c; the approximate scores of every item are
    s ~= c . pinv(R[:, A]) . R
because a query whose score row lies in the row space of R is reproduced exactly (tests check this on
low-rank matrices). Single round: score A, approximate, spend the rest of the budget on the exact scores of
the approximation's top items. The adaptive form spends the budget in rounds: each round scores the
best-looking unscored items exactly, adds them to A, and recomputes the approximation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jiansuo.rerank.cross_encoder import blended


def cur_scores(anchor_scores: np.ndarray, rows: np.ndarray, anchor_items: np.ndarray,
               rcond: float = 1e-6, query_rows: np.ndarray | None = None) -> np.ndarray:
    """Approximate scores of every item: c . pinv(R[:, A]) . R (c: exact scores of the query on A).

    `query_rows` (m x items) are further rows for this query alone, fitted as if stacked under R (a per-query
    prior such as its similarity to every item: the fit scales it, and the anchor rows correct it)."""
    if query_rows is None or not len(query_rows):
        return anchor_scores @ np.linalg.pinv(rows[:, anchor_items], rcond=rcond) @ rows
    stacked = np.concatenate([rows[:, anchor_items], query_rows[:, anchor_items]])
    mix = anchor_scores @ np.linalg.pinv(stacked, rcond=rcond)  # one weight per row of R, then per query row
    return mix[: len(rows)] @ rows + mix[len(rows) :] @ query_rows


def scaled_query_rows(rows_spread: float, query_rows: np.ndarray, weight: float) -> np.ndarray:
    """Query rows centred and scaled to R's spread (`rows_spread`: R.std()) times `weight`, as with_item_vectors
    scales its blocks: the larger the weight, the more of the fit the query rows carry before the anchor rows."""
    centred = query_rows - query_rows.mean(1, keepdims=True)
    spread = centred.std(1, keepdims=True)
    return (weight * rows_spread * centred / np.where(spread > 0, spread, 1.0)).astype(np.float32)


def with_item_vectors(rows: np.ndarray, blocks: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """R with the items' vectors stacked under it as extra rows: each (vectors, weight) block centred, its
    entries scaled to R's spread times `weight`.

    With R alone a query's scores are approximated inside the span of k_q anchor rows, which a few dozen or
    hundred anchor queries cover poorly. Each vector dimension is a further "anchor query" whose scores cost
    nothing; the least-squares fit picks the mix of anchor rows and vector dimensions that matches the
    query's exact scores. Same idea as using dual-encoder item embeddings beside CUR item embeddings, as in
    Yadav et al., "Adaptive Retrieval and Scalable Indexing for k-NN Search with Cross-Encoders" (ICLR 2024)."""
    stacked = [rows]
    for vectors, weight in blocks:
        if weight:
            centred = (vectors - vectors.mean(0)).T
            stacked.append(weight * rows.std() / (centred.std() or 1.0) * centred)
    return np.concatenate(stacked).astype(np.float32)


def _ranking(approx: np.ndarray, exact: dict[int, float], allowed: np.ndarray | None, k: int) -> np.ndarray:
    """Exactly scored items first (by exact score), then the rest by approximation; disallowed items never."""
    keyed = approx.astype(np.float64).copy()
    if exact:
        items = np.fromiter(exact, dtype=np.int64)
        keyed[items] = np.fromiter(exact.values(), dtype=np.float64) + (np.abs(approx).max() + 1e6)
    if allowed is not None:
        keyed[~allowed] = -np.inf
    order = np.argsort(-keyed, kind="stable")[:k]
    return order[np.isfinite(keyed[order])]


def best_unscored(approx: np.ndarray, exact: dict[int, float], allowed: np.ndarray | None,
                  count: int) -> list[int]:
    """The `count` allowed items with the highest `approx` that are not in `exact`, best first."""
    keyed = approx.astype(np.float64).copy()
    if exact:
        keyed[np.fromiter(exact, dtype=np.int64)] = -np.inf
    if allowed is not None:
        keyed[~allowed] = -np.inf
    count = min(count, int(np.isfinite(keyed).sum()))
    if count <= 0:
        return []
    top = np.argpartition(-keyed, count - 1)[:count]
    return [int(i) for i in top[np.argsort(-keyed[top])]]


def single_round_cur(score: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, anchors: np.ndarray,
                     budget: int, k: int = 10, allowed: np.ndarray | None = None,
                     query_rows: np.ndarray | None = None) -> tuple[np.ndarray, dict[int, float]]:
    """ANNCUR: exact scores on `anchors`, CUR approximation of all, the rest of `budget` reranks its top."""
    anchors = np.array(list(dict.fromkeys(int(i) for i in anchors))[:budget], dtype=np.int64)
    exact = dict(zip(anchors.tolist(), score(anchors).tolist(), strict=True))
    approx = cur_scores(np.array([exact[i] for i in anchors.tolist()]), rows, anchors, query_rows=query_rows)
    rest = best_unscored(approx, exact, allowed, budget - len(exact))
    if rest:
        exact.update(zip(rest, score(np.array(rest)).tolist(), strict=True))
    return _ranking(approx, exact, allowed, k), exact


def adaptive_cur(score: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, first_anchors: np.ndarray,
                 budget: int, rounds: int = 5, k: int = 10, allowed: np.ndarray | None = None,
                 query_rows: np.ndarray | None = None, prior: np.ndarray | None = None, blend: bool = True,
                 retrieval: np.ndarray | None = None, model_weight: float = 1.0
                 ) -> tuple[np.ndarray, dict[int, float]]:
    """Spend `budget` exact scores: `first_anchors` first, then equal shares over `rounds`, each on the top
    unscored items of the current approximation. With a `prior` (a fixed ranking such as the query's vector
    similarities) a round picks by the approximation and the prior summed, each standardised (`blend`), or
    alternates their picks. With `retrieval` (every item's retrieval score) a round picks by the estimate of the
    served score instead: that pick key blended with `retrieval` at `model_weight`, as rerank blends exact scores
    (cross_encoder.blended). Returns the k best items (exact scores win, approximation ranks the rest) and every
    exact score taken."""
    anchors = list(dict.fromkeys(int(i) for i in first_anchors))[:budget]
    exact = dict(zip(anchors, score(np.array(anchors)).tolist(), strict=True))
    remaining = budget - len(exact)
    per_round = max(1, -(-remaining // max(1, rounds)))
    approx = cur_scores(np.array([exact[i] for i in anchors]), rows, np.array(anchors), query_rows=query_rows)
    prior_key = standardised(prior) if prior is not None and blend else None
    while remaining > 0:
        count = min(per_round, remaining)
        key = approx if prior_key is None else standardised(approx) + prior_key
        if retrieval is not None:
            key = blended(key, retrieval, model_weight)
        chosen = best_unscored(key, exact, allowed, count)
        if prior is not None and not blend:
            chosen = interleaved(chosen, best_unscored(prior, exact, allowed, count))[:count]
        if not chosen:
            break
        exact.update(zip(chosen, score(np.array(chosen)).tolist(), strict=True))
        remaining -= len(chosen)
        items = np.fromiter(exact, dtype=np.int64)
        approx = cur_scores(np.fromiter(exact.values(), dtype=np.float64), rows, items, query_rows=query_rows)
    return _ranking(approx, exact, allowed, k), exact


def interleaved(first: list[int], second: list[int]) -> list[int]:
    """first[0], second[0], first[1], second[1], ... without repeats."""
    merged = [item for pair in zip(first, second, strict=False) for item in pair]
    longer = first if len(first) > len(second) else second
    return list(dict.fromkeys(merged + longer[min(len(first), len(second)) :]))


def standardised(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() or 1.0)
