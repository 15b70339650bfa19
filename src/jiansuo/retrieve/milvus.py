"""The scale-out backend: keyword and vector search on Milvus through pymilvus's MilvusClient.

A store on Milvus has two collections behind two aliases, `<name>` (one row per document) and `<name>_p` (one row
per passage); a rebuild fills fresh collections and swaps the aliases, as the embedded index swaps `CURRENT`.
The URI decides where Milvus runs: a file path is embedded Milvus Lite (tests, one machine), `http://host:19530`
a Milvus server or cluster.

Keyword search is BM25 over our own analyzer's terms, so Chinese segmentation, stemming and LaTeX terms are
exactly those of the tantivy index, and it scores as tantivy does (`bm25_weights`): each document row holds a
sparse vector of its BM25 term-frequency parts, a query is a sparse vector of boosted IDFs (document frequencies
kept in the store file, `store/term_frequency.py`), and Milvus ranks by their inner product, the boosted sum of
per-field BM25 scores of tantivy's multi-field query. Milvus's own BM25 function is not used: Milvus Lite computes its
IDF and mean length per segment (measured: a document's score moves with the segment it lands in), so the same
query ranked differently from tantivy (LibreOffice zh nDCG@10 -.036). The document side is weighted with the mean
field lengths of the last rebuild; `apply` tracks the live means and reports when they have moved too far.
Milvus's `standard` tokenizer (used for `text_match`) keeps a run of word characters whole and lowercases it; our
terms are lowercase, and a term holding anything else (`x^2`, `c++`, `a_b`) is sent as `_` + its UTF-8 in hex,
one word that no plain term can equal. Required words, exclusions and phrases become `text_match` filters; a phrase is
matched through a field of adjacent-term pairs (Milvus Lite has no phrase match), so "a b" requires the pair
(a, b) somewhere in a field, not that each occurrence is adjacent. Filters are Milvus expressions over the same
casefolded labels the embedded indexes use.

Dense search is Milvus's vector search grouped by document (the best passage scores the document: MaxP).
Not offered on Milvus: hubness reduction (the CSLS penalty lives in the embedded index) and ce-knn (the CUR index
reads the embedded dense index). Sorting by date or popularity and facet counts read every matching row (Milvus
has no sorted query or aggregation): fine for tests and modest stores, a known cost at scale.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from jiansuo.analysis import analyze, cjk_bigrams
from jiansuo.model import Document, Hit, SearchRequest
from jiansuo.retrieve import bm25_weights
from jiansuo.retrieve.bm25 import (
    DEFAULT_BOOSTS,
    EXACT_TITLE_SCORE,
    TEXT_FIELDS,
    exact_keys,
    exact_query_keys,
    whole_title_terms,
)
from jiansuo.retrieve.dense import batches as _batches
from jiansuo.retrieve.fusion import weighted_share
from jiansuo.retrieve.query import MUST, MUST_NOT, Clause, ParsedQuery, category_expression
from jiansuo.store.documents import Change, DocumentStore
from jiansuo.store.term_frequency import TermFrequencies

log = logging.getLogger("jiansuo.milvus")

SCORED_FIELDS = (*TEXT_FIELDS, "cjk")
MAX_TEXT = 1_048_576  # bytes per VARCHAR field (Milvus's limit); longer analysed text is cut
MAX_ID = 4096
MAX_LABELS = 1024
MAX_EXACT_KEYS = 16  # a title and the document's identifiers
PAGE = 16_384  # Milvus's largest search or query page
BATCH = 500
_PLAIN = re.compile(r"[^\W_]+")
_clients: dict[str, Any] = {}
# documents -> per document, its passages' (start, end) spans and their vectors
PassageVectors = Callable[[list[Document]], list[tuple[list[tuple[int, int]], np.ndarray]]]
_clients_lock = threading.Lock()
ALIAS_TTL_S = 5.0


def client_for(uri: str):
    """One MilvusClient per URI and process (Milvus Lite allows one per database file)."""
    try:
        from pymilvus import MilvusClient
    except ImportError as error:
        raise RuntimeError("the Milvus backend needs: pip install 'jiansuo[milvus]'") from error
    with _clients_lock:
        if uri not in _clients:
            _clients[uri] = MilvusClient(uri)
        return _clients[uri]


def milvus_term(term: str) -> str:
    """Our term as one word Milvus's standard tokenizer keeps whole (see the module docstring)."""
    return term if _PLAIN.fullmatch(term) else "_" + term.encode("utf-8").hex()


def _pair(field: str, first: str, second: str) -> str:
    return "_" + f"{field}\x00{first}\x00{second}".encode().hex()


def _text(terms: Iterable[str]) -> str:
    joined = " ".join(milvus_term(t) for t in terms)
    if len(joined.encode("utf-8")) > MAX_TEXT:
        joined = joined.encode("utf-8")[:MAX_TEXT].decode("utf-8", "ignore").rsplit(" ", 1)[0]
    return joined


