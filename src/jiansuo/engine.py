"""The Python API: one object that owns a store folder and answers searches.

    engine = Engine("data/site")
    engine.add(documents)        # durable in SQLite when this returns
    engine.refresh()             # bring the indexes up to date (incremental)
    page = engine.search("扩散模型 条件控制", sort="date")
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path

import numpy as np

from jiansuo import searching
from jiansuo.analysis.keywords import Keyword
from jiansuo.derived import REGISTRY, DerivedIndex, analyzer_version
from jiansuo.encoders.centering import Centering, centering_for, centering_named
from jiansuo.model import Document, Hit, SearchPage, SearchRequest
from jiansuo.retrieve.backend import KeywordBackend, VectorBackend
from jiansuo.retrieve.bm25 import DEFAULT_BOOSTS
from jiansuo.retrieve.dense import DenseIndex
from jiansuo.retrieve.milvus import remote_indexes
from jiansuo.retrieve.query import parse_query, plain_query
from jiansuo.store import DocumentStore
from jiansuo.store.keyword_cache import KeywordLists
from jiansuo.threads import one_blas_thread

Progress = Callable[[int], None]
KEPT_KEYWORDS = 30  # computed and kept per document (pages show 5 or 10, related documents compare 30); at most
PREFERENCE_METHOD = "classifier"  # best on every dev row of bench/preference.py (CISI, MEDLINE; k = 3, 10)
log = logging.getLogger("jiansuo.engine")


def _locked(method: Callable) -> Callable:
    """Run `method` holding the engine's lock: a server searches from several threads at once."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class StoreMissing(FileNotFoundError):
    """A read-only use of a store folder that holds no store (a mistyped --store): never created silently."""


