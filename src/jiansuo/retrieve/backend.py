"""The interface a keyword search engine must offer; tantivy is the embedded one.

A distributed engine (e.g. Milvus) is added by writing one more class with these methods and naming it
in `open_backend`; callers only ever see this Protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Protocol

from jiansuo.model import Document, Hit, SearchRequest
from jiansuo.retrieve.query import ParsedQuery
from jiansuo.store.documents import Change


class KeywordBackend(Protocol):
    boosts: dict[str, float]

    @property
    def indexed_seq(self) -> int:
        """The store sequence the index has seen."""

    def search(self, query: ParsedQuery, request: SearchRequest,
               known_categories: set[str] | None = None) -> tuple[list[Hit], int]:
        """The requested page of hits and the total number of matches."""

    def apply(self, changes: Iterable[Change], progress: Callable[[int], None] | None = None) -> int:
        """Apply store changes incrementally and persist the new store sequence; returns the count."""

    def satisfying(self, query: ParsedQuery, request: SearchRequest, doc_ids: list[str] | None,
                   known_categories: set[str] | None = None, whole_query: bool = False) -> set[str]:
        """The subset of `doc_ids` (None: every indexed document) that meets the query's required and excluded
        clauses and the request's filters (`whole_query`: that the whole query matches)."""

    def facets(self, query: ParsedQuery, request: SearchRequest, known_categories: set[str] | None = None,
               size: int = 20) -> dict[str, list[tuple[str, int]]]:
        """Label counts (category, venue, tag, month) over the documents that match, most frequent first."""

    def nearest_days(self, day: date, request: SearchRequest,
                     known_categories: set[str] | None = None) -> tuple[date | None, date | None]:
        """The closest earlier and later dates that have matching documents."""

    def coverage(self, doc_id: str, terms: list[str]) -> float:
        """Share of `terms` found in document `doc_id`."""

    def document_frequency(self, terms: tuple[str, ...]) -> int:
        """How many documents hold these index terms (adjacent and in order, for more than one)."""

    def num_docs(self) -> int: ...

    def reload_if_changed(self) -> None:
        """See commits that another process made since this one opened the index."""


def build_backend(kind: str, folder: Path, documents: Iterable[Document], seq: int,
                  params: dict, progress: Callable[[int], None] | None = None) -> None:
    """Write a complete index of `documents` into the empty `folder`."""
    if kind != "bm25":
        raise ValueError(f"unknown keyword backend {kind!r}")
    from jiansuo.retrieve.bm25 import TantivyIndex

    TantivyIndex.build(folder, documents, seq, params, progress)


def open_backend(kind: str, folder: Path) -> KeywordBackend:
    if kind != "bm25":
        raise ValueError(f"unknown keyword backend {kind!r}")
    from jiansuo.retrieve.bm25 import TantivyIndex

    return TantivyIndex(folder)
