"""Preference ranking: order a list by how much each document resembles what a reader starred.

Two scorers over document vectors (dense document vectors where the store has them, TF-IDF keyword vectors
otherwise), pure numpy:
- centroid: cosine to the mean of the starred documents' vectors;
- classifier: a per-reader linear classifier (ridge regression to +1 for starred, -1 for other documents of the
  store), the way per-tag SVM recommenders rank papers; its decision value is the score.
`bench/preference.py` compares them with the relevance order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jiansuo.retrieve.backend import VectorBackend

PREFERENCE_METHODS = ("centroid", "classifier")


def centroid_scores(candidates: np.ndarray, starred: np.ndarray) -> np.ndarray:
    """Cosine of each candidate row to the (normalised) mean of the starred rows."""
    centre = starred.mean(axis=0)
    centre = centre / max(float(np.linalg.norm(centre)), 1e-12)
    return _normalised(candidates) @ centre


def classifier_scores(candidates: np.ndarray, starred: np.ndarray, others: np.ndarray,
                      l2: float = 1.0) -> np.ndarray:
    """Decision values of a ridge classifier trained on starred (+1) against `others` (-1), classes weighted
    equally (a few stars against many others)."""
    x = np.vstack([_normalised(starred), _normalised(others)])
    y = np.concatenate([np.ones(len(starred)), -np.ones(len(others))])
    weight = np.concatenate([np.full(len(starred), 0.5 / len(starred)), np.full(len(others), 0.5 / len(others))])
    x1 = np.hstack([x, np.ones((len(x), 1))])  # a bias column
    gram = (x1 * weight[:, None]).T @ x1 + l2 * 1e-2 * np.eye(x1.shape[1])
    w = np.linalg.solve(gram, (x1 * weight[:, None]).T @ y)
    return np.hstack([_normalised(candidates), np.ones((len(candidates), 1))]) @ w


def keyword_matrix(weights: list[dict[str, float]]) -> np.ndarray:
    """Sparse keyword weights -> dense rows over their joint vocabulary (small: a page plus the stars)."""
    vocabulary = {term: i for i, term in enumerate(sorted({t for row in weights for t in row}))}
    matrix = np.zeros((len(weights), max(1, len(vocabulary))), dtype=np.float32)
    for i, row in enumerate(weights):
        for term, value in row.items():
            matrix[i, vocabulary[term]] = value
    return matrix


def resemblance(doc_ids: list[str], starred: list[str], dense: VectorBackend | None, store, keywords_of: Callable,
                method: str = "classifier") -> np.ndarray:
    """How much each of `doc_ids` resembles the `starred` documents: e5 document vectors where `dense` (the
    store's dense index) holds the stars (`method`: the classifier against 200 sampled documents of the store,
    or the centroid), keyword TF-IDF vectors (`keywords_of(document, count)`) otherwise (centroid)."""
    if dense is not None and any(dense.contains(d) for d in starred):
        rows = document_vectors(dense, doc_ids)
        liked = document_vectors(dense, [d for d in starred if dense.contains(d)])
        if method == "classifier":
            rng, skip = np.random.default_rng(0), set(starred)
            every = dense.doc_ids()
            sample = [every[i] for i in rng.permutation(len(every))[:400] if every[i] not in skip][:200]
            return classifier_scores(rows, liked, document_vectors(dense, sample))
        return centroid_scores(rows, liked)
    documents = store.get_many(doc_ids + starred)

    def weights(doc_id: str) -> dict[str, float]:
        document = documents.get(doc_id)
        return {" ".join(k.terms): k.weight for k in keywords_of(document, 30)} if document else {}

    matrix = keyword_matrix([weights(d) for d in doc_ids] + [weights(d) for d in starred])
    return centroid_scores(matrix[: len(doc_ids)], matrix[len(doc_ids) :])


def document_vectors(dense: VectorBackend, doc_ids: list[str]) -> np.ndarray:
    """One vector per document: the mean of its passage vectors (zeros for a document the index lacks)."""
    rows = []
    for doc_id in doc_ids:
        vectors = dense.passage_vectors(doc_id) if dense.contains(doc_id) else np.zeros((1, dense.dim))
        rows.append(vectors.mean(axis=0) if len(vectors) else np.zeros(dense.dim))
    return np.array(rows, dtype=np.float32)


def _normalised(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)
