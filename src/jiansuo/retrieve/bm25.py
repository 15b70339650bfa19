"""BM25 keyword retrieval on tantivy, with text pre-analysed by `jiansuo.analysis`.

Every text field is indexed as our own terms joined by spaces (tantivy's whitespace tokenizer), so
Chinese segmentation, stemming and LaTeX handling are identical at index and query time. A query
term is looked up in every text field with that field's boost and the per-field BM25 scores add up
(as Lucene's multi-field query parser does). Filters score zero.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from pathlib import Path

import tantivy

from jiansuo.analysis import analyze, cjk_bigrams
from jiansuo.analysis.identifiers import canonical, identifiers
from jiansuo.analysis.tokenize import add_user_words, simplified, user_words
from jiansuo.model import Document, Hit, SearchRequest
from jiansuo.retrieve.fusion import weighted_share
from jiansuo.retrieve.popularity import popularity_rank
from jiansuo.retrieve.query import MUST, MUST_NOT, Clause, ParsedQuery, category_expression
from jiansuo.store.documents import Change
from jiansuo.store.index_dirs import IndexDirs

# title_all: a title that holds every word of the query scores its title's BM25 once more at this weight (an
# index entry such as 数据透视表 筛选 names its page; the longer word's many body and bigram matches outweigh
# the shorter one's otherwise). Chosen on dev queries, bench/title_coverage.py.
DEFAULT_BOOSTS = {"title": 1.0, "summary": 1.0, "body": 1.0, "authors": 1.0, "cjk": 1.0, "title_all": 2.0}
TEXT_FIELDS = ("title", "summary", "body", "authors")
KEYWORD_FIELDS = ("categories", "tags", "venue", "language")
FACETS = {"category": "facet_categories", "venue": "facet_venue", "tag": "facet_tags", "month": "facet_month"}
WRITER_HEAP = 128_000_000
Occur = tantivy.Occur
_NON_CJK = re.compile(r"[0-9A-Za-z\\]")


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in (*TEXT_FIELDS, "cjk"):
        builder.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    for name in KEYWORD_FIELDS:
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("title_exact", tokenizer_name="raw", index_option="basic")
    for name in FACETS.values():  # labels as written, for counting (the keyword fields above are casefolded)
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic", fast=True)
    builder.add_integer_field("day", fast=True, indexed=True)
    builder.add_integer_field("popularity", fast=True, indexed=True)
    builder.add_integer_field("popularity_rank", fast=True, indexed=True)  # retrieve/popularity.py
    return builder.build()


MAX_I64 = 2**63 - 1
MAX_ID_BYTES = 60_000  # tantivy refuses terms of 64 KiB and more
log = logging.getLogger("jiansuo.bm25")


def _to_tantivy(document: Document) -> tantivy.Document:
    count = int(document.reads) + int(document.stars)
    fields: dict = {
        "id": document.id,
        "title": " ".join(analyze(document.title)),
        "summary": " ".join(analyze(document.summary)),
        "body": " ".join(analyze(document.body)),
        "authors": " ".join(analyze(" ; ".join(document.authors))),
        "cjk": " ".join(cjk_bigrams("\n".join((document.title, document.summary, document.body)))),
        "day": document.date.toordinal() if document.date else 0,
        "popularity": min(MAX_I64, max(0, count)),
        "popularity_rank": popularity_rank(count, document.date.toordinal() if document.date else 0),
        "title_exact": exact_keys(document),
    }
    venue = [document.venue] if document.venue else []
    keyword_values = {"categories": document.categories, "tags": document.tags, "venue": venue,
                      "language": [document.language] if document.language else []}
    for name, values in keyword_values.items():
        if values:
            fields[name] = [v.casefold() for v in values]  # matched case-blind
    shown = {"category": document.categories, "venue": venue, "tag": document.tags,
             "month": [document.date_label()[:7]] if document.date else []}  # a year-only date counts as its year
    for facet, values in shown.items():
        if values:
            fields[FACETS[facet]] = list(values)  # counted as written
    return tantivy.Document(**fields)


EXACT_TITLE_SCORE = 1_000.0  # far above any BM25 score: a query that is a document's title or id lists it first
_NOT_TITLE_CHARS = re.compile(r"[\W_]+")


def exact_title(text: str) -> str:
    """A title (or query) reduced to what makes it the same title: case, spaces and punctuation dropped."""
    return _NOT_TITLE_CHARS.sub("", simplified(text).casefold())[:200]


def exact_keys(document: Document) -> list[str]:
    """What a query must be, reduced like a title, to list this document first: its title or an identifier
    (its id, arXiv id, DOI: analysis/identifiers.py)."""
    keys = [exact_title(document.title)] + sorted(exact_title(i) for i in identifiers(document))
    return list(dict.fromkeys(key for key in keys if key))


def whole_title_terms(query: ParsedQuery) -> list[str]:
    """The terms a title must all hold for the `title_all` boost: those of the query's plain words (none for
    fewer than two, where the title field's own score already says it)."""
    terms = sorted({t for c in query.positive if c.field is None and not c.any_of for t in analyze(c.text)})
    return terms if len(terms) > 1 else []


