"""CUR approximation of cross-encoder scores (ANNCUR: Yadav et al., EMNLP 2022) and its adaptive form
(ADACUR: Yadav et al., Findings of EMNLP 2023). Pure algebra over arrays.

Offline: R (anchor queries x all items) holds exact cross-encoder scores. At query time the query is scored
exactly against the anchor items A only, giving the row c; the approximate scores of every item are
    s ~= c . pinv(R[:, A]) . R
because a query whose score row lies in the row space of R is reproduced exactly (tests check this on
low-rank matrices). The adaptive form spends the budget in rounds: each round scores the best-looking
unscored items exactly, adds them to A, and recomputes the approximation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def cur_scores(anchor_scores: np.ndarray, rows: np.ndarray, anchor_items: np.ndarray,
               rcond: float = 1e-6) -> np.ndarray:
    """Approximate scores of every item: c . pinv(R[:, A]) . R (c: exact scores of the query on A)."""
    weights = np.linalg.pinv(rows[:, anchor_items], rcond=rcond)  # |A| x k_q
    return anchor_scores @ weights @ rows


def adaptive_cur(score: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, first_anchors: np.ndarray,
                 budget: int, rounds: int = 5, k: int = 10) -> tuple[np.ndarray, dict[int, float]]:
    """Spend `budget` exact scores: `first_anchors` first, then equal shares over `rounds`, each on the top
    unscored items of the current approximation. Returns the k best items (exact scores win, approximation
    ranks the rest) and every exact score taken."""
    anchors = list(dict.fromkeys(int(i) for i in first_anchors))[:budget]
    exact = dict(zip(anchors, score(np.array(anchors)).tolist(), strict=True))
    remaining = budget - len(exact)
    per_round = max(1, remaining // max(1, rounds))
    approx = cur_scores(np.array([exact[i] for i in anchors]), rows, np.array(anchors))
    while remaining > 0:
        order = [int(i) for i in np.argsort(-approx) if int(i) not in exact][: min(per_round, remaining)]
        if not order:
            break
        exact.update(zip(order, score(np.array(order)).tolist(), strict=True))
        remaining -= len(order)
        anchors = list(exact)
        approx = cur_scores(np.array([exact[i] for i in anchors]), rows, np.array(anchors))
    ranking = sorted(range(len(approx)), key=lambda i: (i not in exact, -(exact.get(i, approx[i]))))
    return np.array(ranking[:k]), exact
