"""The small typed values every stage passes around: Document, SearchRequest, Hit, SearchPage."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date

PRECISION_CHARS = {"year": 4, "month": 7}  # metadata["date_precision"] of a date given without its day


@dataclass
class Document:
    """One article, paper or post. `body` is Markdown that may hold LaTeX."""

    id: str
    title: str = ""
    authors: list[str] = field(default_factory=list)
    date: date | None = None
    summary: str = ""
    body: str = ""
    url: str = ""
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    venue: str = ""
    language: str = ""
    reads: int = 0
    stars: int = 0
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["date"] = self.date.isoformat() if self.date else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Document:
        values = dict(data)
        if values.get("date"):
            values["date"] = date.fromisoformat(values["date"])
        else:
            values["date"] = None
        return cls(**values)

    def date_label(self) -> str:
        """The date as precise as its source gave it: "2019", "2019-11" or "2019-11-05" ("" without one)."""
        if self.date is None:
            return ""
        return self.date.isoformat()[:PRECISION_CHARS.get(self.metadata.get("date_precision", ""), 10)]

    def content_hash(self) -> str:
        """A hash of everything an index sees, so unchanged documents can be skipped."""
        payload = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


SORTS = ("relevance", "date", "popularity", "preference")
MODES = ("bm25", "dense", "hybrid", "ce-knn")


@dataclass
class SearchRequest:
    """A parsed user request: the query text plus filters, sort and page."""

    query: str = ""
    date_from: date | None = None
    date_to: date | None = None
    categories: str = ""  # union/difference expression, e.g. "cs.AI+cs.LG-cs.CY"
    venue: str = ""
    tag: str = ""
    sort: str = "relevance"
    offset: int = 0
    limit: int = 10
    syntax: bool = True  # False: the query is plain text (quotes, -, field: have no meaning)
    mode: str = ""  # bm25 | dense | hybrid | ce-knn; "" = hybrid when a dense index exists, else bm25
    rerank: int = 0  # rerank the top k with the cross-encoder (0 = off)
    budget: int = 100  # mode=ce-knn: cross-encoder calls allowed for this query
    prefer: tuple[str, ...] = ()  # sort=preference: the documents the reader starred


@dataclass
class Hit:
    """One ranked document. Every ranker returns list[Hit]; `scores` keeps per-stage scores."""

    doc_id: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    document: Document | None = None
    excerpt: list[tuple[str, bool]] = field(default_factory=list)  # (text, is_match) segments


@dataclass
class SearchPage:
    """One page of results with the total number of matching documents."""

    hits: list[Hit]
    total: int
    request: SearchRequest
    terms: list[str] = field(default_factory=list)  # analyzed query terms, for highlighting
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage
    by_meaning_only: bool = False  # no document matched the query's words: every hit came from the dense index
    # how many documents hold the query's words, where the total also counts documents related by meaning only (the
    # facets count the former); None where the two are the same
    matching_words: int | None = None
