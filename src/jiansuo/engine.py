"""The Python API: one object that owns a store folder and answers searches.

    engine = Engine("data/site")
    engine.add(documents)        # durable in SQLite when this returns
    engine.refresh()             # bring the indexes up to date (incremental)
    page = engine.search("扩散模型 条件控制", sort="date")
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

import numpy as np

from jiansuo import derived, searching
from jiansuo.analysis.keywords import Keyword
from jiansuo.derived import REGISTRY, DerivedIndex, LocalBackends, analyzer_version
from jiansuo.embedding import Embedding
from jiansuo.model import Document, Hit, SearchPage, SearchRequest
from jiansuo.retrieve.backend import KeywordBackend, VectorBackend
from jiansuo.retrieve.bm25 import DEFAULT_BOOSTS
from jiansuo.retrieve.dense import DenseIndex
from jiansuo.retrieve.milvus import MilvusBackends, remote_indexes
from jiansuo.store import DocumentStore
from jiansuo.store.keyword_cache import KeywordLists
from jiansuo.threads import holding_lock, one_blas_thread

Progress = Callable[[int], None]
KEPT_KEYWORDS = 30  # computed and kept per document (pages show 5 or 10, related documents compare 30); at most


class StoreMissing(FileNotFoundError):
    """A read-only use of a store folder that holds no store (a mistyped --store): never created silently."""


class Engine:
    """Documents in `<path>/store.sqlite`; derived indexes in `<path>/indexes/<kind>/vNNNNNN/`."""

    def __init__(self, path: Path | str, boosts: dict[str, float] | None = None, encoder: str | None = None,
                 embedding_cache: Path | str | None = None, fusion_method: str = "confidence",
                 hubness: bool = False, reranker: Path | str | None = None, full_coverage_at: float = 0.1,
                 meaning_cutoff: float | None = None, create: bool = True, backend: str | None = None,
                 milvus_uri: str | None = None, centering: bool | str = True, keyword_weight: float = 0.5):
        """`backend`: "local" (tantivy + numpy beside the store) or "milvus" (at `milvus_uri`); the choice is kept
        with the store, so later engines on it (search, serve) follow it without being told. `centering`: build
        dense indexes with the encoder's language centering (encoders/centering.py), where it ships one; a version
        name ("reference-v1") builds with that version."""
        self.path = Path(path)
        if not create and not (self.path / "store.sqlite").exists():
            raise StoreMissing(f"no store at {str(self.path)!r}; "
                               f"create one with `jiansuo index PATH --store {self.path}`")
        self.path.mkdir(parents=True, exist_ok=True)
        self.store = DocumentStore(self.path / "store.sqlite")
        self._lock = threading.RLock()  # guards the cached live versions, models and caches across threads
        # encoder None: keep whatever dense index the store already has
        self.embedding = Embedding(encoder, Path(embedding_cache or self.path / "cache" / "embeddings.sqlite"),
                                   centering, lambda: self.dense, self._lock)
        self.indexes: dict[str, DerivedIndex] = {kind: make(self) for kind, make in REGISTRY.items()}
        self.backends: LocalBackends | MilvusBackends = remote_indexes(
            self.store, self.path, backend, milvus_uri, analyzer_version(), self.embedding.embed_passages,
            self.embedding.centering_name, lambda: self.encoder.dim) or LocalBackends(self.indexes)
        self.boosts = {**DEFAULT_BOOSTS, **(boosts or {})}
        self.fusion_method = fusion_method
        self.hubness = hubness
        self.full_coverage_at = full_coverage_at
        self.keyword_weight = keyword_weight  # BM25's share in the default fusion (bench/fusion_tuning.py)
        self.meaning_cutoff = meaning_cutoff  # None: the encoder's calibrated cut-off (MEANING_CUTOFFS)
        self.reranker_path = reranker
        self._reranker = None
        self._keyword_lists = KeywordLists(self.path / "cache" / "keywords.sqlite", kept=KEPT_KEYWORDS)

    @property
    def backend_kind(self) -> str:
        return self.backends.kind

    def close(self) -> None:
        self.store.close()
        self._keyword_lists.close()

    def warm_up(self) -> None:
        """Open the indexes and run one throwaway search of the default mode, so that the first user's search does
        not pay for loading the query encoder and its first forward pass (hybrid on SciFact: see
        bench/first_query.py)."""
        if self.keyword is not None:
            self.search("warm up", hydrate=False)
            self.embedding.recent_queries.clear()

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
        return self.backends.refresh(self.embedding.encoder_name, progress, dense_progress)

    # -- dense ---------------------------------------------------------------------------------
    @property
    @holding_lock
    def dense(self) -> VectorBackend | None:
        """The vector backend searches go through (local or Milvus), or None without a dense index."""
        return self.backends.dense()

    @property
    @holding_lock
    def local_dense(self) -> DenseIndex | None:
        """The embedded dense index itself (what the CUR index and the hubness report read)."""
        return self.indexes["dense"].live() if self.backends.kind == "local" else None

    @property
    def encoder(self):
        """The query and passage encoder in use (see Embedding.encoder)."""
        return self.embedding.encoder

    def query_vector(self, text: str, dense: VectorBackend | None = None) -> np.ndarray:
        return self.embedding.query_vector(text, dense)

    def refresh_dense(self, progress: Progress | None = None) -> int:
        """Bring the dense index up to the store; builds it when an encoder is asked for and none exists."""
        return self.backends.refresh_dense(self.embedding.encoder_name, progress)

    def rebuild(self, progress: Progress | None = None) -> int:
        """Build a complete new index beside the live one, then swap it in atomically."""
        return self.backends.rebuild(self.embedding.encoder_name, progress)

    def pending_changes(self) -> int:
        backend = self.keyword
        seen = backend.indexed_seq if backend else 0
        return sum(1 for _ in self.store.changes_since(seen))

    # -- reading -------------------------------------------------------------------------------
    @property
    @holding_lock
    def keyword(self) -> KeywordBackend | None:
        found = self.backends.keyword()
        if found is not None:
            found.boosts = self.boosts
        return found

    def search(self, request: SearchRequest | str = "", hydrate: bool = True, **options) -> SearchPage:
        """Run a search. `options` are SearchRequest fields (sort, limit, offset, date_from, …)."""
        with one_blas_thread():  # numpy's spinning threads would starve the query encoder (threads.py)
            return searching.search(self, request, hydrate, **options)

    @property
    @holding_lock
    def cur(self):
        """The live cross-encoder k-NN (CUR) index, or None."""
        return self.indexes["cur"].live()

    def has_cur(self) -> bool:
        """Whether a CUR index is live, without loading it (the page asks on every render)."""
        return self.indexes["cur"].dirs.current() is not None

    @property
    @holding_lock
    def reranker(self):
        if self.reranker_path is None and (cur := self.cur) is not None:
            self.reranker_path = cur.params.get("reranker")  # the model its scores came from
        if self._reranker is None and self.reranker_path is not None:
            from jiansuo.rerank.cross_encoder_onnx import OnnxCrossEncoder

            self._reranker = OnnxCrossEncoder(self.reranker_path)  # its measured serving form (jiansuo.json)
        return self._reranker

    def get(self, doc_id: str) -> Document | None:
        return self.store.get(doc_id)

    def related(self, doc_id: str, limit: int = 6) -> list[Hit]:
        """Documents sharing the most weighty words with this one's title and opening (BM25), fused with its
        nearest documents by meaning when there is a dense index."""
        return searching.related(self, doc_id, limit)

    def facets(self, request: SearchRequest, size: int = 20) -> dict[str, list[tuple[str, int]]]:
        """Label counts (category, venue, tag, month) over what `request` lists, from the keyword index."""
        return searching.facets(self, request, size)

    def nearest_days(self, day: date, request: SearchRequest | None = None) -> tuple[date | None, date | None]:
        """The closest earlier and later dates that have documents (meeting `request`'s label filters)."""
        return searching.nearest_days(self, day, request or SearchRequest())

    def keywords(self, document: Document, count: int = 10) -> list[Keyword]:
        """The document's most characteristic words and phrases (jiansuo.analysis.keywords), weighted by the
        keyword index's document frequencies (store/keyword_cache.py keeps them per document and index version)."""
        backend, built = self.keyword, self.indexes["bm25"].version
        return self._keyword_lists.of(document, count, backend, built.name if built else "") if backend else []

    def known_categories(self) -> set[str]:
        return set(self.store.summary()["categories"])

    def dense_being_built(self) -> bool:
        """No dense index yet, and a process is building the first one: search turns hybrid once it is published."""
        return derived.dense_being_built(self)

    def stats(self) -> dict:
        """Documents, index versions and sequence numbers, the dense index and the store's labels."""
        return derived.engine_stats(self)