class Engine:
    """Documents in `<path>/store.sqlite`; derived indexes in `<path>/indexes/<kind>/vNNNNNN/`."""

    def __init__(self, path: Path | str, boosts: dict[str, float] | None = None, encoder: str | None = None,
                 embedding_cache: Path | str | None = None, fusion_method: str = "confidence",
                 hubness: bool = False, reranker: Path | str | None = None, full_coverage_at: float = 0.1,
                 meaning_cutoff: float | None = None, create: bool = True, backend: str | None = None,
                 milvus_uri: str | None = None, centering: bool = True, keyword_weight: float = 0.5):
        """`backend`: "local" (tantivy + numpy beside the store) or "milvus" (at `milvus_uri`); the choice is kept
        with the store, so later engines on it (search, serve) follow it without being told. `centering`: build
        dense indexes with the encoder's language centering (encoders/centering.py), where it ships one."""
        self.path = Path(path)
        self.language_centering = centering
        if not create and not (self.path / "store.sqlite").exists():
            raise StoreMissing(f"no store at {str(self.path)!r}; "
                               f"create one with `jiansuo index PATH --store {self.path}`")
        self.path.mkdir(parents=True, exist_ok=True)
        self.store = DocumentStore(self.path / "store.sqlite")
        self._remote = remote_indexes(self.store, self.path, backend, milvus_uri, analyzer_version(),
                                      self.embed_passages, self.centering_name)
        self.boosts = {**DEFAULT_BOOSTS, **(boosts or {})}
        # None: keep whatever dense index the store already has; a model folder is named by its absolute path
        self.encoder_name = str(Path(encoder).resolve()) if encoder and Path(encoder).is_dir() else encoder
        self.fusion_method = fusion_method
        self.hubness = hubness
        self.full_coverage_at = full_coverage_at
        self.keyword_weight = keyword_weight  # BM25's share in the default fusion (bench/fusion_tuning.py)
        self.meaning_cutoff = meaning_cutoff  # None: the encoder's calibrated cut-off (MEANING_CUTOFFS)
        self.reranker_path = reranker
        self._reranker = None
        self._cache_path = Path(embedding_cache or self.path / "cache" / "embeddings.sqlite")
        self.indexes: dict[str, DerivedIndex] = {kind: make(self) for kind, make in REGISTRY.items()}
        self._encoder = None
        self._query_vectors: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
        self._keyword_lists = KeywordLists(self.path / "cache" / "keywords.sqlite", kept=KEPT_KEYWORDS)
        self._lock = threading.RLock()  # guards the cached live versions, models and caches across threads

    @property
    def backend_kind(self) -> str:
        return "milvus" if self._remote is not None else "local"

    def close(self) -> None:
        self.store.close()
        self._keyword_lists.close()

    def warm_up(self) -> None:
        """Open the indexes and run one throwaway search of the default mode, so that the first user's search does
        not pay for loading the query encoder and its first forward pass (hybrid on SciFact: see
        bench/first_query.py)."""
        if self.keyword is not None:
            self.search("warm up", hydrate=False)
            self._query_vectors.clear()

    # -- writing -------------------------------------------------------------------------------
    def add(self, documents: Iterable[Document]) -> int:
        """Store documents (insert or update by id); returns how many changed."""
        return self.store.upsert(documents)

    def delete(self, doc_ids: Iterable[str]) -> int:
        return self.store.delete(doc_ids)

    def refresh(self, progress: Progress | None = None, dense_progress: Progress | None = None) -> int:
        """Apply every store change the indexes have not seen; rebuilds an index that is missing.

        `progress` counts documents into the keyword index, `dense_progress` documents encoded (default: the
        same callback)."""
        if self._remote is not None:
            return self._remote.refresh(self.encoder_name, lambda: self.encoder.dim, progress)
        for index in self.indexes.values():
            index.dirs.sweep()  # an unfinished build left by a killed process
        changed = self.indexes["bm25"].refresh(progress)
        for kind, index in self.indexes.items():
            if kind != "bm25" and index.refreshed_with_store:
                index.refresh(dense_progress or progress)
        return changed

    # -- dense ---------------------------------------------------------------------------------
    @property
    @_locked
    def dense(self) -> VectorBackend | None:
        """The vector backend searches go through (local or Milvus), or None without a dense index."""
        return self._remote.dense() if self._remote is not None else self.local_dense

    @property
    @_locked
    def local_dense(self) -> DenseIndex | None:
        """The embedded dense index itself (what the CUR index and the hubness report read)."""
        return self.indexes["dense"].live() if self._remote is None else None

    @property
    @_locked
    def encoder(self):
        from jiansuo.encoders import DEFAULT_ENCODER, load_encoder

        name = self.encoder_name or (self.dense.encoder_name if self.dense else DEFAULT_ENCODER)
        if self._encoder is None or self._encoder.name != name:
            self._encoder = load_encoder(name)
        return self._encoder

    def centering_name(self, encoder_name: str) -> str | None:
        """The language centering new dense indexes of `encoder_name` get (encoders/centering.py); None when this
        engine builds without it or the encoder ships none."""
        centering = centering_for(encoder_name) if self.language_centering else None
        return centering.name if centering else None

    @property
    def centering(self) -> Centering | None:
        """The language centering new dense indexes are built with, None for none."""
        return centering_named(self.centering_name(self.encoder.name))

    def query_vector(self, text: str, dense: VectorBackend | None = None) -> np.ndarray:
        """The query's vector, centered as the passages of `dense` (default: the live dense index) were; recent
        ones are kept, so paging through results encodes once. A search passes the backend it already holds."""
        encoder = self.encoder
        dense = dense or self.dense
        centering = centering_named(dense.centering) if dense is not None else self.centering
        key = (encoder.name, centering.name if centering else "", text)
        with self._lock:
            vector = self._query_vectors.pop(key, None)
        if vector is None:
            vector = encoder.encode_queries([text])  # outside the lock: other searches go on meanwhile
            vector = (centering.queries(vector, [text]) if centering else vector)[0]
        with self._lock:
            self._query_vectors[key] = vector
            while len(self._query_vectors) > 2048:
                self._query_vectors.popitem(last=False)
        return vector

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Query vectors for building (the hubness bank), centered as new indexes are."""
        vectors = self.encoder.encode_queries(texts)
        centering = self.centering
        return centering.queries(vectors, texts) if centering else vectors

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Passage vectors through the embedding cache (unchanged text is never encoded twice), centered."""
        from jiansuo.store.embedding_cache import EmbeddingCache

        encoder = self.encoder
        cache = EmbeddingCache(self._cache_path)
        try:
            vectors = cache.encode(encoder.name, texts, encoder.encode_passages, encoder.dim)
        finally:
            cache.close()
        centering = self.centering
        return centering.passages(vectors, texts) if centering else vectors

    def refresh_dense(self, progress: Progress | None = None) -> int:
        """Bring the dense index up to the store; builds it when an encoder is asked for and none exists."""
        if self._remote is not None:
            return self.refresh(dense_progress=progress)
        return self.indexes["dense"].refresh(progress)

    def rebuild_dense(self, progress: Progress | None = None) -> int:
        return self.indexes["dense"].rebuild(progress)

    def rebuild(self, progress: Progress | None = None) -> int:
        """Build a complete new index beside the live one, then swap it in atomically."""
        if self._remote is not None:
            return self._remote.rebuild(self.encoder_name or self._remote.config.get("encoder"),
                                        lambda: self.encoder.dim, progress)
        return self.indexes["bm25"].rebuild(progress)

    def pending_changes(self) -> int:
        backend = self.keyword
        seen = backend.indexed_seq if backend else 0
        return sum(1 for _ in self.store.changes_since(seen))

    # -- reading -------------------------------------------------------------------------------
    @property
    @_locked
    def keyword(self) -> KeywordBackend | None:
        if self._remote is not None:
            found = self._remote.keyword()
            if found is not None and not self._remote.current(None):
                log.warning("the Milvus index was built by another analyzer version; rebuilding")
                self.rebuild()
            if found is not None:
                found.boosts = self.boosts
            return found
        return self.indexes["bm25"].live()

    def search(self, request: SearchRequest | str = "", hydrate: bool = True, **options) -> SearchPage:
        """Run a search. `options` are SearchRequest fields (sort, limit, offset, date_from, …)."""
        with one_blas_thread():  # numpy's spinning threads would starve the query encoder (threads.py)
            return searching.search(self, request, hydrate, **options)

    @property
    @_locked
    def cur(self):
        """The live cross-encoder k-NN (CUR) index, or None."""
        return self.indexes["cur"].live()

    def has_cur(self) -> bool:
        """Whether a CUR index is live, without loading it (the page asks on every render)."""
        return self.indexes["cur"].dirs.current() is not None

    def build_cur(self, anchor_queries: list[str], progress=None, distill_steps: int | None = None,
                  distill_queries: Sequence[str] = (), further_steps: int | None = None,
                  generated_queries: Sequence[str] = (), generated_steps: int | None = None) -> dict:
        from jiansuo.rerank import ce_knn

        return ce_knn.build(self, anchor_queries, progress, distill_steps, distill_queries, further_steps,
                            generated_queries, generated_steps)

    def refresh_cur(self) -> int:
        from jiansuo.rerank import ce_knn

        return ce_knn.refresh(self)

    @property
    @_locked
    def reranker(self):
        if self.reranker_path is None and (cur := self.cur) is not None:
            self.reranker_path = cur.params.get("reranker")  # the model its scores came from
        if self._reranker is None and self.reranker_path is not None:
            from jiansuo.rerank.cross_encoder import CrossEncoder

            self._reranker = CrossEncoder(self.reranker_path)
        return self._reranker

    def preference_scores(self, doc_ids: list[str], starred: list[str], method: str | None = None) -> np.ndarray:
        """How much each document resembles the starred ones (rerank/preference.py)."""
        from jiansuo.rerank import preference

        return preference.resemblance(doc_ids, starred, self.dense, self.store, self.keywords,
                                      method or PREFERENCE_METHOD)

    def get(self, doc_id: str) -> Document | None:
        return self.store.get(doc_id)

    def related(self, doc_id: str, limit: int = 6) -> list[Hit]:
        """Documents sharing the most weighty words with this one's title and opening (BM25), fused with its
        nearest documents by meaning when there is a dense index."""
        return searching.related(self, doc_id, limit)

    def facets(self, request: SearchRequest, size: int = 20) -> dict[str, list[tuple[str, int]]]:
        """Label counts (category, venue, tag, month) over what `request` lists, from the keyword index."""
        backend = self.keyword
        if backend is None:
            return {}
        parsed = parse_query(request.query) if request.syntax else plain_query(request.query)
        known = self.known_categories() if request.categories else None
        return backend.facets(parsed, request, known, size)

    def nearest_days(self, day: date, request: SearchRequest | None = None) -> tuple[date | None, date | None]:
        """The closest earlier and later dates that have documents (meeting `request`'s label filters)."""
        backend = self.keyword
        request = request or SearchRequest()
        known = self.known_categories() if request.categories else None
        return backend.nearest_days(day, request, known) if backend is not None else (None, None)

    def keywords(self, document: Document, count: int = 10) -> list[Keyword]:
        """The document's most characteristic words and phrases (jiansuo.analysis.keywords), weighted by the
        keyword index's document frequencies (store/keyword_cache.py keeps them per document and index version)."""
        backend = self.keyword
        if backend is None:
            return []
        built = self.indexes["bm25"].version
        return self._keyword_lists.of(document, count, backend, built.name if built else "")

    def known_categories(self) -> set[str]:
        return set(self.store.summary()["categories"])

    def stats(self) -> dict:
        backend = self.keyword
        summary = self.store.summary()
        return {
            "backend": self._remote.config if self._remote is not None else {"kind": "local"},
            "documents": self.store.count(),
            "store_seq": self.store.seq,
            "indexed_seq": backend.indexed_seq if backend else 0,
            "indexed_documents": backend.num_docs() if backend else 0,
            "index_version": (self.indexes["bm25"].version.name
                              if backend and self._remote is None and self.indexes["bm25"].version else None),
            "dense": ({"encoder": self.dense.encoder_name, "documents": self.dense.num_docs(),
                       "passages": self.dense.num_passages(), "indexed_seq": self.dense.indexed_seq}
                      if self.dense else None),
            "indexes": {kind: index.stats() for kind, index in self.indexes.items() if self._remote is None},
            "languages": summary["languages"],
            "categories": dict(list(summary["categories"].items())[:50]),
            "date_range": summary["date_range"],
        }


