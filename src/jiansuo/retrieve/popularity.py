"""Popularity that decays with age: (1 + count) · 2^(-age / HALF_LIFE_DAYS), count = reads + stars (+ readers here).

Ordering by it never needs today's date: log((1 + count) · 2^((day - today) / H)) = log(1 + count) + day·ln2/H
- today·ln2/H, and the last term is the same for every document. So the index keeps `rank` = log(1 + count) +
day·ln2/H as an integer fast field and sorts by it; an undated document counts as dated at day 0 (very old),
and a corpus without dates is ordered by count alone.
"""

from __future__ import annotations

import math
from dataclasses import replace

from jiansuo.model import Hit, SearchRequest
from jiansuo.retrieve.backend import KeywordBackend
from jiansuo.retrieve.query import ParsedQuery
from jiansuo.store.documents import DocumentStore

HALF_LIFE_DAYS = 730  # a document two years older needs twice the readers to rank the same
SCALE = 1_000_000


def popularity_rank(count: int, day: int) -> int:
    """The sortable value of `count` reads on a document dated `day` (a date ordinal, 0 for none)."""
    return round((math.log1p(max(0, count)) + max(0, day) * math.log(2) / HALF_LIFE_DAYS) * SCALE)


def by_popularity(backend: KeywordBackend, store: DocumentStore, parsed: ParsedQuery, request: SearchRequest,
                  known: set[str] | None, hits: list[Hit]) -> list[Hit]:
    """The page of `request` ordered by popularity = reads + stars as ingested + what readers did here (distinct
    reader-days that opened a document, readers who starred it), decayed with age. `hits` is the page in the
    index's order (the ingested part); documents readers touched join the head where their total lifts them, if
    the query and filters keep them."""
    signals = store.reader_signals()
    if not signals:
        return hits
    if request.offset:  # the whole head in the ingested order, not only this page
        hits, _ = backend.search(parsed, replace(request, offset=0, limit=request.offset + request.limit), known)
    touched = backend.satisfying(parsed, request, list(signals), known, whole_query=True)
    candidates = {h.doc_id: h for h in hits}
    candidates.update((doc_id, Hit(doc_id, 0.0)) for doc_id in touched if doc_id not in candidates)
    documents = store.get_many(list(candidates))

    def rank(doc_id: str) -> int:
        document = documents.get(doc_id)
        if document is None:
            return 0
        return popularity_rank(document.reads + document.stars + signals.get(doc_id, 0),
                               document.date.toordinal() if document.date else 0)

    ranked = sorted(candidates.values(), key=lambda h: -rank(h.doc_id))
    for hit in ranked:
        hit.scores["popularity"] = float(rank(hit.doc_id))
    return ranked[request.offset : request.offset + request.limit]
