"""The Python API: one object that owns a store folder and answers searches.

    engine = Engine("data/site")
    engine.add(documents)        # durable in SQLite when this returns
    engine.refresh()             # bring the indexes up to date (incremental)
    page = engine.search("扩散模型 条件控制", sort="date")
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from jiansuo.analysis import analyze, excerpt
from jiansuo.model import Document, Hit, SearchPage, SearchRequest
from jiansuo.retrieve.backend import KeywordBackend, build_backend, open_backend
from jiansuo.retrieve.bm25 import DEFAULT_BOOSTS
from jiansuo.retrieve.query import MUST_NOT, parse_query, plain_query
from jiansuo.store import DocumentStore, IndexDirs

ANALYZER_VERSION = "jieba-precise-nohmm+porter+lucene-stop+cjk-bigram/1"
Progress = Callable[[int], None]


class Engine:
    """Documents in `<path>/store.sqlite`; derived indexes in `<path>/indexes/<kind>/vNNNNNN/`."""

    def __init__(self, path: Path | str, boosts: dict[str, float] | None = None):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.store = DocumentStore(self.path / "store.sqlite")
        self.boosts = {**DEFAULT_BOOSTS, **(boosts or {})}
        self._bm25_dirs = IndexDirs(self.path / "indexes", "bm25")
        self._keyword: KeywordBackend | None = None
        self._keyword_version: Path | None = None
        self._corpus_summary: tuple[int, dict] | None = None

    def close(self) -> None:
        self.store.close()

    # -- writing -------------------------------------------------------------------------------
    def add(self, documents: Iterable[Document]) -> int:
        """Store documents (insert or update by id); returns how many changed."""
        return self.store.upsert(documents)

    def delete(self, doc_ids: Iterable[str]) -> int:
        return self.store.delete(doc_ids)

    def refresh(self, progress: Progress | None = None) -> int:
        """Apply every store change the index has not seen; rebuilds when there is no usable index."""
        backend = self.keyword
        if backend is None or not self._params_match(self._keyword_version):
            return self.rebuild(progress)
        pending = list(self.store.changes_since(backend.indexed_seq))
        return backend.apply(pending, progress) if pending else 0

    def rebuild(self, progress: Progress | None = None) -> int:
        """Build a complete new index beside the live one, then swap it in atomically."""
        seq = self.store.seq
        version = self._bm25_dirs.new_version()
        params = self._params(seq)
        build_backend("bm25", version, self.store.documents(), seq, params, progress)
        params["documents"] = self.store.count()
        self._bm25_dirs.publish(version, params)
        self._keyword = None
        backend = self.keyword
        pending = list(self.store.changes_since(seq))  # written while we were building
        if backend is not None and pending:
            backend.apply(pending)
        return params["documents"]

    def pending_changes(self) -> int:
        backend = self.keyword
        seen = backend.indexed_seq if backend else 0
        return sum(1 for _ in self.store.changes_since(seen))

    # -- reading -------------------------------------------------------------------------------
    @property
    def keyword(self) -> KeywordBackend | None:
        current = self._bm25_dirs.current()
        if current is None:
            return None
        if self._keyword is None or current != self._keyword_version:
            self._keyword = open_backend("bm25", current)
            self._keyword.boosts = self.boosts
            self._keyword_version = current
        else:
            self._keyword.reload_if_changed()  # another process may have committed to this version
        return self._keyword

    def search(self, request: SearchRequest | str = "", hydrate: bool = True, **options) -> SearchPage:
        """Run a search. `options` are SearchRequest fields (sort, limit, offset, date_from, …)."""
        if isinstance(request, str):
            request = SearchRequest(query=request, **options)
        elif options:
            request = replace(request, **options)
        parsed = parse_query(request.query) if request.syntax else plain_query(request.query)
        terms = sorted({t for c in parsed.clauses if c.occur != MUST_NOT and not c.is_keyword
                        for t in analyze(c.text)})
        backend = self.keyword
        if backend is None:
            return SearchPage([], 0, request, terms)
        known = self.known_categories() if "-" in request.categories else None
        hits, total = backend.search(parsed, request, known)
        if hydrate:
            self._hydrate(hits, set(terms))
        return SearchPage(hits, total, request, terms)

    def get(self, doc_id: str) -> Document | None:
        return self.store.get(doc_id)

    def related(self, doc_id: str, limit: int = 6) -> list[Hit]:
        """Documents sharing the most weighty words with this one's title and opening (BM25)."""
        document = self.get(doc_id)
        if document is None:
            return []
        opening = (document.summary or document.body)[:400]
        request = SearchRequest(query=f"{document.title}\n{opening}", limit=limit + 1, syntax=False)
        return [h for h in self.search(request).hits if h.doc_id != doc_id][:limit]

    def known_categories(self) -> set[str]:
        return set(self._summary()["categories"])

    def stats(self) -> dict:
        backend = self.keyword
        summary = self._summary()
        return {
            "documents": self.store.count(),
            "store_seq": self.store.seq,
            "indexed_seq": backend.indexed_seq if backend else 0,
            "indexed_documents": backend.num_docs() if backend else 0,
            "index_version": self._keyword_version.name if backend and self._keyword_version else None,
            "languages": summary["languages"],
            "categories": dict(list(summary["categories"].items())[:50]),
            "date_range": summary["date_range"],
        }

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
            if hit.document is not None:
                hit.excerpt = best_excerpt(hit.document, terms)

    def _params(self, seq: int) -> dict:
        return {"kind": "bm25", "engine": "tantivy", "analyzer": ANALYZER_VERSION, "store_seq": seq,
                "built_at": datetime.now(UTC).isoformat(timespec="seconds")}

    def _params_match(self, version: Path | None) -> bool:
        if version is None:
            return False
        params = IndexDirs.read_params(version)
        return params.get("analyzer") == ANALYZER_VERSION


def best_excerpt(document: Document, terms: set[str], width: int = 200) -> list[tuple[str, bool]]:
    """The excerpt (from the summary or the body) showing the most distinct query terms."""
    best: list[tuple[str, bool]] = []
    best_count = -1
    for text in (document.summary, document.body):
        segments = excerpt(text, terms, width)
        count = len({piece.casefold() for piece, is_match in segments if is_match})
        if count > best_count and segments:
            best, best_count = segments, count
    return best
