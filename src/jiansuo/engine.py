"""The Python API: one object that owns a store folder and answers searches.

    engine = Engine("data/site")
    engine.add(documents)        # durable in SQLite when this returns
    engine.refresh()             # bring the indexes up to date (incremental)
    page = engine.search("扩散模型 条件控制", sort="date")
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from jiansuo.analysis import analyze, excerpt
from jiansuo.analysis.highlight import excerpt_at
from jiansuo.analysis.keywords import Keyword, keywords
from jiansuo.analysis.passages import passage_source
from jiansuo.analysis.plaintext import plain_text
from jiansuo.derived import REGISTRY, DerivedIndex, analyzer_version
from jiansuo.model import Document, Hit, SearchPage, SearchRequest
from jiansuo.retrieve import fusion
from jiansuo.retrieve.backend import KeywordBackend, VectorBackend
from jiansuo.retrieve.bm25 import DEFAULT_BOOSTS
from jiansuo.retrieve.dense import MEANING_CUTOFFS, DenseIndex
from jiansuo.retrieve.popularity import by_popularity, popularity_rank
from jiansuo.retrieve.query import MUST, MUST_NOT, ParsedQuery, parse_query, plain_query
from jiansuo.store import DocumentStore
from jiansuo.threads import one_blas_thread

Progress = Callable[[int], None]
KEPT_KEYWORDS = 30  # computed and kept per document (pages show 5 or 10, related documents compare 30); at most
PREFERENCE_DEPTH = 100  # sort=preference re-ranks this many of the list's head
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


class ModeUnavailable(ValueError):
    """A search mode the store cannot answer (mode=dense without a dense index)."""


class Engine:
    """Documents in `<path>/store.sqlite`; derived indexes in `<path>/indexes/<kind>/vNNNNNN/`."""

    def __init__(self, path: Path | str, boosts: dict[str, float] | None = None, encoder: str | None = None,
                 embedding_cache: Path | str | None = None, fusion_method: str = "confidence",
                 hubness: bool = False, reranker: Path | str | None = None, full_coverage_at: float = 0.1,
                 meaning_cutoff: float | None = None, create: bool = True, backend: str | None = None,
                 milvus_uri: str | None = None):
        """`backend`: "local" (tantivy + numpy beside the store) or "milvus" (at `milvus_uri`); the choice is kept
        with the store, so later engines on it (search, serve) follow it without being told."""
        self.path = Path(path)
        if not create and not (self.path / "store.sqlite").exists():
            raise StoreMissing(f"no store at {str(self.path)!r}; "
                               f"create one with `jiansuo index PATH --store {self.path}`")
        self.path.mkdir(parents=True, exist_ok=True)
        self.store = DocumentStore(self.path / "store.sqlite")
        self._remote = self._open_backend(backend, milvus_uri)
        self.boosts = {**DEFAULT_BOOSTS, **(boosts or {})}
        self.encoder_name = encoder  # None: keep whatever dense index the store already has
        self.fusion_method = fusion_method
        self.hubness = hubness
        self.full_coverage_at = full_coverage_at
        self.meaning_cutoff = meaning_cutoff  # None: the encoder's calibrated cut-off (MEANING_CUTOFFS)
        self.reranker_path = reranker
        self._reranker = None
        self._cache_path = Path(embedding_cache or self.path / "cache" / "embeddings.sqlite")
        self.indexes: dict[str, DerivedIndex] = {kind: make(self) for kind, make in REGISTRY.items()}
        self._encoder = None
        self._query_vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._corpus_summary: tuple[int, dict] | None = None
        self._keywords: OrderedDict[tuple, dict[int, list[Keyword]]] = OrderedDict()  # count -> head of the list
        self._keywords_store = None
        self._lock = threading.RLock()  # guards the cached live versions, models and caches across threads

    def _open_backend(self, backend: str | None, milvus_uri: str | None):
        """The Milvus indexes when the store uses (or is now told to use) Milvus; None for the local ones."""
        config = json.loads(self.store.get_meta("backend") or '{"kind": "local"}')
        if backend == "milvus":
            if not milvus_uri:
                raise ValueError("the milvus backend needs a URI (a file path for Milvus Lite, or http://host:19530)")
            uri = milvus_uri if "://" in milvus_uri else str(Path(milvus_uri).resolve())
            if config.get("kind") != "milvus" or config.get("uri") != uri:
                from jiansuo.retrieve.milvus import collection_name

                config = {"kind": "milvus", "uri": uri, "name": collection_name(str(self.path.resolve()))}
                self.store.set_meta("backend", json.dumps(config))
        elif backend == "local" and config.get("kind") != "local":
            config = {"kind": "local"}
            self.store.set_meta("backend", json.dumps(config))
        elif backend not in (None, "local"):
            raise ValueError(f"unknown backend {backend!r}: local or milvus")
        if config.get("kind") != "milvus":
            return None
        from jiansuo.retrieve.milvus import MilvusBackends

        return MilvusBackends(self.store, config, analyzer_version(), self.embed_passages)

    @property
    def backend_kind(self) -> str:
        return "milvus" if self._remote is not None else "local"

    def close(self) -> None:
        self.store.close()
        if self._keywords_store is not None:
            self._keywords_store.close()

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

    def query_vector(self, text: str) -> np.ndarray:
        """The query's vector; recent ones are kept, so paging through results encodes once."""
        encoder = self.encoder
        key = (encoder.name, text)
        with self._lock:
            vector = self._query_vectors.pop(key, None)
        if vector is None:
            vector = encoder.encode_queries([text])[0]  # outside the lock: other searches go on meanwhile
        with self._lock:
            self._query_vectors[key] = vector
            while len(self._query_vectors) > 2048:
                self._query_vectors.popitem(last=False)
        return vector

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Passage vectors through the embedding cache: unchanged text is never encoded twice."""
        from jiansuo.store.embedding_cache import EmbeddingCache

        encoder = self.encoder
        cache = EmbeddingCache(self._cache_path)
        try:
            return cache.encode(encoder.name, texts, encoder.encode_passages, encoder.dim)
        finally:
            cache.close()

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
            return self._search(request, hydrate, **options)

    def _search(self, request: SearchRequest | str, hydrate: bool, **options) -> SearchPage:
        if isinstance(request, str):
            request = SearchRequest(query=request, **options)
        elif options:
            request = replace(request, **options)
        if request.sort == "preference":
            return self._preferred(request, hydrate)
        parsed = parse_query(request.query) if request.syntax else plain_query(request.query)
        terms = sorted({t for c in parsed.clauses if c.occur != MUST_NOT and not c.is_keyword
                        for t in analyze(c.text)})
        backend = self.keyword
        if backend is None:
            return SearchPage([], 0, request, terms)
        known = self.known_categories() if request.categories else None
        dense = self.dense  # one read of the CURRENT pointer per search
        mode = request.mode or ("hybrid" if dense is not None else "bm25")
        if mode == "ce-knn" and self._remote is not None:
            raise ModeUnavailable("mode=ce-knn reads the embedded dense index; it is not offered on Milvus")
        if mode in ("dense", "hybrid") and dense is None:
            raise ModeUnavailable(f"mode={mode} needs a dense index, and this store has none "
                                  f"(build one with `jiansuo index --store {self.path} --dense`)")
        reranking = request.rerank > 0 and self.reranker is not None
        retrieve = replace(request, offset=0, limit=max(request.rerank, request.offset + request.limit)) \
            if reranking else request
        started = time.perf_counter()
        by_meaning_only = False
        if mode == "ce-knn":
            from jiansuo.rerank import ce_knn

            hits, total, calls = ce_knn.search(self, backend, parsed, request, known)
            reranking = False
        elif mode == "bm25":
            hits, total = backend.search(parsed, retrieve, known)
            if retrieve.sort == "popularity":
                hits = by_popularity(backend, self.store, parsed, retrieve, known, hits)
        else:
            hits, total, keyword_total = self._semantic_search(backend, dense, parsed, retrieve, terms, known, mode)
            by_meaning_only = bool(hits) and keyword_total == 0 and mode == "hybrid"
        timings = {"retrieve": (time.perf_counter() - started) * 1000}
        if mode == "ce-knn":
            timings["cross_encoder_calls"] = calls
        if reranking:
            started = time.perf_counter()
            hits = self._rerank(request, parsed, hits)
            timings["rerank"] = (time.perf_counter() - started) * 1000
        if hydrate:
            self._hydrate(hits, set(terms))
        return SearchPage(hits, total, request, terms, timings, by_meaning_only)

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

    def _rerank(self, request: SearchRequest, parsed: ParsedQuery, hits: list[Hit]) -> list[Hit]:
        from jiansuo.rerank.cross_encoder import rerank
        from jiansuo.train.pairs import document_text

        text = " ".join(c.text for c in parsed.clauses if c.occur != MUST_NOT and not c.is_keyword)
        head = hits[: request.rerank]
        documents = self.store.get_many([h.doc_id for h in head])
        texts = {doc_id: document_text(d) for doc_id, d in documents.items()}
        reordered = rerank(self.reranker, text, hits, texts, request.rerank)
        if request.sort != "relevance":
            return hits[request.offset : request.offset + request.limit]
        return reordered[request.offset : request.offset + request.limit]

    def _semantic_search(self, backend: KeywordBackend, dense: VectorBackend, parsed: ParsedQuery,
                         request: SearchRequest, terms: list[str], known: set[str] | None,
                         mode: str) -> tuple[list[Hit], int, int | None]:
        """Hits, their total, and how many documents matched by keywords (None: not asked, in dense mode)."""
        depth = max(100, request.offset + request.limit)
        text = " ".join(c.text for c in parsed.clauses if c.occur != MUST_NOT and not c.is_keyword).strip()
        dense_hits: list[Hit] = []
        if text:
            dense_hits = dense.search(self.query_vector(text), request, depth, known, hubness=self.hubness)
        if any(c.occur in (MUST, MUST_NOT) for c in parsed.clauses):
            keep = backend.satisfying(parsed, request, [h.doc_id for h in dense_hits], known)
            dense_hits = [h for h in dense_hits if h.doc_id in keep]
        keyword_total = None
        if mode == "dense":
            # every allowed document has a similarity: the total is how many the filters and required
            # clauses allow, the same on every page (not how deep this page searched)
            hits = dense_hits
            constraints = ParsedQuery([c for c in parsed.clauses if c.occur in (MUST, MUST_NOT)])
            total = backend.search(constraints, replace(request, offset=0, limit=1, sort="relevance"), known)[1]
        else:
            keyword_hits, total = backend.search(parsed, replace(request, offset=0, limit=depth, sort="relevance"),
                                                 known)
            cutoff = self.meaning_cutoff if self.meaning_cutoff is not None else MEANING_CUTOFFS.get(dense.encoder_name)
            if total == 0 and cutoff is not None and not self.hubness:
                # nothing matches the words: list only what is close in meaning (bench/meaning_cutoff.py)
                dense_hits = [h for h in dense_hits if h.scores.get("dense", 0.0) >= cutoff]
            hits = self._fuse(backend, keyword_hits, dense_hits, terms)
            keyword_total = total
            total = max(total, len(hits))
        if request.sort in ("date", "popularity"):
            hits = self._sorted(hits, request.sort)
        return hits[request.offset : request.offset + request.limit], total, keyword_total

    def _sorted(self, hits: list[Hit], sort: str) -> list[Hit]:
        """Hits newest first, or by popularity (retrieve/popularity.py), from the store's documents."""
        documents = self.store.get_many([h.doc_id for h in hits])
        signals = self.store.reader_signals() if sort == "popularity" else {}

        def key(hit: Hit) -> int:
            document = documents.get(hit.doc_id)
            if document is None:
                return 0
            day = document.date.toordinal() if document.date else 0
            if sort == "date":
                return day
            return popularity_rank(document.reads + document.stars + signals.get(hit.doc_id, 0), day)

        return sorted(hits, key=lambda h: -key(h))

    def _preferred(self, request: SearchRequest, hydrate: bool) -> SearchPage:
        """The list the request would give (by relevance, or newest first without a query), its head re-ranked
        by resemblance to the reader's starred documents (rerank/preference.py)."""
        depth = max(PREFERENCE_DEPTH, request.offset + request.limit)
        base = replace(request, sort="relevance" if request.query.strip() else "date", offset=0, limit=depth)
        page = self._search(base, hydrate=False)
        hits = page.hits
        if request.prefer and hits:
            scores = self.preference_scores([h.doc_id for h in hits], list(request.prefer))
            order = np.argsort(-scores, kind="stable")
            hits = [hits[i] for i in order]
            for hit, score in zip(hits, scores[order], strict=True):
                hit.scores["preference"] = float(score)
        hits = hits[request.offset : request.offset + request.limit]
        if hydrate:
            self._hydrate(hits, set(page.terms))
        return SearchPage(hits, page.total, request, page.terms, page.timings, page.by_meaning_only)

    def preference_scores(self, doc_ids: list[str], starred: list[str], method: str | None = None) -> np.ndarray:
        """How much each document resembles the starred ones (rerank/preference.py)."""
        from jiansuo.rerank import preference

        return preference.resemblance(doc_ids, starred, self.dense, self.store, self.keywords,
                                      method or PREFERENCE_METHOD)

    def _fuse(self, backend: KeywordBackend, keyword_hits: list[Hit], dense_hits: list[Hit],
              terms: list[str]) -> list[Hit]:
        if self.fusion_method == "rrf":
            return fusion.rrf([keyword_hits, dense_hits])
        if self.fusion_method == "weighted":
            return fusion.weighted([keyword_hits, dense_hits], [0.5, 0.5])
        coverage = backend.coverage(keyword_hits[0].doc_id, terms) if keyword_hits else 0.0
        return fusion.confidence_weighted(keyword_hits, dense_hits, coverage, full_at=self.full_coverage_at)

    def get(self, doc_id: str) -> Document | None:
        return self.store.get(doc_id)

    def related(self, doc_id: str, limit: int = 6) -> list[Hit]:
        """Documents sharing the most weighty words with this one's title and opening (BM25)."""
        document = self.get(doc_id)
        if document is None:
            return []
        opening = (document.summary or document.body)[:400]
        request = SearchRequest(query=f"{document.title}\n{opening}", limit=limit + 1, syntax=False, mode="bm25")
        keyword = [h for h in self.search(request, hydrate=False).hits if h.doc_id != doc_id]
        dense = self.dense
        lists = [keyword]
        if dense is not None and dense.contains(doc_id):
            vectors = dense.passage_vectors(doc_id)
            centre = vectors.mean(axis=0)
            centre /= max(float(np.linalg.norm(centre)), 1e-12)
            neighbours = dense.search(centre, SearchRequest(), limit + 1)
            lists.append([h for h in neighbours if h.doc_id != doc_id])
        hits = fusion.rrf(lists)[:limit] if len(lists) > 1 else keyword[:limit]
        self._hydrate(hits, set())
        return hits

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
        keyword index's document frequencies; kept per document version and index version, in memory and in
        `<store>/cache/keywords.sqlite`."""
        backend = self.keyword
        if backend is None:
            return []
        built = self.indexes["bm25"].version
        version = f"{document.content_hash()[:16]}:{built.name if built else ''}"
        key = (document.id, version)  # one list of KEPT_KEYWORDS per document version; callers take a head
        with self._lock:
            heads = self._keywords.get(key)
            if heads is not None:
                self._keywords.move_to_end(key)
                return heads.setdefault(count, heads[KEPT_KEYWORDS][:count])
        stored = self._keyword_cache.get(document.id, version)
        if stored is not None:
            found = [Keyword(text, tuple(terms), weight) for text, terms, weight in stored]
        else:
            text = "\n".join(part for part in (document.summary, plain_text(document.body)) if part)
            found = keywords(document.title, text, backend.document_frequency, max(1, backend.num_docs()),
                             KEPT_KEYWORDS)
            self._keyword_cache.put(document.id, version, [[k.text, list(k.terms), k.weight] for k in found])
        with self._lock:
            heads = self._keywords.setdefault(key, {KEPT_KEYWORDS: found})
            while len(self._keywords) > 20_000:
                self._keywords.popitem(last=False)
            return heads.setdefault(count, heads[KEPT_KEYWORDS][:count])

    @property
    def _keyword_cache(self):
        from jiansuo.store.keyword_cache import KeywordCache

        with self._lock:
            if self._keywords_store is None:
                self._keywords_store = KeywordCache(self.path / "cache" / "keywords.sqlite")
            return self._keywords_store

    def known_categories(self) -> set[str]:
        return set(self._summary()["categories"])

    def stats(self) -> dict:
        backend = self.keyword
        summary = self._summary()
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

    @_locked
    def _summary(self) -> dict:
        """Label counts and date range of the whole store, recomputed only after the store changes."""
        seq = self.store.seq
        if self._corpus_summary is None or self._corpus_summary[0] != seq:
            categories: Counter[str] = Counter()
            languages: Counter[str] = Counter()
            dates = []
            for document in self.store.documents():
                categories.update(document.categories)
                languages[document.language or "?"] += 1
                if document.date:
                    dates.append(document.date)
            self._corpus_summary = (seq, {
                "categories": dict(categories.most_common()), "languages": dict(languages.most_common()),
                "date_range": [min(dates).isoformat(), max(dates).isoformat()] if dates else None})
        return self._corpus_summary[1]

    # -- internals -----------------------------------------------------------------------------
    def _hydrate(self, hits: list[Hit], terms: set[str]) -> None:
        documents = self.store.get_many([h.doc_id for h in hits])
        for hit in hits:
            hit.document = documents.get(hit.doc_id)
            if hit.document is None:
                continue
            hit.excerpt = best_excerpt(hit.document, terms)
            if "passage_start" in hit.scores and not any(m for _, m in hit.excerpt):
                hit.excerpt = passage_excerpt(hit.document, int(hit.scores["passage_start"])) or hit.excerpt



def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def best_excerpt(document: Document, terms: set[str], width: int = 200) -> list[tuple[str, bool]]:
    """The excerpt (from the summary or the body, as plain text) showing the most distinct query terms."""
    best: list[tuple[str, bool]] = []
    best_count = -1
    for text in (document.summary, document.body):
        segments = excerpt(plain_text(text), terms, width)
        count = len({piece.casefold() for piece, is_match in segments if is_match})
        if count > best_count and segments:
            best, best_count = segments, count
        if terms and best_count >= len(terms):  # the summary shows every term: skip a long body
            break
    return best


def passage_excerpt(document: Document, passage_start: int, width: int = 200) -> list[tuple[str, bool]]:
    """The excerpt where the dense match's passage starts: its offset in the source, carried over by
    proportion into the plain text (Markdown syntax is about evenly spread), snapped to a sentence."""
    source = passage_source(document)
    summary = plain_text(document.summary)
    if document.summary and passage_start < len(document.summary):
        text, share = summary, passage_start / max(1, len(document.summary))
    else:
        text = plain_text(document.body)
        offset = passage_start - (len(document.summary) + 1 if document.summary else 0)
        share = offset / max(1, len(source) - (len(document.summary) + 1 if document.summary else 0))
    return excerpt_at(text, int(share * len(text)), width)