def exact_query_keys(text: str) -> list[str]:
    """The exact keys a query's text can match: as a title, and as the identifier it names."""
    keys = [exact_title(text), exact_title(canonical(text))]
    return list(dict.fromkeys(key for key in keys if key))


class TantivyIndex:
    """One version directory of the BM25 index: search it, or apply store changes to it."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.params = IndexDirs.read_params(self.folder)
        self._params_stamp = (self.folder / "params.json").stat().st_mtime_ns
        self.boosts = dict(DEFAULT_BOOSTS)
        add_user_words(self.params.get("user_words", []))
        self._index = tantivy.Index(_schema(), path=str(self.folder / "tantivy"), reuse=True)
        self._schema = self._index.schema

    @property
    def indexed_seq(self) -> int:
        return int(self.params.get("store_seq", 0))

    @classmethod
    def build(cls, folder: Path, documents: Iterable[Document], seq: int, params: dict,
              progress: Callable[[int], None] | None = None) -> None:
        (folder / "tantivy").mkdir(parents=True)
        index = tantivy.Index(_schema(), path=str(folder / "tantivy"), reuse=False)
        writer = index.writer(WRITER_HEAP, 1)
        for document in documents:
            _add(writer, document)
            if progress:
                progress(1)
        writer.commit()
        writer.wait_merging_threads()

    def apply(self, changes: Iterable[Change], progress: Callable[[int], None] | None = None) -> int:
        """Delete-then-add each changed id in one tantivy commit (atomic; replaying it is harmless)."""
        changes = list(changes)
        words = user_words(a for c in changes if c.document is not None for a in c.document.authors)
        if words - set(self.params.get("user_words", [])):
            add_user_words(words)
            self.params["user_words"] = sorted(words | set(self.params.get("user_words", [])))
        writer = self._index.writer(WRITER_HEAP, 1)
        count, last_seq = 0, self.indexed_seq
        for change in changes:
            if len(change.doc_id.encode("utf-8")) <= MAX_ID_BYTES:
                writer.delete_documents_by_term("id", change.doc_id)
            if change.document is not None:
                _add(writer, change.document)
            count += 1
            last_seq = max(last_seq, change.seq)
            if progress:
                progress(1)
        writer.commit()
        writer.wait_merging_threads()
        self.params["store_seq"] = last_seq
        IndexDirs.write_params(self.folder, self.params)
        self._params_stamp = (self.folder / "params.json").stat().st_mtime_ns
        self._index.reload()
        return count

    def num_docs(self) -> int:
        return self._index.searcher().num_docs

    def reload_if_changed(self) -> None:
        """Pick up commits another process made to this version (their params.json is rewritten last)."""
        stamp = (self.folder / "params.json").stat().st_mtime_ns
        if stamp != self._params_stamp:
            self.params = IndexDirs.read_params(self.folder)
            self._params_stamp = stamp
            self._index.reload()

    def search(self, query: ParsedQuery, request: SearchRequest,
               known_categories: set[str] | None = None) -> tuple[list[Hit], int]:
        searcher = self._index.searcher()
        compiled = self._compile(query, request, known_categories)
        order = {"date": "day", "popularity": "popularity_rank"}.get(request.sort)
        limit = max(1, request.limit)
        if order:
            result = searcher.search(compiled, limit, count=True, order_by_field=order,
                                     offset=request.offset, order=tantivy.Order.Desc)
        else:
            result = searcher.search(compiled, limit, count=True, offset=request.offset)
        hits = [Hit(searcher.doc(address)["id"][0], float(key), {"bm25": float(key)})
                for key, address in result.hits]
        return hits, _count(result)

    def satisfying(self, query: ParsedQuery, request: SearchRequest, doc_ids: list[str] | None,
                   known_categories: set[str] | None = None, whole_query: bool = False) -> set[str]:
        """The subset of `doc_ids` (None: every indexed document) that meets the query's required/excluded
        clauses and the filters (`whole_query`: that the query matches, optional words included)."""
        searcher = self._index.searcher()
        limit = searcher.num_docs if doc_ids is None else len(doc_ids)
        if not limit:
            return set()
        constraints = query if whole_query else ParsedQuery([c for c in query.clauses if c.occur != "should"])
        compiled = self._compile(constraints, request, known_categories)
        if doc_ids is not None:  # a term set over the whole corpus would cost more than the constraints
            compiled = tantivy.Query.boolean_query([
                (Occur.Must, tantivy.Query.term_set_query(self._schema, "id", doc_ids)), (Occur.Must, compiled)])
        result = searcher.search(compiled, limit, count=False)
        return {searcher.doc(address)["id"][0] for _, address in result.hits}

    def facets(self, query: ParsedQuery, request: SearchRequest, known_categories: set[str] | None = None,
               size: int = 20) -> dict[str, list[tuple[str, int]]]:
        """Label counts over the documents that match `query` and the filters (tantivy terms aggregations)."""
        compiled = self._compile(query, request, known_categories)
        spec = {facet: {"terms": {"field": field, "size": size if facet != "month" else 1000}}
                for facet, field in FACETS.items()}
        found = self._index.searcher().aggregate(compiled, spec)
        counts = {facet: [(str(b["key"]), int(b["doc_count"])) for b in found.get(facet, {}).get("buckets", [])]
                  for facet in FACETS}
        counts["month"].sort(reverse=True)  # newest month first
        return counts

    def nearest_days(self, day: date, request: SearchRequest,
                     known_categories: set[str] | None = None) -> tuple[date | None, date | None]:
        """The closest earlier and later dates with documents that meet the request's other filters."""
        around = []
        for low, high, order in ((1, day.toordinal() - 1, "desc"), (day.toordinal() + 1, None, "asc")):
            bounded = replace(request, date_from=None, date_to=None)
            compiled = tantivy.Query.boolean_query([
                (Occur.Must, self._compile(ParsedQuery([]), bounded, known_categories)),
                (Occur.Must, tantivy.Query.range_query(self._schema, "day", tantivy.FieldType.Integer, low,
                                                       high if high is not None else 2**62))])
            found = self._index.searcher().aggregate(compiled, {"days": {"terms": {
                "field": "day", "size": 1, "order": {"_key": order}}}})
            buckets = found.get("days", {}).get("buckets", [])
            around.append(date.fromordinal(int(buckets[0]["key"])) if buckets and int(buckets[0]["key"]) > 0
                          else None)
        return around[0], around[1]

    def document_frequency(self, terms: tuple[str, ...]) -> int:
        """How many documents hold `terms` (a word: the most of any text field's counts; a phrase: counted)."""
        searcher = self._index.searcher()
        if len(terms) == 1:
            return max(searcher.doc_freq(name, terms[0]) for name in ("title", "summary", "body"))
        query = tantivy.Query.boolean_query([(Occur.Should, tantivy.Query.phrase_query(self._schema, name, list(terms)))
                                             for name in ("title", "summary", "body")])
        return _count(searcher.search(query, 1, count=True))

    def coverage(self, doc_id: str, terms: list[str], weights: list[float] | None = None) -> float:
        """Share of `terms` (each counted by its weight, default 1) found in any text field of document `doc_id`
        (0 when there are no terms)."""
        searcher = self._index.searcher()
        own = tantivy.Query.term_query(self._schema, "id", doc_id)
        found = []
        for term in terms:
            anywhere = tantivy.Query.boolean_query(
                [(Occur.Should, tantivy.Query.term_query(self._schema, name, term)) for name in TEXT_FIELDS])
            query = tantivy.Query.boolean_query([(Occur.Must, own), (Occur.Must, anywhere)])
            found.append(_count(searcher.search(query, 1, count=True)) > 0)
        return weighted_share(found, weights)

    def _compile(self, query: ParsedQuery, request: SearchRequest,
                 known_categories: set[str] | None) -> tantivy.Query:
        clauses: list[tuple] = []
        labels: list[tuple] = []  # label clauses typed in the box filter like the request's filters
        for clause in query.clauses:
            compiled = self._clause(clause)
            if compiled is None:
                if clause.occur == MUST:  # a required clause with no searchable terms matches nothing
                    return tantivy.Query.empty_query()
                continue
            (labels if clause.is_keyword else clauses).append((_OCCURS[clause.occur], compiled))
        if not any(occur != Occur.MustNot for occur, _ in clauses):
            clauses.append((Occur.Must, tantivy.Query.all_query()))
        whole_title = self._whole_title(query)
        if whole_title is not None:
            clauses.append((Occur.Should, whole_title))
        for key in exact_query_keys(query.words):
            clauses.append((Occur.Should, tantivy.Query.const_score_query(
                tantivy.Query.term_query(self._schema, "title_exact", key), EXACT_TITLE_SCORE)))
        # The user's words nest in their own query: beside a required filter, optional words
        # would otherwise stop being needed to match at all.
        combined = [(Occur.Must, tantivy.Query.boolean_query(clauses))]
        combined.extend(labels)
        combined.extend((Occur.Must if keep else Occur.MustNot, _unscored(q))
                        for keep, q in self._filters(request, known_categories))
        return combined[0][1] if len(combined) == 1 else tantivy.Query.boolean_query(combined)

    def _whole_title(self, query: ParsedQuery) -> tantivy.Query | None:
        """The title's BM25 again, at the `title_all` boost, for a title that holds every word of the query."""
        weight = self.boosts.get("title_all", 0.0)
        terms = whole_title_terms(query)
        if weight <= 0 or not terms:
            return None
        every = tantivy.Query.boolean_query([(Occur.Must, tantivy.Query.term_query(self._schema, "title", t))
                                             for t in terms])
        return tantivy.Query.boost_query(every, weight)

    def _clause(self, clause: Clause) -> tantivy.Query | None:
        if clause.any_of:
            members = [self._clause(member) for member in clause.any_of]
            found = [(Occur.Should, member) for member in members if member is not None]
            return tantivy.Query.boolean_query(found) if found else None
        if clause.is_keyword and clause.field is not None:
            return _unscored(tantivy.Query.term_query(self._schema, clause.field, clause.text.casefold()))
        fields = [clause.field] if clause.field else list(TEXT_FIELDS)
        terms: list = analyze(clause.text)  # phrase_query takes terms (or (position, term) pairs)
        grams: list = cjk_bigrams(clause.text) if not clause.field else []
        parts: list[tantivy.Query] = []
        if clause.phrase and len(terms) > 1:
            parts += [self._boosted(name, tantivy.Query.phrase_query(self._schema, name, terms))
                      for name in fields]
            if grams and not _NON_CJK.search(clause.text):  # Chinese-only: match characters, not words
                gram_query = (tantivy.Query.phrase_query(self._schema, "cjk", grams) if len(grams) > 1
                              else tantivy.Query.term_query(self._schema, "cjk", grams[0]))
                parts.append(self._boosted("cjk", gram_query))
        else:
            parts += [self._boosted(name, tantivy.Query.term_query(self._schema, name, term))
                      for term in terms for name in fields]
            parts += [self._boosted("cjk", tantivy.Query.term_query(self._schema, "cjk", gram))
                      for gram in grams]
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        return tantivy.Query.boolean_query([(Occur.Should, part) for part in parts])

    def _boosted(self, field: str, query: tantivy.Query) -> tantivy.Query:
        boost = self.boosts.get(field, 1.0)
        return query if boost == 1.0 else tantivy.Query.boost_query(query, boost)

    def _filters(self, request: SearchRequest, known_categories: set[str] | None):
        if request.date_from or request.date_to:
            low = request.date_from.toordinal() if request.date_from else None
            high = request.date_to.toordinal() if request.date_to else None
            yield True, tantivy.Query.range_query(self._schema, "day", tantivy.FieldType.Integer,
                                                   low if low is not None else 1, high)
        if request.categories:
            known = {c.casefold() for c in known_categories} if known_categories is not None else None
            include, exclude = category_expression(request.categories.casefold(), known)
            if include:
                yield True, tantivy.Query.boolean_query(
                    [(Occur.Should, self._keyword("categories", name)) for name in include])
            for name in exclude:
                yield False, self._keyword("categories", name)
        if request.venue:
            yield True, self._keyword("venue", request.venue)
        if request.tag:
            yield True, self._keyword("tags", request.tag)

    def _keyword(self, field: str, value: str) -> tantivy.Query:
        return tantivy.Query.term_query(self._schema, field, value.strip().casefold())


def _add(writer: tantivy.IndexWriter, document: Document) -> None:
    """Add one document; one that the index cannot take is logged and left out, never failing the batch."""
    if len(document.id.encode("utf-8")) > MAX_ID_BYTES:
        log.error("document id of %d bytes cannot be indexed; left out", len(document.id.encode("utf-8")))
        return
    try:
        writer.add_document(_to_tantivy(document))
    except (ValueError, OverflowError, TypeError) as error:
        log.error("document %r cannot be indexed (%s); left out", document.id[:200], error)


_OCCURS = {MUST: Occur.Must, MUST_NOT: Occur.MustNot, "should": Occur.Should}


def _count(result: tantivy.SearchResult) -> int:
    """The number of matches a search counted (tantivy's type stubs omit the attribute)."""
    return int(getattr(result, "count", 0) or 0)


def _unscored(query: tantivy.Query) -> tantivy.Query:
    return tantivy.Query.const_score_query(query, 0.0)
