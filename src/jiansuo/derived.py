"""The registry of derived indexes: each kind says how it is built from the store, how it applies store changes,
and how its live version is opened. The engine loops over the registry; a new kind is one module with a class
like these and one `@register("kind")` line.

Every kind keeps versions under `<store>/indexes/<kind>/vNNNNNN/` with a `CURRENT` pointer (store/index_dirs.py):
a build writes a new version beside the live one and swaps the pointer, so readers never see half an index.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from jiansuo.analysis import tokenize
from jiansuo.analysis.passages import MAX_PASSAGES, OVERLAP, TOKEN_BUDGET, passage_source
from jiansuo.analysis.tokenize import add_user_words, user_words
from jiansuo.encoders.base import cache_key
from jiansuo.retrieve.backend import KeywordBackend, build_backend, open_backend
from jiansuo.retrieve.dense import DenseIndex
from jiansuo.retrieve.hubness import csls_penalty
from jiansuo.store import IndexDirs

if TYPE_CHECKING:
    from jiansuo.engine import Engine

Progress = Callable[[int], None]
log = logging.getLogger("jiansuo.derived")


class DerivedIndex(Protocol):
    kind: str
    dirs: IndexDirs
    version: Path | None  # the live version folder last opened
    refreshed_with_store: bool  # brought up to date by Engine.refresh (False: only by its own command)

    def live(self) -> Any:
        """The open live version (reopened when CURRENT moves), or None."""

    def refresh(self, progress: Progress | None = None) -> int:
        """Apply the store changes this index has not seen (building it when it should exist and does not)."""

    def rebuild(self, progress: Progress | None = None) -> int:
        """Build a complete new version from the store and make it live."""

    def stats(self) -> dict | None: ...


REGISTRY: dict[str, Callable[[Engine], DerivedIndex]] = {}


def register(kind: str):
    def add(factory):
        REGISTRY[kind] = factory
        return factory
    return add


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def analyzer_version() -> str:
    """What the keyword index's terms depend on: a store whose index was built otherwise is rebuilt."""
    words = "store-author+title-words" if tokenize.TITLE_WORDS else "store-author-words"
    traditional = "+traditional-as-simplified" if tokenize.TRADITIONAL_FOLDING else ""
    plurals = "+irregular-plurals" if tokenize.IRREGULAR_PLURALS else ""
    return (f"jieba-precise-nohmm+{words}{traditional}+{tokenize.STEMMER}{plurals}+fold-accents+lucene-stop+cjk-bigram"
            "+exact-title-ids+facets-precision+decay/4")


@register("bm25")
class KeywordIndex:
    """BM25 on tantivy (retrieve/bm25.py)."""

    kind = "bm25"
    refreshed_with_store = True

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dirs = IndexDirs(engine.path / "indexes", self.kind)
        self.version: Path | None = None
        self._open: KeywordBackend | None = None

    def live(self) -> KeywordBackend | None:
        current = self.dirs.current()
        if current is None:
            return None
        if current != self.version and not self.params_match(current):
            # built by an earlier analyzer or schema: the store is the source of truth, so build it anew
            log.warning("keyword index %s was built by another analyzer version; rebuilding", current.name)
            self.rebuild()
            return self._open
        if self._open is None or current != self.version:
            self._open = open_backend("bm25", current)
            self.version = current
        else:
            self._open.reload_if_changed()  # another process may have committed to this version
        self._open.boosts = self.engine.boosts  # the engine's current boosts, even when reassigned since opening
        return self._open

    def refresh(self, progress: Progress | None = None) -> int:
        backend = self.live()
        if backend is None or not self.params_match(self.version):
            return self.rebuild(progress)
        pending = list(self.engine.store.changes_since(backend.indexed_seq))
        return backend.apply(pending, progress) if pending else 0

    def rebuild(self, progress: Progress | None = None) -> int:
        store = self.engine.store
        seq = store.seq
        params = {"kind": "bm25", "engine": "tantivy", "analyzer": analyzer_version(), "store_seq": seq,
                  "built_at": now()}
        words = user_words(author for document in store.documents() for author in document.authors)
        if tokenize.TITLE_WORDS:
            words |= tokenize.title_words(document.title for document in store.documents())
        add_user_words(words)  # before any text is analysed, so documents and queries segment alike
        params["user_words"] = sorted(words)
        with self.dirs.building() as version:
            build_backend("bm25", version, store.documents(), seq, params, progress)
            documents = store.count()
            params["documents"] = documents
            self.dirs.publish(version, params)
        self._open = None
        backend = self.live()
        pending = list(store.changes_since(seq))  # written while we were building
        if backend is not None and pending:
            backend.apply(pending)
        return documents

    def params_match(self, version: Path | None) -> bool:
        return version is not None and IndexDirs.read_params(version).get("analyzer") == analyzer_version()

    def stats(self) -> dict | None:
        backend = self.live()
        if backend is None:
            return None
        return {"indexed_seq": backend.indexed_seq, "documents": backend.num_docs(),
                "version": self.version.name if self.version else None}


