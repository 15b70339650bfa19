"""The search pipeline behind Engine.search: parse, retrieve (bm25, dense, hybrid, ce-knn), fuse, sort, rerank,
then hydrate hits with documents and excerpts. Functions of the engine; they read its indexes and models through
its public properties (`keyword`, `dense`, `encoder`, `reranker`) and protocols (retrieve/backend.py)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from jiansuo.analysis import analyze, detect_language, excerpt
from jiansuo.analysis.highlight import excerpt_at
from jiansuo.analysis.passages import passage_source
from jiansuo.analysis.plaintext import plain_text
from jiansuo.model import Document, Hit, SearchPage, SearchRequest
from jiansuo.retrieve import fusion
from jiansuo.retrieve.backend import KeywordBackend, VectorBackend
from jiansuo.retrieve.bm25 import EXACT_TITLE_SCORE
from jiansuo.retrieve.dense import meaning_cutoff_of
from jiansuo.retrieve.popularity import by_popularity, popularity_rank
from jiansuo.retrieve.query import MUST, MUST_NOT, ParsedQuery, parse_query, plain_query

if TYPE_CHECKING:
    from jiansuo.engine import Engine

ORDERS = ("date", "popularity")  # the sorts that list every match in an order, ranking nothing
SEMANTIC_DEPTH = 100  # hybrid and dense list this many (more for a deeper page, unless sorted: a fixed set)
PREFERENCE_DEPTH = 100  # sort=preference re-ranks this many of the list's head
PREFERENCE_METHOD = "classifier"  # best on every dev row of bench/preference.py (CISI, MEDLINE; k = 3, 10)


class ModeUnavailable(ValueError):
    """A search mode the store cannot answer (mode=dense without a dense index)."""


def search(engine: Engine, request: SearchRequest | str, hydrate: bool, **options) -> SearchPage:
    if isinstance(request, str):
        request = SearchRequest(query=request, **options)
    elif options:
        request = replace(request, **options)
    if request.sort == "preference":
        return preferred(engine, request, hydrate)
    parsed = parse_query(request.query) if request.syntax else plain_query(request.query)
    terms = sorted({t for c in parsed.clauses if c.occur != MUST_NOT and not c.is_keyword
                    for t in analyze(c.text)})
    backend = engine.keyword
    if backend is None:
        return SearchPage([], 0, request, terms)
    known = engine.known_categories() if request.categories else None
    dense = engine.dense  # one read of the CURRENT pointer per search
    mode = request.mode or ("hybrid" if dense is not None else "bm25")
    if mode == "ce-knn" and engine.backend_kind != "local":
        raise ModeUnavailable("mode=ce-knn reads the embedded dense index; it is not offered on Milvus")
    if mode in ("dense", "hybrid") and dense is None:
        raise ModeUnavailable(f"mode={mode} needs a dense index, and this store has none "
                              f"(build one with `jiansuo index --store {engine.path} --dense`)")
    if not parsed.words:
        mode = "bm25"  # nothing to compare by meaning: only the keyword index can list (and sort) every document
    elif mode == "ce-knn" and request.sort in ORDERS:
        mode = "hybrid"  # a sorted list holds every match: nothing there for the cross-encoder to rank
    parsed = as_listed(parsed, request, mode)
    reranking = request.rerank > 0 and engine.reranker is not None and bool(parsed.words)
    retrieve = replace(request, offset=0, limit=max(request.rerank, request.offset + request.limit)) \
        if reranking else request
    started = time.perf_counter()
    by_meaning_only, matching_words = False, None
    if mode == "ce-knn":
        from jiansuo.rerank import ce_knn

        hits, total, calls = ce_knn.search(engine, backend, parsed, request, known)
        reranking = False
    elif mode == "bm25":
        hits, total = backend.search(parsed, retrieve, known)
        if retrieve.sort == "popularity":
            hits = by_popularity(backend, engine.store, parsed, retrieve, known, hits)
    else:
        hits, total, keyword_total = semantic_search(engine, backend, dense, parsed, retrieve, terms, known, mode)
        by_meaning_only = bool(hits) and keyword_total == 0 and mode == "hybrid"
        if keyword_total is not None and keyword_total < total:
            matching_words = keyword_total
    timings = {"retrieve": (time.perf_counter() - started) * 1000}
    if mode == "ce-knn":
        timings["cross_encoder_calls"] = calls
    if reranking:
        started = time.perf_counter()
        hits = reranked(engine, request, parsed, hits)
        timings["rerank"] = (time.perf_counter() - started) * 1000
    if hydrate:
        hydrate_hits(engine, hits, set(terms))
    return SearchPage(hits, total, request, terms, timings, by_meaning_only, matching_words)


def reranked(engine: Engine, request: SearchRequest, parsed: ParsedQuery, hits: list[Hit]) -> list[Hit]:
    from jiansuo.rerank.cross_encoder import rerank
    from jiansuo.train.pairs import document_text

    text = parsed.words
    head = hits[: request.rerank]
    documents = engine.store.get_many([h.doc_id for h in head])
    texts = {doc_id: document_text(d) for doc_id, d in documents.items()}
    reordered = rerank(engine.reranker, text, hits, texts, request.rerank)
    if request.sort != "relevance":
        return hits[request.offset : request.offset + request.limit]
    return reordered[request.offset : request.offset + request.limit]


def semantic_search(engine: Engine, backend: KeywordBackend, dense: VectorBackend, parsed: ParsedQuery,
                     request: SearchRequest, terms: list[str], known: set[str] | None,
                     mode: str) -> tuple[list[Hit], int, int | None]:
    """Hits, their total, and how many documents matched by keywords (None: not asked, in dense mode)."""
    ordered = request.sort in ORDERS
    depth = SEMANTIC_DEPTH if ordered else max(SEMANTIC_DEPTH, request.offset + request.limit)
    text = parsed.words
    dense_hits: list[Hit] = []
    if text:
        dense_hits = dense.search(engine.query_vector(text, dense), request, depth, known, hubness=engine.hubness)
    if any(c.occur in (MUST, MUST_NOT) for c in parsed.clauses):
        keep = backend.satisfying(parsed, request, [h.doc_id for h in dense_hits], known)
        dense_hits = [h for h in dense_hits if h.doc_id in keep]
    if ordered and mode == "hybrid":
        return matches_in_order(engine, backend, dense, parsed, request, known, dense_hits)
    keyword_total = None
    if mode == "dense":
        # every allowed document has a similarity: the total is how many the filters and required
        # clauses allow, the same on every page (not how deep this page searched)
        hits = dense_hits
        constraints = ParsedQuery([c for c in parsed.clauses if c.occur in (MUST, MUST_NOT)])
        total = len(hits) if ordered else backend.search(
            constraints, replace(request, offset=0, limit=1, sort="relevance"), known)[1]
    else:
        keyword_hits, total = backend.search(parsed, replace(request, offset=0, limit=depth, sort="relevance"),
                                             known)
        cutoff = meaning_cutoff(engine, dense)
        if total == 0 and cutoff is not None and not engine.hubness:
            # nothing matches the words: list only what is close in meaning (bench/meaning_cutoff.py)
            dense_hits = [h for h in dense_hits if h.scores.get("dense", 0.0) >= cutoff]
        hits = fuse(engine, backend, keyword_hits, dense_hits, terms, text)
        keyword_total = total
        total = max(total, len(hits))
    if ordered:
        hits = sorted_hits(engine, hits, request.sort)
    return hits[request.offset : request.offset + request.limit], total, keyword_total


def meaning_cutoff(engine: Engine, dense: VectorBackend) -> float | None:
    """The similarity from which a document is close in meaning to a query (bench/meaning_cutoff.py)."""
    return engine.meaning_cutoff if engine.meaning_cutoff is not None else meaning_cutoff_of(dense)


def matches_in_order(engine: Engine, backend: KeywordBackend, dense: VectorBackend, parsed: ParsedQuery,
                     request: SearchRequest, known: set[str] | None,
                     dense_hits: list[Hit]) -> tuple[list[Hit], int, int]:
    """The page of a hybrid search sorted by date or popularity, its total and how many match the words: every
    document that matches the words, in the keyword index's order, with the hits of `dense_hits` (a fixed-depth
    list, so pages join up) that match by meaning only merged in: those past the meaning cut-off, or with no
    cut-off to go by (an uncalibrated encoder, hubness-rescaled scores) all of them when nothing matches the
    words. Nothing is ranked, so nothing is fused."""
    head = replace(request, offset=0, limit=request.offset + request.limit)
    listed, total = backend.search(parsed, head, known)
    matching = backend.satisfying(parsed, request, [h.doc_id for h in dense_hits], known, whole_query=True)
    cutoff = None if engine.hubness else meaning_cutoff(engine, dense)
    by_meaning = [h for h in dense_hits if h.doc_id not in matching and (
        h.scores.get("dense", 0.0) >= cutoff if cutoff is not None else total == 0)]
    if request.sort == "popularity":
        listed = by_popularity(backend, engine.store, parsed, head, known, listed)
    merged = sorted_hits(engine, listed + by_meaning, request.sort) if by_meaning else listed
    return merged[request.offset : request.offset + request.limit], total + len(by_meaning), total


def sorted_hits(engine: Engine, hits: list[Hit], sort: str) -> list[Hit]:
    """Hits newest first, or by popularity (retrieve/popularity.py), from the store's documents."""
    documents = engine.store.get_many([h.doc_id for h in hits])
    signals = engine.store.reader_signals() if sort == "popularity" else {}

    def key(hit: Hit) -> int:
        document = documents.get(hit.doc_id)
        if document is None:
            return 0
        day = document.date.toordinal() if document.date else 0
        if sort == "date":
            return day
        return popularity_rank(document.reads + document.stars + signals.get(hit.doc_id, 0), day)

    return sorted(hits, key=lambda h: -key(h))


