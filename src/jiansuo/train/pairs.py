"""Training pairs (text_a, text_b, label) from four sources.

1. labelled pairs: a file of `a<TAB>b<TAB>label` lines (graded or binary);
2. BEIR qrels: each judged (query, document) is a positive, hard negatives are the top documents our
   own retrieval returns that are not judged relevant;
3. self-supervision from an unlabelled corpus: a document's title with its own opening text is a
   positive, with the opening of a document BM25 finds similar (but is another) a hard negative;
4. the click log: a clicked (query, document) is a positive, the results ranked above it that were not
   clicked are negatives (the user saw and skipped them).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from jiansuo.analysis.passages import passage_source
from jiansuo.model import Document, SearchRequest


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    label: float


def read_labelled_pairs(path: Path | str, limit: int | None = None, seed: int = 0) -> list[Pair]:
    pairs = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            try:
                pairs.append(Pair(parts[0], parts[1], float(parts[-1])))
            except ValueError:
                continue
    if limit is not None and len(pairs) > limit:
        pairs = random.Random(seed).sample(pairs, limit)
    return pairs


def split_dev(pairs: list[Pair], share: float = 0.1, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """(train, dev): a random `share` of the distinct first texts, with all their pairs, goes to dev."""
    firsts = sorted({p.a for p in pairs})
    held = set(random.Random(seed).sample(firsts, max(1, int(len(firsts) * share)))) if len(firsts) > 1 else set()
    return [p for p in pairs if p.a not in held], [p for p in pairs if p.a in held]


def document_text(document: Document, chars: int = 1200) -> str:
    text = passage_source(document)[:chars]
    return f"{document.title}\n{text}" if document.title else text


def qrels_pairs(engine, queries: dict[str, str], qrels: dict[str, dict[str, int]], negatives: int = 3,
                depth: int = 30, mode: str = "bm25", seed: int = 0) -> list[Pair]:
    """Positives from the judgments, hard negatives mined from our own top `depth` results."""
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for query_id, relevant in qrels.items():
        text = queries.get(query_id)
        if not text:
            continue
        for doc_id in relevant:
            document = engine.get(doc_id)
            if document is not None:
                pairs.append(Pair(text, document_text(document), 1.0))
        page = engine.search(SearchRequest(query=text, limit=depth, syntax=False, mode=mode), hydrate=False)
        candidates = [h.doc_id for h in page.hits if h.doc_id not in relevant]
        for doc_id in candidates[:negatives] + rng.sample(candidates[negatives:], min(1, len(candidates[negatives:]))):
            document = engine.get(doc_id)
            if document is not None:
                pairs.append(Pair(text, document_text(document), 0.0))
    return pairs


def self_supervised_pairs(engine, limit: int = 2000, seed: int = 0) -> list[Pair]:
    """Title <-> own opening (1) and title <-> a BM25-similar other document's opening (0)."""
    rng = random.Random(seed)
    documents = [d for d in engine.store.documents() if d.title and passage_source(d)]
    rng.shuffle(documents)
    pairs: list[Pair] = []
    for document in documents[:limit]:
        pairs.append(Pair(document.title, passage_source(document)[:1200], 1.0))
        page = engine.search(SearchRequest(query=document.title, limit=5, syntax=False, mode="bm25"), hydrate=False)
        others = [h.doc_id for h in page.hits if h.doc_id != document.id]
        if others:
            other = engine.get(others[0])
            pairs.append(Pair(document.title, passage_source(other)[:1200], 0.0))
    return pairs


def click_pairs(engine, depth: int = 10) -> list[Pair]:
    """Clicked results are positives; results ranked above a click and skipped are negatives."""
    pairs: list[Pair] = []
    for click in engine.store.clicks():
        document = engine.get(click["doc_id"])
        if document is None:
            continue
        pairs.append(Pair(click["query"], document_text(document), 1.0))
        page = engine.search(SearchRequest(query=click["query"], limit=depth), hydrate=False)
        for hit in page.hits[: max(0, click["rank"] - 1)]:
            if hit.doc_id != click["doc_id"] and (skipped := engine.get(hit.doc_id)) is not None:
                pairs.append(Pair(click["query"], document_text(skipped), 0.0))
    return pairs
