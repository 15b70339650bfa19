"""The cross-encoder k-NN index: exact scores of anchor queries against every document (R), plus anchor items.

Stored as a versioned index directory (``indexes/cur/vNNNNNN/``): ``rows.npy`` (anchor queries x documents,
float32), ``doc_ids.json`` (column order), ``anchor_queries.json``, ``anchor_items.json`` (item anchor sets by
selection method and size), ``vectors-dense.npy`` (the documents' dense vectors in column order, when the store has
a dense index), ``vectors-cross.npy`` (the cross-encoder's own document-side vectors, one forward pass per document;
see CrossEncoder.segment_vectors; from the distilled copy when there is one), ``student.pt`` (that copy's trained
layers, rerank/distill.py; a second copy trained on other queries adds ``student-second.pt`` and
``vectors-cross-second.npy``) and ``params.json`` with the offline cost (cross-encoder calls = anchor queries x
documents, wall seconds). New documents extend R by being scored against the anchor queries only (k_q calls each);
deleted documents drop their column. Nothing here is needed by the other search modes.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from jiansuo.rerank.cur import adaptive_cur, scaled_query_rows, single_round_cur, with_item_vectors

ANCHOR_SIZES = (10, 20, 25, 40, 50, 100, 150, 200, 250, 500)

STUDENT = "student.pt"
# each distilled copy's layers, by the document vector set it reads: the second copy (trained on other further queries)
# only adds its query similarities to the first's (ce_knn.query_row)
STUDENTS = {"cross": STUDENT, "cross-second": "student-second.pt"}
Scorer = Callable[[str, list[str]], np.ndarray]  # (query, texts) -> exact cross-encoder scores


def kmeans_anchors(vectors: np.ndarray, count: int, seed: int = 0, iterations: int = 15) -> np.ndarray:
    """The item nearest each of `count` k-means centres (k-means++ start, Lloyd steps) on unit vectors."""
    count = min(count, len(vectors))
    rng = np.random.default_rng(seed)
    seeds = [vectors[rng.integers(len(vectors))]]
    nearest = 1 - vectors @ seeds[0]
    for _ in range(count - 1):
        weights = np.clip(nearest, 0, None) ** 2
        pick = rng.choice(len(vectors), p=weights / weights.sum()) if weights.sum() > 0 else rng.integers(len(vectors))
        seeds.append(vectors[pick])
        nearest = np.minimum(nearest, 1 - vectors @ vectors[pick])
    centres = np.stack(seeds)
    for _ in range(iterations):
        assign = np.argmax(vectors @ centres.T, axis=1)
        for c in range(count):
            members = vectors[assign == c]
            if len(members):
                mean = members.mean(0)
                centres[c] = mean / (np.linalg.norm(mean) or 1.0)
    similarity = vectors @ centres.T
    chosen: dict[int, None] = {}
    for c in range(count):  # nearest not-yet-chosen item to each centre
        chosen[next(int(i) for i in np.argsort(-similarity[:, c]) if int(i) not in chosen)] = None
    return np.array(list(chosen), dtype=np.int64)


def random_anchors(n_items: int, count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n_items)[: min(count, n_items)].astype(np.int64)


def item_anchor_sets(n_items: int, vectors: np.ndarray | None, seed: int = 0) -> dict[str, dict[str, list[int]]]:
    sets: dict[str, dict[str, list[int]]] = {"random": {}, "kmeans": {}}
    for size in ANCHOR_SIZES:
        sets["random"][str(size)] = random_anchors(n_items, size, seed).tolist()
        if vectors is not None and len(vectors) == n_items:
            sets["kmeans"][str(size)] = kmeans_anchors(vectors, size, seed).tolist()
    if not sets["kmeans"]:
        del sets["kmeans"]
    return sets


def score_rows(scorer: Scorer, queries: Sequence[str], texts: Sequence[str],
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    rows = np.zeros((len(queries), len(texts)), dtype=np.float32)
    for i, query in enumerate(queries):
        rows[i] = scorer(query, list(texts))
        if progress:
            progress(i + 1, len(queries))
    return rows


class CurIndex:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.rows = np.load(self.folder / "rows.npy")
        self.doc_ids: list[str] = json.loads((self.folder / "doc_ids.json").read_text(encoding="utf-8"))
        self.anchor_queries: list[str] = json.loads((self.folder / "anchor_queries.json").read_text(encoding="utf-8"))
        self.anchor_items: dict[str, dict[str, list[int]]] = json.loads(
            (self.folder / "anchor_items.json").read_text(encoding="utf-8"))
        self.params: dict = json.loads((self.folder / "params.json").read_text(encoding="utf-8"))
        self.column = {doc_id: i for i, doc_id in enumerate(self.doc_ids)}
        self.vectors = {path.stem.removeprefix("vectors-"): np.load(path) for path in self.folder.glob("vectors-*.npy")}
        self._features: dict[tuple, np.ndarray] = {}
        self.spread = float(self.rows.std())  # scales each query's own rows (cur.scaled_query_rows)
        self.student_paths = {name: self.folder / file for name, file in STUDENTS.items()
                              if (self.folder / file).exists()}
        self.students: dict[str, object] = {}  # the distilled models behind vectors-cross*.npy, once ce_knn loads them

    @staticmethod
    def write(folder: Path, rows: np.ndarray, doc_ids: list[str], anchor_queries: list[str],
              anchor_items: dict[str, dict[str, list[int]]], vectors: Mapping[str, np.ndarray | None] | None = None
              ) -> None:
        np.save(folder / "rows.npy", rows.astype(np.float32))
        for name, values in (vectors or {}).items():
            if values is not None and len(values) == len(doc_ids):
                np.save(folder / f"vectors-{name}.npy", values.astype(np.float32))
        (folder / "doc_ids.json").write_text(json.dumps(doc_ids, ensure_ascii=False), encoding="utf-8")
        (folder / "anchor_queries.json").write_text(json.dumps(anchor_queries, ensure_ascii=False), encoding="utf-8")
        (folder / "anchor_items.json").write_text(json.dumps(anchor_items), encoding="utf-8")

    def extended(self, folder: Path, scorer: Scorer, keep: set[str], new_ids: list[str], new_texts: list[str],
                 new_vectors: dict[str, np.ndarray | None]) -> dict:
        """A new version: columns of documents no longer in `keep` dropped, `new_ids` scored and appended, and so
        for each stored vector set (`new_vectors`: the new documents' vectors by set; a set without them is
        dropped rather than left misaligned)."""
        started = time.perf_counter()
        kept = [i for i, doc_id in enumerate(self.doc_ids) if doc_id in keep]
        doc_ids = [self.doc_ids[i] for i in kept] + new_ids
        rows = np.concatenate([self.rows[:, kept], score_rows(scorer, self.anchor_queries, new_texts)], axis=1)
        vectors = {name: np.concatenate([stored[kept], new_vectors[name]])
                   for name, stored in self.vectors.items() if new_vectors.get(name) is not None}
        self.write(folder, rows, doc_ids, self.anchor_queries, self._remapped_anchor_sets(doc_ids), vectors)
        for path in self.student_paths.values():
            _link_or_copy(path, folder / path.name)
        calls = len(self.anchor_queries) * len(new_ids)
        return {**self.params, "documents": len(doc_ids),
                "build_calls": self.params.get("build_calls", 0) + calls,
                "last_update": {"added": len(new_ids), "dropped": len(self.doc_ids) - len(kept), "calls": calls,
                                "seconds": round(time.perf_counter() - started, 1)}}

    def _remapped_anchor_sets(self, doc_ids: list[str]) -> dict[str, dict[str, list[int]]]:
        """The stored anchor item sets in the new column order: deleted anchors replaced by random other columns.
        (Re-running k-means for every size on each update would cost minutes at 100k documents.)"""
        column = {doc_id: i for i, doc_id in enumerate(doc_ids)}
        spare = np.random.default_rng(len(doc_ids)).permutation(len(doc_ids)).tolist()
        sets: dict[str, dict[str, list[int]]] = {}
        for method, by_size in self.anchor_items.items():
            sets[method] = {}
            for size, items in by_size.items():
                kept = [column[self.doc_ids[i]] for i in items if self.doc_ids[i] in column]
                chosen = set(kept)
                refill = (i for i in spare if i not in chosen)
                sets[method][size] = kept + [next(refill) for _ in range(min(len(items), len(doc_ids)) - len(kept))]
        return sets

    def anchors(self, method: str, count: int) -> np.ndarray:
        """`count` anchor items: the smallest stored set of `method` that is large enough, cut to `count`."""
        sets = self.anchor_items.get(method) or self.anchor_items["random"]
        sizes = sorted(int(s) for s in sets)
        size = min([s for s in sizes if s >= count], default=sizes[-1])
        return np.array(sets[str(size)][:count], dtype=np.int64)

    def features(self, weights: dict[str, float] | None) -> np.ndarray:
        """What the CUR algebra approximates with: R, over the stored vector sets given a weight
        (cur.with_item_vectors); R alone when none is."""
        key = tuple(sorted((name, w) for name, w in (weights or {}).items() if w and name in self.vectors))
        if not key:
            return self.rows
        if key not in self._features:
            self._features[key] = with_item_vectors(self.rows, [(self.vectors[name], w) for name, w in key])
        return self._features[key]

    def search(self, score_items: Callable[[np.ndarray], np.ndarray], budget: int, k: int,
               method: str = "adaptive", anchor_method: str = "kmeans", anchor_share: float = 0.5,
               rounds: int = 5, allowed: np.ndarray | None = None, seeds: Sequence[int] = (),
               vector_weights: dict[str, float] | None = None, query_rows: np.ndarray | None = None,
               query_row_weight: float = 1.0, round_prior: str = "", retrieval: np.ndarray | None = None,
               model_weight: float = 1.0) -> tuple[np.ndarray, dict[int, float]]:
        """Top-k columns for one query with at most `budget` exact cross-encoder calls (`score_items`).

        `seeds`: columns a cheap retriever ranks first for this query; with anchor_method "retriever" they are
        the first anchor items (topped up from k-means), as in ADACUR's retriever-initialised variant.
        `vector_weights`: approximate over R stacked with these stored vector sets (see features).
        `query_rows`: this query's own rows over every column (e.g. its cross-vector similarities), fitted with
        the others at `query_row_weight` (cur.cur_scores). `round_prior`: how each adaptive round also follows
        the first query row's own ranking: "blend" (picks by both, summed) or "alternate" (their picks in turn).
        `retrieval`, `model_weight`: rounds pick by the estimated served score (cur.adaptive_cur)."""
        if round_prior not in ("", "blend", "alternate"):
            raise ValueError(f"round_prior is '', 'blend' or 'alternate', not {round_prior!r}")
        prior = None
        if query_rows is not None:
            query_rows = np.atleast_2d(query_rows)
            prior = query_rows[0] if round_prior else None
            query_rows = scaled_query_rows(self.spread, query_rows, query_row_weight) if query_row_weight else None
        budget = max(1, min(budget, len(self.doc_ids)))
        count = max(1, budget // rounds) if method == "adaptive" else max(1, int(budget * anchor_share))
        if anchor_method == "retriever":
            picked = list(dict.fromkeys(int(i) for i in seeds))[:count]
            first = np.array(list(dict.fromkeys(picked + self.anchors("kmeans", count).tolist()))[:count])
        else:
            first = self.anchors(anchor_method, count)
        if method == "adaptive":
            return adaptive_cur(score_items, self.features(vector_weights), first, budget, rounds - 1, k, allowed,
                                query_rows, prior, round_prior == "blend", retrieval, model_weight)
        return single_round_cur(score_items, self.features(vector_weights), first, budget, k, allowed, query_rows)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)