def preferred(engine: Engine, request: SearchRequest, hydrate: bool) -> SearchPage:
    """The list the request would give (by relevance, or newest first without a query), its head re-ranked
    by resemblance to the reader's starred documents (rerank/preference.py)."""
    depth = max(PREFERENCE_DEPTH, request.offset + request.limit)
    base = replace(request, sort="relevance" if request.query.strip() else "date", offset=0, limit=depth)
    page = search(engine, base, hydrate=False)
    hits = page.hits
    if request.prefer and hits:
        scores = preference_scores(engine, [h.doc_id for h in hits], list(request.prefer))
        order = np.argsort(-scores, kind="stable")
        hits = [hits[i] for i in order]
        for hit, score in zip(hits, scores[order], strict=True):
            hit.scores["preference"] = float(score)
    hits = hits[request.offset : request.offset + request.limit]
    if hydrate:
        hydrate_hits(engine, hits, set(page.terms))
    return SearchPage(hits, page.total, request, page.terms, page.timings, page.by_meaning_only, page.matching_words)


def preference_scores(engine: Engine, doc_ids: list[str], starred: list[str], method: str | None = None) -> np.ndarray:
    """How much each document resembles the starred ones (rerank/preference.py)."""
    from jiansuo.rerank import preference

    return preference.resemblance(doc_ids, starred, engine.dense, engine.store, engine.keywords,
                                  method or PREFERENCE_METHOD)