@register("dense")
class VectorIndex:
    """Passage vectors, exact numpy or HNSW (retrieve/dense.py); built when the engine names an encoder."""

    kind = "dense"
    refreshed_with_store = True

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dirs = IndexDirs(engine.path / "indexes", self.kind)
        self.version: Path | None = None
        self._open: DenseIndex | None = None

    def live(self) -> DenseIndex | None:
        current = self.dirs.current()
        if current is None:
            return None
        if self._open is None or current != self.version:
            self._open = DenseIndex(current)
            self.version = current
        return self._open

    def wanted_encoder(self) -> str | None:
        """The encoder the index should be built with: the engine's, else the live index's; None for no index."""
        dense = self.live()
        return self.engine.embedding.encoder_name or (dense.encoder_name if dense else None)

    def needs_rebuild(self) -> bool:
        """Whether the next refresh rebuilds the whole index instead of applying the store's changes."""
        dense, wanted = self.live(), self.wanted_encoder()
        if wanted is None:
            return False
        centering = self.engine.embedding.centering_name(wanted)
        if dense is None or dense.encoder_name != wanted or dense.centering != centering:
            return True
        # a model folder retrained in place: its old vectors are not its own
        return Path(wanted).is_dir() and dense.params.get("encoder_key") != cache_key(self.engine.encoder)

    def refresh(self, progress: Progress | None = None) -> int:
        dense = self.live()
        if self.wanted_encoder() is None:
            return 0
        if dense is None or self.needs_rebuild():
            return self.rebuild(progress)
        pending = list(self.engine.store.changes_since(dense.indexed_seq))
        if not pending:
            return 0
        with self.dirs.building() as version:
            dense.updated(version, pending, self.engine.embedding.embed_passages, progress)
            self.dirs.publish(version, {**dense.params, "store_seq": max(c.seq for c in pending),
                                        "updated_at": now()})
        return len(pending)

    def rebuild(self, progress: Progress | None = None) -> int:
        engine, store = self.engine, self.engine.store
        seq = store.seq
        with self.dirs.building() as version:
            DenseIndex.build(version, store.documents(), engine.embedding.embed_passages, progress)
            vectors = np.load(version / "vectors.npy")
            np.save(version / "hub_penalty.npy", csls_penalty(vectors, self._query_bank(), k=10))
            self._publish(version, vectors, seq)
        if any(True for _ in store.changes_since(seq)):
            self.refresh()
        return store.count()

    def _publish(self, version: Path, vectors: np.ndarray, seq: int) -> None:
        engine = self.engine
        self.dirs.publish(version, {
            "kind": "dense", "encoder": engine.encoder.name, "encoder_key": cache_key(engine.encoder),
            "dim": int(vectors.shape[1]) if len(vectors) else 0,
            "store_seq": seq, "passages": int(len(vectors)), "built_at": now(),
            "centering": engine.embedding.centering.name if engine.embedding.centering else None,
            "passage_rule": f"<= {TOKEN_BUDGET} estimated tokens, {OVERLAP:.0%} overlap, title prefix, "
                            f"<= {MAX_PASSAGES} per document; document score = best passage (MaxP)",
            "hubness": "hub_penalty.npy: CSLS r(x), mean cosine of a passage to its 10 nearest pseudo-queries "
                       "(up to 2,000 sampled document titles encoded as queries)"})

    def _query_bank(self, size: int = 2000) -> np.ndarray:
        """Query-like vectors for hubness reduction: titles read like queries and need no labels."""
        titles = [d.title or passage_source(d)[:80] for d in self.engine.store.documents()]
        titles = [t for t in titles if t.strip()]
        chosen = [titles[i] for i in np.random.default_rng(0).permutation(len(titles))[:size]]
        embedding = self.engine.embedding
        return embedding.embed_queries(chosen) if chosen else np.zeros((1, embedding.encoder.dim), np.float32)

    def stats(self) -> dict | None:
        dense = self.live()
        if dense is None:
            return None
        return {"encoder": dense.encoder_name, "documents": dense.num_docs(), "passages": dense.num_passages(),
                "indexed_seq": dense.indexed_seq, "version": self.version.name if self.version else None}