def _literal(value: str) -> str:
    """A Milvus expression string literal."""
    return json.dumps(value, ensure_ascii=False)


def _labels(values: Iterable[str], casefold: bool = True) -> list[str]:
    out = [(v.casefold() if casefold else v)[:MAX_LABELS] for v in values if v]
    return out[:MAX_LABELS] or []


def analysed(document: Document) -> dict[str, list[str]]:
    """A document's terms per scored field, as the tantivy index holds them."""
    return {"title": analyze(document.title), "summary": analyze(document.summary),
            "body": analyze(document.body), "authors": analyze(" ; ".join(document.authors)),
            "cjk": cjk_bigrams("\n".join((document.title, document.summary, document.body)))}


def encoded(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    """Terms as Milvus holds them (`milvus_term`): what the BM25 dimensions are hashed from."""
    return {field: [milvus_term(t) for t in terms] for field, terms in fields.items()}


def document_row(document: Document, mean_length: dict[str, float]) -> dict:
    """A document's row in the documents collection, its BM25 side weighted with `mean_length` per field."""
    fields = analysed(document)
    pairs = [_pair(name, a, b) for name, terms in fields.items() for a, b in zip(terms, terms[1:], strict=False)]
    return {"id": document.id, **{name: _text(terms) for name, terms in fields.items()},
            **{f"length_{name}": len(terms) for name, terms in fields.items()},
            "bm25": bm25_weights.document_weights(encoded(fields), mean_length),
            "pairs": " ".join(sorted(set(pairs)))[:MAX_TEXT].rsplit(" ", 1)[0] if pairs else "",
            "title_exact": exact_keys(document)[:MAX_EXACT_KEYS], **label_fields(document)}


def label_fields(document: Document) -> dict:
    """The filterable and countable fields shared by both collections."""
    return {"day": document.date.toordinal() if document.date else 0,
            "categories": _labels(document.categories), "tags": _labels(document.tags),
            "venue": document.venue.casefold()[:MAX_LABELS], "language": (document.language or "").casefold()[:64],
            "categories_shown": _labels(document.categories, False), "tags_shown": _labels(document.tags, False),
            "venue_shown": document.venue[:MAX_LABELS],
            "month_shown": document.date_label()[:7]}  # a year-only date counts as its year, as on tantivy


def filter_expression(request: SearchRequest, known_categories: set[str] | None) -> list[str]:
    """The request's date and label filters as Milvus expressions (the meaning of dense.allowed_docs)."""
    parts = []
    if request.date_from:
        parts.append(f"day >= {request.date_from.toordinal()}")
    if request.date_to:
        parts.append(f"(day <= {request.date_to.toordinal()} and day > 0)")
    if request.categories:
        known = {c.casefold() for c in known_categories} if known_categories is not None else None
        include, exclude = category_expression(request.categories.casefold(), known)
        if include:
            parts.append(f"array_contains_any(categories, [{', '.join(_literal(c) for c in include)}])")
        parts += [f"not array_contains(categories, {_literal(c)})" for c in exclude]
    if request.venue:
        parts.append(f"venue == {_literal(request.venue.strip().casefold())}")
    if request.tag:
        parts.append(f"array_contains(tags, {_literal(request.tag.strip().casefold())})")
    return parts


def _means(lengths: dict) -> dict[str, float]:
    return {field: total / max(1, lengths["documents"]) for field, total in lengths["tokens"].items()}


def _all(parts: list[str]) -> str:
    return " and ".join(f"({p})" for p in parts)


class MilvusIndex:
    """Both backends of one store on Milvus: `keyword` methods here, vectors through `vectors()`."""

    def __init__(self, uri: str, name: str, store: DocumentStore):
        self.uri, self.name, self.store = uri, name, store
        self.client = client_for(uri)
        self.terms = TermFrequencies(store.path)
        self.boosts = dict(DEFAULT_BOOSTS)
        self._aliases: dict[str, tuple[float, str | None]] = {}

    # -- state --------------------------------------------------------------------------------
    @property
    def indexed_seq(self) -> int:
        return int(self.store.get_meta(f"milvus_seq:{self.name}") or 0)

    def exists(self) -> bool:
        return self._live() is not None

    def load(self) -> None:
        """Load the live collections for search (a collection opened by another process starts released)."""
        for suffix in ("", "_p"):
            live = self._live(suffix)
            if live is not None and "Loaded" not in str(self.client.get_load_state(live).get("state")):
                self.client.load_collection(live)

    def _live(self, suffix: str = "") -> str | None:
        """The collection behind alias `name + suffix`, or None; looked up at most every ALIAS_TTL_S seconds
        (another process's rebuild is seen within that time, this process's at once)."""
        alias = self.name + suffix
        known = self._aliases.get(alias)
        if known is not None and time.monotonic() - known[0] < ALIAS_TTL_S:
            return known[1]
        live = (self.client.describe_alias(alias)["collection_name"]
                if alias in self.client.list_aliases().get("aliases", []) else None)
        self._aliases[alias] = (time.monotonic(), live)
        return live

    def num_docs(self) -> int:
        return int(self.client.query(self.name, filter="", output_fields=["count(*)"])[0]["count(*)"])

    def reload_if_changed(self) -> None:
        """Milvus serves every committed write; nothing to reload."""

    # -- building -----------------------------------------------------------------------------
    def rebuild(self, documents: Callable[[], Iterable[Document]], seq: int, vectors: PassageVectors | None = None,
                dim: int = 0, progress: Callable[[int], None] | None = None) -> int:
        """Fill fresh collections (documents, and passages when `vectors` is given), then swap the aliases.
        `documents` is read (and analysed) twice: first for the mean field lengths BM25 weights every row with."""
        stamp = f"v{time.time_ns()}"
        docs, passages = f"{self.name}_{stamp}", f"{self.name}_p_{stamp}"
        lengths: dict = {"documents": 0, "tokens": dict.fromkeys(SCORED_FIELDS, 0)}
        for document in documents():
            lengths["documents"] += 1
            for field, terms in analysed(document).items():
                lengths["tokens"][field] += len(terms)
        lengths["weighted"] = _means(lengths)
        frequency: Counter[int] = Counter()
        self._create_documents(docs)
        if vectors is not None:
            self._create_passages(passages, dim)
        count = 0
        for batch in _batches(documents(), BATCH):
            rows = [document_row(d, lengths["weighted"]) for d in batch]
            self.client.insert(docs, rows)
            for row in rows:
                frequency.update(bm25_weights.held_dimensions(row["bm25"]))
            if vectors is not None:
                rows = [row for d, found in zip(batch, vectors(batch), strict=True) for row in passage_rows(d, *found)]
                if rows:
                    self.client.insert(passages, rows)
            count += len(batch)
            if progress:
                progress(len(batch))
        self.client.flush(docs)
        self.terms.replace(docs, frequency)
        self.store.set_meta(f"milvus_lengths:{docs}", json.dumps(lengths))
        self._swap(self.name, docs)
        if vectors is not None:
            self.client.flush(passages)
            self._swap(self.name + "_p", passages)
        self.store.set_meta(f"milvus_seq:{self.name}", str(seq))
        return count

    def apply(self, changes: Iterable[Change], progress: Callable[[int], None] | None = None,
              vectors: PassageVectors | None = None) -> int:
        """Upsert changed documents and delete removed ones (passages too), then record the store sequence."""
        changes = list(changes)
        has_passages = self._live("_p") is not None
        live = self._live()
        lengths = self.lengths(live)
        frequency: Counter[int] = Counter()
        for batch in _batches(changes, BATCH):
            ids = [c.doc_id[:MAX_ID] for c in batch]
            for row in self.client.query(self.name, filter=f"id in [{', '.join(_literal(i) for i in ids)}]",
                                         output_fields=["bm25", *(f"length_{field}" for field in SCORED_FIELDS)]):
                lengths["documents"] -= 1
                frequency.subtract(bm25_weights.held_dimensions(row["bm25"]))  # {dimension: weight}
                for field in SCORED_FIELDS:
                    lengths["tokens"][field] -= row[f"length_{field}"]
            gone = [c.doc_id[:MAX_ID] for c in batch if c.document is None]
            if gone:
                self.client.delete(self.name, ids=gone)
            kept = [c.document for c in batch if c.document is not None]
            if kept:
                rows = [document_row(d, lengths["weighted"]) for d in kept]
                self.client.upsert(self.name, rows)
                lengths["documents"] += len(rows)
                for row in rows:
                    frequency.update(bm25_weights.held_dimensions(row["bm25"]))
                    for field in SCORED_FIELDS:
                        lengths["tokens"][field] += row[f"length_{field}"]
            if has_passages:
                self.client.delete(self.name + "_p", filter=f"doc_id in [{', '.join(_literal(i) for i in ids)}]")
                if vectors is not None and kept:
                    rows = [row for d, found in zip(kept, vectors(kept), strict=True)
                            for row in passage_rows(d, *found)]
                    if rows:
                        self.client.insert(self.name + "_p", rows)
            if progress:
                progress(len(batch))
        if changes:
            self.client.flush(self.name)
            self.store.set_meta(f"milvus_lengths:{live}", json.dumps(lengths))
            if live:
                self.terms.add(live, frequency)
            seq = max(self.indexed_seq, *(c.seq for c in changes))
            self.store.set_meta(f"milvus_seq:{self.name}", str(seq))
        return len(changes)

    def lengths(self, live: str | None = None) -> dict:
        """The field lengths of the live collection (or of `live`, its name already looked up): `documents`,
        `tokens` per field (totals now) and `weighted` (the mean lengths its rows' BM25 weights were computed
        with); empty for a collection built before them."""
        live = live or self._live()
        return json.loads(self.store.get_meta(f"milvus_lengths:{live}") or "{}") if live else {}

    def stale(self) -> bool:
        """Whether the mean field lengths have moved so far since the rebuild that every row needs re-weighting."""
        lengths = self.lengths()
        return bool(lengths) and bm25_weights.stale(lengths["weighted"], _means(lengths))

    def drop(self) -> None:
        self._aliases.clear()
        for suffix in ("", "_p"):
            live = self._live(suffix)
            if live:
                self.client.drop_alias(self.name + suffix)
                self.client.drop_collection(live)
                self.terms.drop(live)

    def _swap(self, alias: str, collection: str) -> None:
        self._aliases.clear()
        old = self._live(alias[len(self.name):])
        if old is None:
            self.client.create_alias(collection, alias)
        else:
            self.client.alter_alias(collection, alias)
            self.client.drop_collection(old)
            self.terms.drop(old)
        self._aliases.clear()

    def _create_documents(self, name: str) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False)
        schema.add_field("id", DataType.VARCHAR, max_length=MAX_ID, is_primary=True)
        analyzer = {"tokenizer": "standard"}
        for field in SCORED_FIELDS:
            schema.add_field(field, DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True,
                             analyzer_params=analyzer, enable_match=True)
            schema.add_field(f"length_{field}", DataType.INT64)
        schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("pairs", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True,
                         analyzer_params=analyzer, enable_match=True)
        schema.add_field("title_exact", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_EXACT_KEYS,
                         max_length=MAX_LABELS)
        self._label_schema(schema)
        index = self.client.prepare_index_params()
        index.add_index("bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        self.client.create_collection(name, schema=schema, index_params=index)

    def _create_passages(self, name: str, dim: int) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=True)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=MAX_ID)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        self._label_schema(schema)
        index = self.client.prepare_index_params()
        index.add_index("vector", index_type="HNSW" if not self.uri.endswith(".db") else "FLAT", metric_type="IP",
                        params={"M": 16, "efConstruction": 200} if not self.uri.endswith(".db") else {})
        self.client.create_collection(name, schema=schema, index_params=index)

    @staticmethod
    def _label_schema(schema) -> None:
        from pymilvus import DataType

        schema.add_field("day", DataType.INT64)
        for field in ("categories", "tags", "categories_shown", "tags_shown"):
            schema.add_field(field, DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_LABELS,
                             max_length=MAX_LABELS)
        for field in ("venue", "language", "venue_shown", "month_shown"):
            schema.add_field(field, DataType.VARCHAR, max_length=MAX_LABELS)

    # -- keyword search ---------------------------------------------------------------------------
    def search(self, query: ParsedQuery, request: SearchRequest,
               known_categories: set[str] | None = None) -> tuple[list[Hit], int]:
        constraints = self._constraints(query, request, known_categories)
        if constraints is None:
            return [], 0
        scoring = self._scoring_terms(query)
        matches = _all(constraints + ([self._any_term(scoring)] if any(scoring.values()) else []))
        total = self._count(matches)
        want = request.offset + max(1, request.limit)
        if request.sort in ("date", "popularity") or not any(scoring.values()):
            rows = list(self._rows(matches, ["id", "day"]))
            if request.sort == "popularity":
                from jiansuo.retrieve.popularity import popularity_rank

                documents = self.store.get_many([r["id"] for r in rows])
                value = {d.id: popularity_rank(d.reads + d.stars, r["day"])
                         for r in rows if (d := documents.get(r["id"])) is not None}
                rows.sort(key=lambda r: (-value.get(r["id"], 0), r["id"]))
            elif request.sort == "date":
                rows.sort(key=lambda r: (-r["day"], r["id"]))
            page = rows[request.offset : want]
            hits = [Hit(r["id"], 0.0, {"bm25": 0.0}) for r in page]
            return self._exact_title_first(hits, query, constraints, request), total
        terms = encoded(scoring)
        live = self._live()
        lengths = self.lengths(live)
        wanted = [bm25_weights.term_dimension(field, t) for field, found in terms.items() for t in found]
        weights = bm25_weights.query_weights(terms, self.terms.of(live or "", wanted), lengths.get("documents", 0),
                                             self.boosts)
        scores: dict[str, float] = {}
        if weights:
            # only rows sharing a dimension with the query come back, and those hold one of its terms
            found = self.client.search(self.name, data=[weights], anns_field="bm25", limit=min(PAGE, want),
                                       filter=_all(constraints), output_fields=["id"],
                                       search_params={"metric_type": "IP"})
            scores = {row["id"]: float(row["distance"]) for row in found[0]}
            self._add_whole_title_scores(scores, query, constraints, weights, live, lengths)
        for doc_id in self._exact_titles(query, constraints):
            scores[doc_id] = scores.get(doc_id, 0.0) + EXACT_TITLE_SCORE
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[request.offset : want]
        return [Hit(doc_id, score, {"bm25": score}) for doc_id, score in ranked], max(total, len(scores))

    def satisfying(self, query: ParsedQuery, request: SearchRequest, doc_ids: list[str] | None,
                   known_categories: set[str] | None = None, whole_query: bool = False) -> set[str]:
        constraints = self._constraints(query, request, known_categories)
        if constraints is None or (doc_ids is not None and not doc_ids):
            return set()
        if whole_query:
            scoring = self._scoring_terms(query)
            if any(scoring.values()):
                constraints.append(self._any_term(scoring))
        if doc_ids is not None:
            constraints.append(f"id in [{', '.join(_literal(d) for d in doc_ids)}]")
        return {row["id"] for row in self._rows(_all(constraints), ["id"])}

    def facets(self, query: ParsedQuery, request: SearchRequest, known_categories: set[str] | None = None,
               size: int = 20) -> dict[str, list[tuple[str, int]]]:
        constraints = self._constraints(query, request, known_categories)
        counts: dict[str, Counter[str]] = {facet: Counter() for facet in ("category", "venue", "tag", "month")}
        if constraints is not None:
            scoring = self._scoring_terms(query)
            expression = _all(constraints + ([self._any_term(scoring)] if any(scoring.values()) else []))
            for row in self._rows(expression, ["categories_shown", "tags_shown", "venue_shown", "month_shown"]):
                counts["category"].update(row["categories_shown"])
                counts["tag"].update(row["tags_shown"])
                if row["venue_shown"]:
                    counts["venue"][row["venue_shown"]] += 1
                if row["month_shown"]:
                    counts["month"][row["month_shown"]] += 1
        out = {facet: sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
               for facet, found in counts.items() if facet != "month"}
        out["month"] = sorted(counts["month"].items(), reverse=True)
        return out

    def nearest_days(self, day: date, request: SearchRequest,
                     known_categories: set[str] | None = None) -> tuple[date | None, date | None]:
        bounded = replace(request, date_from=None, date_to=None)
        base = self._constraints(ParsedQuery([]), bounded, known_categories) or []
        days = [row["day"] for row in self._rows(_all(base + ["day > 0"]) if base else "day > 0", ["day"])]
        before = [d for d in days if d < day.toordinal()]
        after = [d for d in days if d > day.toordinal()]
        return (date.fromordinal(max(before)) if before else None, date.fromordinal(min(after)) if after else None)

    def document_frequency(self, terms: tuple[str, ...]) -> int:
        if len(terms) == 1:  # from the kept counts, as tantivy reads its own: keywords ask this of many terms
            word = milvus_term(terms[0])
            dims = [bm25_weights.term_dimension(field, word) for field in ("title", "summary", "body")]
            found = self.terms.of(self._live() or "", dims)
            return max(found.get(dim, 0) for dim in dims)
        anywhere = [_all([f'text_match(pairs, "{_pair(field, a, b)}")' for a, b in zip(terms, terms[1:], strict=False)])
                    for field in ("title", "summary", "body")]
        return self._count(" or ".join(f"({a})" for a in anywhere))

    def coverage(self, doc_id: str, terms: list[str], weights: list[float] | None = None) -> float:
        if not terms:
            return 0.0
        rows = self.client.query(self.name, filter=f"id == {_literal(doc_id)}", output_fields=list(TEXT_FIELDS))
        if not rows:
            return 0.0
        present = {word for field in TEXT_FIELDS for word in rows[0][field].split()}
        return weighted_share([milvus_term(t) in present for t in terms], weights)

    # -- query compilation ------------------------------------------------------------------------
    def _constraints(self, query: ParsedQuery, request: SearchRequest,
                     known_categories: set[str] | None) -> list[str] | None:
        """Required and excluded clauses (label clauses included) and the filters; None: nothing can match."""
        parts = filter_expression(request, known_categories)
        for clause in query.clauses:
            if clause.occur not in (MUST, MUST_NOT):
                continue
            matched = self._match(clause)
            if matched is None:
                if clause.occur == MUST:
                    return None
                continue
            parts.append(matched if clause.occur == MUST else f"not ({matched})")
        return parts

    def _match(self, clause: Clause) -> str | None:
        """An expression true where the clause matches (the meaning of bm25._clause), or None."""
        if clause.any_of:
            members = [m for m in (self._match(member) for member in clause.any_of) if m is not None]
            return " or ".join(f"({m})" for m in members) if members else None
        if clause.is_keyword and clause.field is not None:
            value = _literal(clause.text.casefold())
            if clause.field in ("categories", "tags"):
                return f"array_contains({clause.field}, {value})"
            return f"{clause.field} == {value}"
        fields = [clause.field] if clause.field else list(TEXT_FIELDS)
        terms = analyze(clause.text)
        grams = cjk_bigrams(clause.text) if not clause.field else []
        options = []
        if clause.phrase and len(terms) > 1:
            options += [_all([f'text_match(pairs, "{_pair(field, a, b)}")'
                              for a, b in zip(terms, terms[1:], strict=False)]) for field in fields]
            if grams and not re.search(r"[0-9A-Za-z\\]", clause.text):
                options.append(_all([f'text_match(pairs, "{_pair("cjk", a, b)}")'
                                     for a, b in zip(grams, grams[1:], strict=False)])
                               if len(grams) > 1 else f'text_match(cjk, "{milvus_term(grams[0])}")')
        else:
            if terms:
                options += [f'text_match({field}, "{_text(terms)}")' for field in fields]
            if grams:
                options.append(f'text_match(cjk, "{_text(grams)}")')
        return " or ".join(f"({o})" for o in options) if options else None

    @staticmethod
    def _scoring_terms(query: ParsedQuery) -> dict[str, list[str]]:
        """Per field, the terms whose BM25 scores a document (every positive, non-label clause's terms)."""
        terms: dict[str, list[str]] = {field: [] for field in SCORED_FIELDS}

        def add(clause: Clause) -> None:
            for member in clause.any_of:
                add(member)
            if clause.any_of or clause.is_keyword:
                return
            words = analyze(clause.text)
            for field in [clause.field] if clause.field else TEXT_FIELDS:
                terms[field] += words
            if not clause.field:
                terms["cjk"] += cjk_bigrams(clause.text)

        for clause in query.clauses:
            if clause.occur != MUST_NOT:
                add(clause)
        return terms

    @staticmethod
    def _any_term(scoring: dict[str, list[str]]) -> str:
        return " or ".join(f'text_match({field}, "{_text(terms)}")' for field, terms in scoring.items() if terms)

    def _add_whole_title_scores(self, scores: dict[str, float], query: ParsedQuery, constraints: list[str],
                                weights: dict[int, float], live, lengths: dict) -> None:
        """tantivy's `title_all` clause: a document whose title holds every word of the query gains its title's
        BM25 of those words at that weight; one outside `scores` first gets its whole score."""
        weight = self.boosts.get("title_all", 0.0)
        terms = encoded({"title": whole_title_terms(query)})["title"]
        if weight <= 0 or not terms:
            return
        wanted = [bm25_weights.term_dimension("title", t) for t in terms]
        title = bm25_weights.query_weights({"title": terms}, self.terms.of(live or "", wanted),
                                           lengths.get("documents", 0), {"title": 1.0})
        every = [f'text_match(title, "{_text([t])}")' for t in terms]
        found = self.client.search(self.name, data=[title], anns_field="bm25", limit=PAGE,
                                   filter=_all(constraints + every), output_fields=["id"],
                                   search_params={"metric_type": "IP"}) if title else [[]]
        bonus = {row["id"]: weight * float(row["distance"]) for row in found[0]}
        missing = [doc_id for doc_id in bonus if doc_id not in scores]
        if missing:
            rest = self.client.search(self.name, data=[weights], anns_field="bm25", limit=len(missing),
                                      filter=_all([*constraints, f"id in [{', '.join(map(_literal, missing))}]"]),
                                      output_fields=["id"], search_params={"metric_type": "IP"})
            scores.update((row["id"], float(row["distance"])) for row in rest[0])
        for doc_id, gain in bonus.items():
            scores[doc_id] = scores.get(doc_id, 0.0) + gain

    def _exact_titles(self, query: ParsedQuery, constraints: list[str]) -> list[str]:
        keys = exact_query_keys(query.words)
        if not keys:
            return []
        matching = f"array_contains_any(title_exact, [{', '.join(_literal(key) for key in keys)}])"
        rows = self.client.query(self.name, filter=_all([*constraints, matching]), output_fields=["id"], limit=100)
        return [row["id"] for row in rows]

    def _exact_title_first(self, hits: list[Hit], query: ParsedQuery, constraints: list[str],
                           request: SearchRequest) -> list[Hit]:
        if request.sort != "relevance":
            return hits
        exact = set(self._exact_titles(query, constraints))
        return sorted(hits, key=lambda h: h.doc_id not in exact)

    def _count(self, expression: str) -> int:
        rows = self.client.query(self.name, filter=expression, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def _rows(self, expression: str, fields: list[str], collection: str | None = None) -> Iterator[dict]:
        """Every row matching `expression` (paged through a query iterator)."""
        iterator = self.client.query_iterator(collection or self.name, batch_size=PAGE // 4, filter=expression,
                                              output_fields=fields)
        try:
            while True:
                batch = iterator.next()
                if not batch:
                    return
                yield from batch
        finally:
            iterator.close()

    # -- vectors ----------------------------------------------------------------------------------
    def vectors(self, encoder_name: str, centering: str | None = None) -> MilvusVectors | None:
        """The vector side, or None when this store's Milvus index holds no passages."""
        return MilvusVectors(self, encoder_name, centering) if self._live("_p") is not None else None


def passage_rows(document: Document, spans: list[tuple[int, int]], matrix: np.ndarray) -> list[dict]:
    labels = label_fields(document)
    return [{"doc_id": document.id[:MAX_ID], "start": int(start), "end": int(end),
             "vector": vector.astype(np.float32).tolist(), **labels}
            for (start, end), vector in zip(spans, matrix, strict=True)]


class MilvusVectors:
    """The VectorBackend of a store on Milvus: MaxP search is a vector search grouped by document."""

    def __init__(self, index: MilvusIndex, encoder_name: str, centering: str | None = None):
        self.index = index
        self.client = index.client
        self.collection = index.name + "_p"
        self._encoder_name, self._centering = encoder_name, centering
        described = self.client.describe_collection(self.collection)
        self._dim = next(int(f["params"]["dim"]) for f in described["fields"] if f["name"] == "vector")

    @property
    def indexed_seq(self) -> int:
        return self.index.indexed_seq

    @property
    def encoder_name(self) -> str:
        return self._encoder_name

    @property
    def centering(self) -> str | None:
        return self._centering

    @property
    def dim(self) -> int:
        return self._dim

    def search(self, query: np.ndarray, request: SearchRequest, k: int = 100,
               known_categories: set[str] | None = None, hubness: bool = False) -> list[Hit]:
        if hubness:
            raise ValueError("hubness reduction is not offered on the Milvus backend")
        found = self.client.search(self.collection, data=[query.astype(np.float32).tolist()], anns_field="vector",
                                   limit=min(PAGE, k), group_by_field="doc_id",
                                   filter=_all(filter_expression(request, known_categories)),
                                   output_fields=["doc_id", "start", "end"])
        return [Hit(row["entity"]["doc_id"], float(row["distance"]),
                    {"dense": float(row["distance"]), "passage_start": int(row["entity"]["start"]),
                     "passage_end": int(row["entity"]["end"])}) for row in found[0]]

    def contains(self, doc_id: str) -> bool:
        return bool(self.client.query(self.collection, filter=f"doc_id == {_literal(doc_id)}",
                                      output_fields=["pk"], limit=1))

    def doc_ids(self) -> list[str]:
        return sorted({row["doc_id"] for row in self.index._rows("", ["doc_id"], self.collection)})

    def passage_vectors(self, doc_id: str) -> np.ndarray:
        rows = self.client.query(self.collection, filter=f"doc_id == {_literal(doc_id)}",
                                 output_fields=["vector", "start"], limit=PAGE)
        rows.sort(key=lambda r: r["start"])
        return np.array([r["vector"] for r in rows], dtype=np.float32).reshape(-1, self._dim)

    def document_vectors(self, doc_ids: list[str]) -> np.ndarray:
        out = np.zeros((len(doc_ids), self._dim), dtype=np.float32)
        for row, doc_id in enumerate(doc_ids):
            vectors = self.passage_vectors(doc_id)
            if len(vectors):
                mean = vectors.mean(axis=0)
                out[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return out

    def num_docs(self) -> int:
        return self.index.num_docs()

    def num_passages(self) -> int:
        rows = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0


def collection_name(store_path: str) -> str:
    """A Milvus collection name (letters, digits, underscores) unique to a store folder."""
    import hashlib

    return "jiansuo_" + hashlib.sha1(store_path.encode()).hexdigest()[:12]


class MilvusBackends:
    """A store's indexes on Milvus, as the engine opens, refreshes and rebuilds them.

    The choice and its settings live in the store's meta table (`backend`: kind, uri, collection name, analyzer
    version, encoder), so `search` and `serve` follow what `index --backend milvus` chose, and a web node needs the
    store file and the Milvus URI only, no index folder."""

    kind = "milvus"

    def __init__(self, store: DocumentStore, config: dict, analyzer: str, embed: Callable[[list[str]], np.ndarray],
                 centering: Callable[[str], str | None], dim: Callable[[], int]):
        self.store, self.config, self.analyzer, self.embed, self.dim = store, config, analyzer, embed, dim
        self.centering_of = centering  # encoder name -> the centering its new vectors get
        self.index = MilvusIndex(config["uri"], config["name"], store)
        self._vectors: MilvusVectors | None = None
        self._loaded = False
        from jiansuo.analysis.tokenize import add_user_words

        add_user_words(json.loads(store.get_meta("milvus_user_words") or "[]"))

    def keyword(self) -> MilvusIndex | None:
        if not self.index.exists():
            return None
        if not self.current(None):
            log.warning("the Milvus index was built by another analyzer version; rebuilding")
            self.rebuild(None)
        if not self._loaded:
            self.index.load()
            self._loaded = True
        return self.index

    def dense(self) -> MilvusVectors | None:
        encoder = self.config.get("encoder")
        if not encoder:
            return None
        if self._vectors is None and self.keyword() is not None:
            self._vectors = self.index.vectors(encoder, self.config.get("centering"))
        return self._vectors

    def current(self, encoder: str | None) -> bool:
        """Whether the live collections were built by this analyzer (and `encoder`, when one is asked for)."""
        return (self.index.exists() and self.config.get("analyzer") == self.analyzer and bool(self.index.lengths())
                and (encoder is None or (encoder == self.config.get("encoder")
                                         and self.centering_of(encoder) == self.config.get("centering"))))

    def refresh(self, encoder: str | None, progress: Callable[[int], None] | None = None,
                dense_progress: Callable[[int], None] | None = None) -> int:
        """Apply the store's changes to both collections (one pass: `dense_progress` is not counted apart)."""
        if not self.current(encoder):
            return self.rebuild(encoder, progress)
        pending = list(self.store.changes_since(self.index.indexed_seq))
        vectors = self.passage_vectors if self.config.get("encoder") else None
        applied = self.index.apply(pending, progress, vectors) if pending else 0
        if self.index.stale():
            log.info("mean field lengths moved more than %.0f%% since the last rebuild; re-weighting every document",
                     100 * bm25_weights.STALE)
            return self.rebuild(encoder)
        return applied

    def refresh_dense(self, encoder: str | None, progress: Callable[[int], None] | None = None) -> int:
        return self.refresh(encoder, progress)

    def rebuild(self, encoder: str | None, progress: Callable[[int], None] | None = None) -> int:
        """New collections from the store, swapped in; `encoder` None: the one the live ones have."""
        from jiansuo.analysis.tokenize import add_user_words, user_words

        encoder = encoder or self.config.get("encoder")
        words = user_words(author for document in self.store.documents() for author in document.authors)
        add_user_words(words)
        self.store.set_meta("milvus_user_words", json.dumps(sorted(words)))
        seq = self.store.seq
        self.config.update({"analyzer": self.analyzer, "encoder": encoder,
                            "centering": self.centering_of(encoder) if encoder else None})
        count = self.index.rebuild(self.store.documents, seq, self.passage_vectors if encoder else None,
                                   self.dim() if encoder else 0, progress)
        self.store.set_meta("backend", json.dumps(self.config))
        self._vectors = None
        pending = list(self.store.changes_since(seq))  # written while we were building
        if pending:
            self.index.apply(pending, None, self.passage_vectors if encoder else None)
        return count

    def passage_vectors(self, documents: list[Document]) -> list[tuple[list[tuple[int, int]], np.ndarray]]:
        from jiansuo.analysis.passages import split_passages

        passages = [split_passages(d) for d in documents]
        texts = [p.text for found in passages for p in found]
        matrix = self.embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        out, start = [], 0
        for found in passages:
            out.append(([(p.start, p.end) for p in found], matrix[start : start + len(found)]))
            start += len(found)
        return out


def remote_indexes(store: DocumentStore, path: Path, backend: str | None, milvus_uri: str | None, analyzer: str,
                   embed: Callable[[list[str]], np.ndarray],
                   centering: Callable[[str], str | None], dim: Callable[[], int]) -> MilvusBackends | None:
    """The Milvus indexes when the store uses (or is now told to use) Milvus; None for the local ones. The choice
    is written to the store's meta table, so later engines on the store follow it without being told."""
    config = json.loads(store.get_meta("backend") or '{"kind": "local"}')
    if backend == "milvus":
        if not milvus_uri:
            raise ValueError("the milvus backend needs a URI (a file path for Milvus Lite, or http://host:19530)")
        uri = milvus_uri if "://" in milvus_uri else str(Path(milvus_uri).resolve())
        if config.get("kind") != "milvus" or config.get("uri") != uri:
            config = {"kind": "milvus", "uri": uri, "name": collection_name(str(path.resolve()))}
            store.set_meta("backend", json.dumps(config))
    elif backend == "local" and config.get("kind") != "local":
        config = {"kind": "local"}
        store.set_meta("backend", json.dumps(config))
    elif backend not in (None, "local"):
        raise ValueError(f"unknown backend {backend!r}: local or milvus")
    return MilvusBackends(store, config, analyzer, embed, centering, dim) if config.get("kind") == "milvus" else None
