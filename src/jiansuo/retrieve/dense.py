"""Dense (bi-encoder) retrieval over passages, exact below a size threshold and HNSW above it.

A version folder holds: vectors.npy (passages x dim, unit length), passage_doc.npy (document ordinal
of each passage, -1 once dead), passage_span.npy (character span in passage_source(document)),
docs.json (per document ordinal: id, day, categories, venue, tags, popularity; null once deleted),
hub_penalty.npy (optional, see hubness.py), hnsw.bin (above the threshold) and params.json.
Updates append passages and kill old ones, written to a new version that is then swapped in.
Filters (date, category union/difference, venue, tag) are applied inside the search: masked scores
for exact search, hnswlib's filter callback for HNSW.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from jiansuo.analysis.passages import split_passages
from jiansuo.model import Document, Hit, SearchRequest
from jiansuo.retrieve.query import category_expression
from jiansuo.store.documents import Change
from jiansuo.store.index_dirs import IndexDirs

EXACT_MAX_PASSAGES = 50_000
STALE_SHARE = 0.25  # an updated HNSW graph is rebuilt whole once this share of it is deleted passages
Embed = Callable[[list[str]], np.ndarray]


def doc_record(document: Document) -> dict:
    return {"id": document.id, "day": document.date.toordinal() if document.date else 0,
            "categories": [c.casefold() for c in document.categories], "venue": document.venue.casefold(),
            "tags": [t.casefold() for t in document.tags], "popularity": document.reads + document.stars}


# Cosine below which a passage is not listed when no document matches the query's words (hybrid mode): the
# 95th percentile of the best match unrelated queries find, the highest candidate that kept the zh->en dev half
# within .005 nDCG@10 (bench/meaning_cutoff.py chooses and checks it; bench/results/meaning_cutoff.md).
# e5-onnx (int8 with fp32 feed-forward outputs): its own calibration, the 99th percentile (.0034 on dev).
# Keyed by encoder, "+centering" where the index is centered. Centered cosines are much lower, and the only
# candidate that kept the dev half within .005 was the 50th percentile (bench/results/meaning_cutoff_centered.md);
# with the cross-lingual rotation (centering version 2) the 50th again (bench/results/meaning_cutoff_rotated.md).
MEANING_CUTOFFS: dict[str, float] = {"e5": 0.8322, "e5-onnx": 0.8433, "e5-onnx+e5-reference-v1": 0.2591,
                                     "e5-onnx+e5-reference-v2": 0.2647}


def meaning_cutoff_of(dense) -> float | None:
    """The calibrated cut-off of a vector backend's encoder and centering, None where none was calibrated."""
    key = f"{dense.encoder_name}+{dense.centering}" if dense.centering else dense.encoder_name
    return MEANING_CUTOFFS.get(key)


