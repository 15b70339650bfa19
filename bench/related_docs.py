"""Related documents: which list the document page shows, judged by whether a related document shares the document's
subject label.

Sets (../shared/data): CSL (2,000 Chinese papers, label = discipline, 67 of them) and the arXiv CSV paper list
(3,397 papers, label = primary arXiv category, the first listed). Each set is indexed with the default engine (BM25
+ e5-onnx, the bench's shared embedding cache). Two disjoint samples of 300 documents per set (fixed seed): dev, on
which the choice is made, and held-out, which only reports. Label precision@6 of
  words (opening)   BM25 for the document's title and first 400 characters
  words (keywords)  BM25 for the document's 10 keywords
  meaning           the nearest documents to the mean of its passage vectors (shipped where a dense index exists)
  fused             RRF of the opening list and the meaning list (what the page showed before)

Run: python bench/related_docs.py
"""

from __future__ import annotations

import json
import random

from common import DATA, WORK, add_in_batches, need, table
from dense_beir import CACHE

from jiansuo import searching
from jiansuo.engine import Engine
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.retrieve import fusion

SAMPLE, LIMIT = 300, 6


def csl() -> tuple[list, dict[str, str]]:
    path = need(DATA / "csl" / "csl.jsonl")
    labels = {r["id"]: r["discipline"] for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}
    return [d for d in read_path(path) if not isinstance(d, IngestProblem)], labels


def arxiv() -> tuple[list, dict[str, str]]:
    documents = [d for d in read_path(need(DATA / "arxiv" / "arxiv_2505_math_sample.csv"))
                 if not isinstance(d, IngestProblem)]
    return documents, {d.id: d.tags[0] for d in documents if d.tags}


def precision(found: list[str], label: str, labels: dict[str, str]) -> float:
    return sum(labels.get(doc_id) == label for doc_id in found[:LIMIT]) / LIMIT


def main() -> None:
    rows = []
    for name, load in (("csl", csl), ("arxiv", arxiv)):
        documents, labels = load()
        engine = Engine(WORK / "related" / name, encoder="e5-onnx", embedding_cache=CACHE)
        if engine.store.count() != len(documents):
            add_in_batches(engine, documents)
        engine.refresh()
        labelled = random.Random(0).sample([d.id for d in documents if d.id in labels], 2 * SAMPLE)
        for part, sample in (("dev", labelled[:SAMPLE]), ("held-out", labelled[SAMPLE:])):
            totals = [0.0] * 4
            for doc_id in sample:
                document = engine.get(doc_id)
                opening = searching.sharing_words(engine, document, LIMIT)
                by_keywords = searching.sharing_words(engine, document, LIMIT, " ".join(
                    k.text for k in engine.keywords(document, 10)))
                meaning = searching.nearest_documents(engine, doc_id, LIMIT)
                fused = fusion.rrf([opening, meaning])
                for i, hits in enumerate((opening, by_keywords, meaning, fused)):
                    totals[i] += precision([h.doc_id for h in hits], labels[doc_id], labels)
            rows.append([name, part, *(total / SAMPLE for total in totals)])
            print(rows[-1], flush=True)
        engine.close()
    print(table(["set", "sample", "label P@6: words (opening)", "words (keywords)", "meaning", "fused"], rows))


if __name__ == "__main__":
    main()
