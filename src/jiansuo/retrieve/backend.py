"""The interfaces the engine searches through: a keyword backend and a vector backend.

Embedded: tantivy (retrieve/bm25.py) and numpy/hnswlib (retrieve/dense.py), one version folder each.
Scale-out: Milvus (retrieve/milvus.py), one collection per store that answers both. Callers (the engine,
fusion, preference) only ever use these Protocols; the CUR index and the hubness report read the embedded
dense index itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Protocol

import numpy as np

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

    def coverage(self, doc_id: str, terms: list[str], weights: list[float] | None = None) -> float:
        """Share of `terms` found in document `doc_id`, each counted by its weight (default: 1 each)."""

    def document_frequency(self, terms: tuple[str, ...]) -> int:
        """How many documents hold these index terms (adjacent and in order, for more than one)."""

    def num_docs(self) -> int: ...

    def reload_if_changed(self) -> None:
        """See commits that another process made since this one opened the index."""


class VectorBackend(Protocol):
    @property
    def indexed_seq(self) -> int:
        """The store sequence the index has seen."""

    @property
    def encoder_name(self) -> str:
        """The encoder whose passage vectors the index holds (queries must be encoded by the same)."""

    @property
    def centering(self) -> str | None:
        """The language centering the passage vectors went through (encoders/centering.py); queries get the same."""

    @property
    def dim(self) -> int: ...

    def search(self, query: np.ndarray, request: SearchRequest, k: int = 100,
               known_categories: set[str] | None = None, hubness: bool = False) -> list[Hit]:
        """Top-k documents by their best passage (MaxP) for a unit query vector, the request's filters applied
        inside the search; each hit carries scores["dense"] and the passage's span ("passage_start")."""

    def contains(self, doc_id: str) -> bool: ...

    def doc_ids(self) -> list[str]:
        """Every indexed document id."""

    def document_vectors(self, doc_ids: list[str]) -> np.ndarray:
        """One unit vector per document, the normalised mean of its passages (zeros for one not indexed)."""

    def passage_vectors(self, doc_id: str) -> np.ndarray:
        """The document's passage vectors (no rows when it is not indexed)."""

    def num_docs(self) -> int: ...

    def num_passages(self) -> int: ...


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