def fuse(engine: Engine, backend: KeywordBackend, keyword_hits: list[Hit], dense_hits: list[Hit],
          terms: list[str], text: str = "") -> list[Hit]:
    """The two lists as one; a document whose title or identifier the query is stays first, as in bm25 mode
    (its words may be nowhere in its text: an arXiv id or a DOI, so coverage alone would rank it by meaning)."""
    fused = _fused(engine, backend, keyword_hits, dense_hits, terms, text)
    exact = {hit.doc_id for hit in keyword_hits if hit.score >= EXACT_TITLE_SCORE}
    return sorted(fused, key=lambda hit: hit.doc_id not in exact) if exact else fused


def _fused(engine: Engine, backend: KeywordBackend, keyword_hits: list[Hit], dense_hits: list[Hit],
           terms: list[str], text: str) -> list[Hit]:
    if engine.fusion_method == "rrf":
        return fusion.rrf([keyword_hits, dense_hits])
    if engine.fusion_method == "weighted":
        return fusion.weighted([keyword_hits, dense_hits], [0.5, 0.5])
    if not keyword_hits:
        coverage, full_at = 0.0, engine.full_coverage_at
    elif cross_language(engine, text):  # the share of the query's information (its terms' IDF) in the best hit
        weights = fusion.idf_weights([backend.document_frequency((t,)) for t in terms], backend.num_docs())
        coverage = backend.coverage(keyword_hits[0].doc_id, terms, weights)
        full_at = fusion.CROSS_LANGUAGE_FULL_AT
    else:
        coverage, full_at = backend.coverage(keyword_hits[0].doc_id, terms), engine.full_coverage_at
    return fusion.confidence_weighted(keyword_hits, dense_hits, coverage, bm25_weight=engine.keyword_weight,
                                      full_at=full_at)