class DenseIndex:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.params = IndexDirs.read_params(self.folder)
        self.vectors = np.load(self.folder / "vectors.npy", mmap_mode="r")
        self.passage_doc = np.load(self.folder / "passage_doc.npy")
        self.passage_span = np.load(self.folder / "passage_span.npy")
        self.docs: list[dict | None] = json.loads((self.folder / "docs.json").read_text(encoding="utf-8"))
        penalty = self.folder / "hub_penalty.npy"
        self.hub_penalty = np.load(penalty) if penalty.exists() else None
        self.ordinal = {d["id"]: i for i, d in enumerate(self.docs) if d}
        self.day = np.array([d["day"] if d else 0 for d in self.docs], dtype=np.int64)
        self.popularity = np.array([d["popularity"] if d else 0 for d in self.docs], dtype=np.int64)
        self.alive = np.array([d is not None for d in self.docs], dtype=bool)
        self._labels = _label_index(self.docs)  # (field, value) -> document ordinals, built once
        self._hnsw = None
        self._live_passages = int((self.passage_doc >= 0).sum())
        if (self.folder / "hnsw.bin").exists():
            import hnswlib

            self._hnsw = hnswlib.Index(space="ip", dim=self.vectors.shape[1])
            self._hnsw.load_index(str(self.folder / "hnsw.bin"), max_elements=len(self.vectors))
            self._hnsw.set_ef(200)

    @property
    def indexed_seq(self) -> int:
        return int(self.params.get("store_seq", 0))

    @property
    def encoder_name(self) -> str:
        return self.params["encoder"]

    @property
    def centering(self) -> str | None:
        return self.params.get("centering")

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def num_docs(self) -> int:
        return len(self.ordinal)

    def num_passages(self) -> int:
        return self._live_passages

    def contains(self, doc_id: str) -> bool:
        return doc_id in self.ordinal

    def doc_ids(self) -> list[str]:
        return list(self.ordinal)

    def document_vectors(self, doc_ids: list[str]) -> np.ndarray:
        """One unit vector per document: the normalised mean of its passages (zeros when it has none)."""
        alive = np.flatnonzero(self.passage_doc >= 0)
        sums = np.zeros((len(self.docs), self.vectors.shape[1]), dtype=np.float64)
        np.add.at(sums, self.passage_doc[alive], np.asarray(self.vectors[alive], dtype=np.float64))
        rows = np.array([self.ordinal.get(d, -1) for d in doc_ids], dtype=np.int64)
        out = np.where(rows[:, None] >= 0, sums[np.maximum(rows, 0)], 0.0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    # -- building ----------------------------------------------------------------------------
    @staticmethod
    def write(folder: Path, vectors: np.ndarray, passage_doc: np.ndarray, passage_span: np.ndarray,
              docs: list[dict | None], hub_penalty: np.ndarray | None = None, hnsw=None) -> None:
        """Save a version; above EXACT_MAX_PASSAGES live passages, with an HNSW graph: `hnsw` (an updated one) or
        built from the live passages."""
        np.save(folder / "vectors.npy", vectors.astype(np.float32))
        np.save(folder / "passage_doc.npy", passage_doc.astype(np.int32))
        np.save(folder / "passage_span.npy", passage_span.astype(np.int32))
        if hub_penalty is not None:
            np.save(folder / "hub_penalty.npy", hub_penalty.astype(np.float32))
        (folder / "docs.json").write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
        alive = np.flatnonzero(passage_doc >= 0)
        if hnsw is not None:
            hnsw.save_index(str(folder / "hnsw.bin"))
        elif len(alive) > EXACT_MAX_PASSAGES:
            import hnswlib

            index = hnswlib.Index(space="ip", dim=vectors.shape[1])
            index.init_index(max_elements=len(vectors), ef_construction=200, M=16)
            index.add_items(vectors[alive], alive)
            index.save_index(str(folder / "hnsw.bin"))

    @classmethod
    def build(cls, folder: Path, documents: Iterable[Document], embed: Embed,
              progress: Callable[[int], None] | None = None) -> None:
        vectors: list[np.ndarray] = []
        passage_doc: list[int] = []
        spans: list[tuple[int, int]] = []
        docs: list[dict | None] = []
        for batch in batches(documents, 256):
            texts = []
            for document in batch:
                passages = split_passages(document)
                ordinal = len(docs)
                docs.append(doc_record(document))
                texts += [p.text for p in passages]
                passage_doc += [ordinal] * len(passages)
                spans += [(p.start, p.end) for p in passages]
            if texts:
                vectors.append(embed(texts))
            if progress:
                progress(len(batch))
        dim = vectors[0].shape[1] if vectors else 384
        matrix = np.vstack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
        cls.write(folder, matrix, np.array(passage_doc, dtype=np.int32),
                  np.array(spans, dtype=np.int32).reshape(-1, 2), docs, None)

    def updated(self, folder: Path, changes: list[Change], embed: Embed,
                progress: Callable[[int], None] | None = None) -> None:
        """Write this index plus `changes` into the empty version `folder` (old passages killed)."""
        passage_doc = self.passage_doc.copy()
        docs = list(self.docs)
        new_vectors, new_doc, new_spans = [], [], []
        for change in changes:
            old = self.ordinal.get(change.doc_id)
            if old is not None:
                passage_doc[passage_doc == old] = -1
                docs[old] = None
            if change.document is not None:
                passages = split_passages(change.document)
                ordinal = len(docs)
                docs.append(doc_record(change.document))
                if passages:
                    new_vectors.append(embed([p.text for p in passages]))
                    new_doc += [ordinal] * len(passages)
                    new_spans += [(p.start, p.end) for p in passages]
            if progress:
                progress(1)
        vectors = np.asarray(self.vectors)
        if new_vectors:
            vectors = np.vstack([vectors, *new_vectors])
            passage_doc = np.concatenate([passage_doc, np.array(new_doc, dtype=np.int32)])
            spans = np.vstack([self.passage_span, np.array(new_spans, dtype=np.int32).reshape(-1, 2)])
        else:
            spans = self.passage_span
        penalty = None
        if self.hub_penalty is not None:  # new passages get the median penalty until the next rebuild
            fill = float(np.median(self.hub_penalty)) if len(self.hub_penalty) else 0.0
            penalty = np.concatenate([self.hub_penalty, np.full(len(vectors) - len(self.hub_penalty), fill)])
        self.write(folder, vectors, passage_doc, spans, docs, penalty, self._hnsw_updated(passage_doc, vectors))

    def _hnsw_updated(self, passage_doc: np.ndarray, vectors: np.ndarray):
        """This version's HNSW graph with the passages an update killed marked deleted and its new passages
        inserted (the new passages' share of a whole build; bench/dense_update.py), or None where write builds
        one whole: no graph yet, or a quarter of it would be deleted passages, which still cost search time."""
        if self._hnsw is None or (passage_doc >= 0).sum() <= EXACT_MAX_PASSAGES:
            return None
        import hnswlib

        first_new = len(self.passage_doc)
        graph = hnswlib.Index(space="ip", dim=vectors.shape[1])
        graph.load_index(str(self.folder / "hnsw.bin"), max_elements=len(vectors))
        labels = np.array(graph.get_ids_list(), dtype=np.int64)
        if (passage_doc[labels] < 0).sum() > STALE_SHARE * (len(labels) + len(vectors) - first_new):
            return None
        for label in np.flatnonzero((self.passage_doc >= 0) & (passage_doc[:first_new] < 0)):
            graph.mark_deleted(int(label))
        if len(vectors) > first_new:
            graph.add_items(np.asarray(vectors[first_new:]), np.arange(first_new, len(vectors)))
        return graph

    # -- searching ---------------------------------------------------------------------------
    def search(self, query: np.ndarray, request: SearchRequest, k: int = 100,
               known_categories: set[str] | None = None, hubness: bool = False) -> list[Hit]:
        """Top-k documents by their best passage (MaxP), filters applied inside the search."""
        allowed = self.allowed_docs(request, known_categories)
        depth = min(len(self.vectors), max(k * 4, 50))
        if depth == 0:
            return []
        found = self._knn_hnsw(query, depth, allowed) if self._hnsw is not None and not hubness else None
        if found is not None:
            labels, scores = found
        else:
            scores_all = np.asarray(self.vectors) @ query.astype(np.float32)
            if hubness and self.hub_penalty is not None:
                scores_all = 2 * scores_all - self.hub_penalty  # CSLS, see hubness.py
            dead = self.passage_doc < 0
            if allowed is not None:
                dead = dead | ~allowed[np.maximum(self.passage_doc, 0)]
            scores_all = np.where(dead, -np.inf, scores_all)
            labels = np.argpartition(-scores_all, depth - 1)[:depth]
            labels = labels[np.argsort(-scores_all[labels])]
            scores = scores_all[labels]
        hits: list[Hit] = []
        seen: set[int] = set()
        for label, score in zip(labels, scores, strict=True):
            ordinal = int(self.passage_doc[label])
            if ordinal < 0 or ordinal in seen or not np.isfinite(score):
                continue
            seen.add(ordinal)
            start, end = self.passage_span[label]
            hits.append(Hit(self._doc_id(ordinal), float(score),
                            {"dense": float(score), "passage_start": int(start), "passage_end": int(end)}))
            if len(hits) == k:
                break
        return hits

    def _knn_hnsw(self, query: np.ndarray, depth: int, allowed: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray] | None:
        """(labels, scores) from the HNSW graph, or None where the exact scan must answer: hnswlib raises when it
        finds fewer than `depth` eligible passages, which a selective filter can cause."""
        passage_doc = self.passage_doc
        eligible = self._live_passages  # the graph also holds passages deleted by updates (marked, never returned)
        if allowed is None:
            keep = None
        else:
            eligible = int(((passage_doc >= 0) & allowed[np.maximum(passage_doc, 0)]).sum())

            def keep(label: int) -> bool:
                ordinal = passage_doc[label]
                return ordinal >= 0 and bool(allowed[ordinal])
        depth = min(depth, eligible)
        if depth == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        assert self._hnsw is not None  # only called when the version has a graph
        try:
            labels, distances = self._hnsw.knn_query(query.reshape(1, -1), k=depth, filter=keep)
        except RuntimeError:
            return None
        return labels[0], 1.0 - distances[0]

    def allowed_docs(self, request: SearchRequest, known_categories: set[str] | None) -> np.ndarray | None:
        """Boolean mask over document ordinals, or None when the request has no filter."""
        if not (request.date_from or request.date_to or request.categories or request.venue or request.tag):
            return None
        mask = self.alive.copy()
        if request.date_from:
            mask &= self.day >= request.date_from.toordinal()
        if request.date_to:
            mask &= (self.day <= request.date_to.toordinal()) & (self.day > 0)
        if request.categories:
            known = {c.casefold() for c in known_categories} if known_categories is not None else None
            include, exclude = category_expression(request.categories.casefold(), known)
            if include:
                mask &= self._having("categories", include)
            if exclude:
                mask &= ~self._having("categories", exclude)
        if request.venue:
            mask &= self._having("venue", [request.venue.strip().casefold()])
        if request.tag:
            mask &= self._having("tags", [request.tag.strip().casefold()])
        return mask

    def _having(self, field: str, values: list[str]) -> np.ndarray:
        """Mask of the documents carrying any of `values` in `field`."""
        mask = np.zeros(len(self.docs), dtype=bool)
        for value in values:
            mask[self._labels.get((field, value), [])] = True
        return mask

    def _doc_id(self, ordinal: int) -> str:
        entry = self.docs[ordinal]
        assert entry is not None  # a deleted document's passages are never returned
        return entry["id"]

    def passage_vectors(self, doc_id: str) -> np.ndarray:
        ordinal = self.ordinal.get(doc_id)
        if ordinal is None:
            return np.zeros((0, self.vectors.shape[1]), dtype=np.float32)
        return np.asarray(self.vectors[self.passage_doc == ordinal])


def _label_index(docs: list[dict | None]) -> dict[tuple[str, str], np.ndarray]:
    index: dict[tuple[str, str], list[int]] = {}
    for ordinal, doc in enumerate(docs):
        if doc is None:
            continue
        for value in doc["categories"]:
            index.setdefault(("categories", value), []).append(ordinal)
        for value in doc["tags"]:
            index.setdefault(("tags", value), []).append(ordinal)
        if doc["venue"]:
            index.setdefault(("venue", doc["venue"]), []).append(ordinal)
    return {key: np.array(ordinals, dtype=np.int64) for key, ordinals in index.items()}


def batches(items: Iterable, size: int):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