@register("cur")
class CurIndexes:
    """The cross-encoder k-NN index behind mode=ce-knn (rerank/cur_index.py); built and refreshed by `jiansuo cur`
    (scoring new documents needs the cross-encoder), never by a plain refresh."""

    kind = "cur"
    refreshed_with_store = False

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dirs = IndexDirs(engine.path / "indexes", self.kind)
        self._open = None

    @property
    def version(self) -> Path | None:
        return self.dirs.current()

    def live(self):
        from jiansuo.rerank.cur_index import CurIndex

        current = self.dirs.current()
        if current is None:
            return None
        if self._open is None or self._open.folder != current:
            self._open = CurIndex(current)
        return self._open

    def refresh(self, progress: Progress | None = None) -> int:
        from jiansuo.rerank import ce_knn

        return ce_knn.refresh(self.engine) if self.dirs.current() is not None else 0

    def rebuild(self, progress: Progress | None = None) -> int:
        raise NotImplementedError("the CUR index is built by `jiansuo cur` (it needs anchor queries and a model)")

    def stats(self) -> dict | None:
        current = self.dirs.current()
        return {"version": current.name, **IndexDirs.read_params(current)} if current is not None else None


class LocalBackends:
    """The embedded indexes (the registry's kinds, beside the store) behind the interface Milvus's have
    (retrieve/milvus.py MilvusBackends): what the engine searches, refreshes and rebuilds."""

    kind = "local"
    config = {"kind": "local"}

    def __init__(self, indexes: dict[str, DerivedIndex]):
        self.indexes = indexes

    def keyword(self) -> KeywordBackend | None:
        return self.indexes["bm25"].live()

    def dense(self) -> DenseIndex | None:
        return self.indexes["dense"].live()

    def refresh(self, encoder: str | None, progress: Progress | None = None,
                dense_progress: Progress | None = None) -> int:
        """Every kind brought up to the store (the keyword index first); returns the keyword index's changes."""
        for index in self.indexes.values():
            index.dirs.sweep()  # an unfinished build left by a killed process
        changed = self.indexes["bm25"].refresh(progress)
        for kind, index in self.indexes.items():
            if kind != "bm25" and index.refreshed_with_store:
                index.refresh(dense_progress or progress)
        return changed

    def refresh_dense(self, encoder: str | None, progress: Progress | None = None) -> int:
        return self.indexes["dense"].refresh(progress)

    def rebuild(self, encoder: str | None, progress: Progress | None = None) -> int:
        return self.indexes["bm25"].rebuild(progress)


def dense_being_built(engine) -> bool:
    """Whether the store has no dense index yet but a process is building its first (the demo serves meanwhile)."""
    return engine.backends.kind == "local" and engine.dense is None and engine.indexes["dense"].dirs.being_built()


def engine_stats(engine) -> dict:
    """What `jiansuo stats` and /api/stats show: documents, index versions and sequence numbers, the dense index
    and the store's labels."""
    remote = engine.backends.config if engine.backends.kind != "local" else None
    backend, dense, bm25 = engine.keyword, engine.dense, engine.indexes["bm25"]
    summary = engine.store.summary()
    return {
        "backend": remote or {"kind": "local"},
        "documents": engine.store.count(),
        "store_seq": engine.store.seq,
        "indexed_seq": backend.indexed_seq if backend else 0,
        "indexed_documents": backend.num_docs() if backend else 0,
        "index_version": bm25.version.name if backend and remote is None and bm25.version else None,
        "dense": ({"encoder": dense.encoder_name, "documents": dense.num_docs(), "passages": dense.num_passages(),
                   "indexed_seq": dense.indexed_seq} if dense else None),
        "dense_being_built": dense_being_built(engine),
        "indexes": {kind: index.stats() for kind, index in engine.indexes.items() if remote is None},
        "languages": summary["languages"],
        "categories": dict(list(summary["categories"].items())[:50]),
        "date_range": summary["date_range"],
    }
