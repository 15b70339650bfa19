"""Hubness: measure it (k-occurrence skew, Robin Hood index) and reduce it at query time (CSLS).

In high dimensions a few points (hubs) appear in the k-NN lists of very many queries. N_k(x) counts
how often x is among the k nearest neighbours of the queries; its skewness (Radovanovic et al.,
JMLR 2010) and the Robin Hood index 0.5 * sum|N_k - mean| / sum N_k (Feldbauer et al., 2018) measure
how unequal that is. CSLS (Conneau et al., ICLR 2018) rescores cos(q, x) as 2 cos(q, x) - r(x), where
r(x) is the mean similarity of x to its K nearest neighbours in a bank of query-like vectors: points
that are close to everything pay for it.
"""

from __future__ import annotations

import numpy as np


def k_occurrence(similarity_topk: np.ndarray, n_items: int) -> np.ndarray:
    """N_k for every item, from an array of the k nearest item indices of each query (queries x k)."""
    return np.bincount(similarity_topk.ravel(), minlength=n_items)


def skewness(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    centred = values - values.mean()
    spread = centred.std()
    return float((centred**3).mean() / spread**3) if spread > 0 else 0.0


def robin_hood(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    total = values.sum()
    return float(0.5 * np.abs(values - values.mean()).sum() / total) if total > 0 else 0.0


def top_k(queries: np.ndarray, items: np.ndarray, k: int, chunk: int = 1024,
          penalty: np.ndarray | None = None) -> np.ndarray:
    """Indices of the k highest-scoring items per query (scores = dot product, CSLS if `penalty`)."""
    out = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        scores = queries[start : start + chunk] @ items.T
        if penalty is not None:
            scores = 2 * scores - penalty
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(scores, part, axis=1).argsort(axis=1)[:, ::-1]
        out[start : start + chunk] = np.take_along_axis(part, order, axis=1)
    return out


def csls_penalty(items: np.ndarray, bank: np.ndarray, k: int = 10, chunk: int = 2048) -> np.ndarray:
    """r(x): mean similarity of each item to its k most similar bank vectors."""
    penalty = np.zeros(len(items), dtype=np.float32)
    k = min(k, len(bank))
    for start in range(0, len(items), chunk):
        scores = items[start : start + chunk] @ bank.T
        best = np.partition(scores, len(bank) - k, axis=1)[:, -k:]
        penalty[start : start + chunk] = best.mean(axis=1)
    return penalty


def report(queries: np.ndarray, items: np.ndarray, k: int = 10, penalty: np.ndarray | None = None) -> dict:
    """Skewness and Robin Hood index of N_k, and the worst hubs (item index, N_k)."""
    counts = k_occurrence(top_k(queries, items, k, penalty=penalty), len(items))
    worst = np.argsort(-counts)[:10]
    return {"k": k, "skewness": skewness(counts), "robin_hood": robin_hood(counts),
            "hubs": [(int(i), int(counts[i])) for i in worst], "never_retrieved": float((counts == 0).mean())}


def document_vectors(dense) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(ids, unit mean passage vector per document, mean CSLS penalty per document) of a DenseIndex."""
    alive = [(i, d["id"]) for i, d in enumerate(dense.docs) if d]
    dim = dense.vectors.shape[1]
    sums = np.zeros((len(dense.docs), dim), dtype=np.float32)
    counts = np.zeros(len(dense.docs), dtype=np.float32)
    penalties = np.zeros(len(dense.docs), dtype=np.float32)
    live = dense.passage_doc >= 0
    np.add.at(sums, dense.passage_doc[live], np.asarray(dense.vectors)[live])
    np.add.at(counts, dense.passage_doc[live], 1)
    if dense.hub_penalty is not None:
        np.add.at(penalties, dense.passage_doc[live], dense.hub_penalty[live])
    rows = [i for i, _ in alive]
    vectors = sums[rows] / np.maximum(np.linalg.norm(sums[rows], axis=1, keepdims=True), 1e-12)
    return [doc_id for _, doc_id in alive], vectors, penalties[rows] / np.maximum(counts[rows], 1)


def document_hubness(dense, k: int = 10) -> dict:
    """Hubness of the documents among themselves (each document queries all others), before/after CSLS."""
    ids, vectors, penalty = document_vectors(dense)
    out: dict = {"documents": len(ids), "k": k}
    for name, pen in (("plain", None), ("csls", penalty)):
        neighbours = top_k(vectors, vectors, min(k + 1, len(ids)), penalty=pen)
        rows = [row[row != i][:k] for i, row in enumerate(neighbours)]
        counts = np.bincount(np.concatenate(rows), minlength=len(ids)) if rows else np.zeros(0)
        worst = np.argsort(-counts)[:10]
        out[name] = {"skewness": skewness(counts), "robin_hood": robin_hood(counts),
                     "never_retrieved": float((counts == 0).mean()) if len(counts) else 0.0,
                     "hubs": [(ids[i], int(counts[i])) for i in worst]}
    return out