def cross_language(engine: Engine, text: str) -> bool:
    """Whether the query is written in a language that under half the store's documents are in."""
    return bool(text) and engine.store.language_shares().get(detect_language(text), 0.0) < 0.5


def hydrate_hits(engine: Engine, hits: list[Hit], terms: set[str]) -> None:
    documents = engine.store.get_many([h.doc_id for h in hits])
    for hit in hits:
        hit.document = documents.get(hit.doc_id)
        if hit.document is None:
            continue
        hit.excerpt = best_excerpt(hit.document, terms)
        if "passage_start" in hit.scores and not any(m for _, m in hit.excerpt):
            hit.excerpt = passage_excerpt(hit.document, int(hit.scores["passage_start"])) or hit.excerpt

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


def related(engine: Engine, doc_id: str, limit: int = 6) -> list[Hit]:
    """The documents nearest in meaning to this one, or, without a dense index, those sharing its weightiest words.
    The nearest in meaning alone beat them fused with the shared-words list on the dev samples of CSL and arXiv
    (bench/results/related_docs.md)."""
    document = engine.get(doc_id)
    if document is None:
        return []
    hits = nearest_documents(engine, doc_id, limit) or sharing_words(engine, document, limit)
    hydrate_hits(engine, hits, set())
    return hits


def nearest_documents(engine: Engine, doc_id: str, limit: int) -> list[Hit]:
    """The documents nearest to the mean of this one's passage vectors; none without a dense index holding it."""
    dense = engine.dense
    if dense is None or not dense.contains(doc_id):
        return []
    centre = dense.passage_vectors(doc_id).mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-12)
    return [h for h in dense.search(centre, SearchRequest(), limit + 1) if h.doc_id != doc_id][:limit]


def sharing_words(engine: Engine, document: Document, limit: int, query: str = "") -> list[Hit]:
    """BM25 for `query`, by default the document's title and opening, without the document itself."""
    query = query or f"{document.title}\n{(document.summary or document.body)[:400]}"
    request = SearchRequest(query=query, limit=limit + 1, syntax=False, mode="bm25")
    return [h for h in engine.search(request, hydrate=False).hits if h.doc_id != document.id][:limit]


def facets(engine, request: SearchRequest, size: int) -> dict[str, list[tuple[str, int]]]:
    """Label counts (category, venue, tag, month) over what `request` lists, from the keyword index."""
    backend = engine.keyword
    if backend is None:
        return {}
    parsed = as_listed(parse_query(request.query) if request.syntax else plain_query(request.query), request,
                       request.mode)
    known = engine.known_categories() if request.categories else None
    return backend.facets(parsed, request, known, size)


def as_listed(parsed: ParsedQuery, request: SearchRequest, mode: str | None) -> ParsedQuery:
    """The query a list keeps: sorted by date or popularity (other than by meaning alone), every word required."""
    return parsed.every_word_required() if request.sort in ORDERS and mode != "dense" else parsed


def nearest_days(engine, day: date, request: SearchRequest) -> tuple[date | None, date | None]:
    """The closest earlier and later dates that have documents (meeting `request`'s label filters)."""
    backend = engine.keyword
    known = engine.known_categories() if request.categories else None
    return backend.nearest_days(day, request, known) if backend is not None else (None, None)
