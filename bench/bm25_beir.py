"""BM25 on the English BEIR-layout sets (SciFact, CISI, MEDLINE) and LibreOffice help (zh, en).

Prints one table: nDCG@10 / MRR@10 / recall@100 for
  jiansuo            our engine as shipped (title, summary, body, authors fields; default boosts)
  jiansuo 1-field    our engine with title+text in one field: the same input bm25s gets
  bm25s same tokens  bm25s (k1=1.2, b=0.75, Lucene IDF) on exactly our tokens, one field
  tantivy default    raw title+text in tantivy's default tokenizer (the original site search's setting)
plus query latency p50/p95 of `jiansuo` (search call, 100 hits, no hydration).

Run: python bench/bm25_beir.py [--datasets scifact,cisi,medline,lo-help/zh,lo-help/en] [--split train]
     [--only-engine]   (our engine alone: the before/after check of an analyzer or ranking change)
"""

from __future__ import annotations

import argparse
import shutil
import warnings

import bm25s
import numpy as np
from common import DATA, WORK, need, percentiles, table
from tantivy_default import DefaultTokenizerIndex

from jiansuo.analysis import analyze
from jiansuo.engine import Engine
from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.model import Document

warnings.filterwarnings("ignore")
METRICS = ("ndcg@10", "mrr@10", "recall@100")


def evaluate_dataset(name: str, split: str = "test", only_engine: bool = False) -> list[list]:
    folder = need(DATA / name)
    if not (folder / "qrels" / f"{split}.tsv").exists():
        return []
    qrels = read_qrels(folder, split)
    queries = {q: t for q, t in read_queries(folder).items() if q in qrels}
    documents = [d for d in read_path(folder / "corpus.jsonl", "beir") if not isinstance(d, IngestProblem)]
    rows = []

    store = WORK / "bm25_beir" / name.replace("/", "-")
    shutil.rmtree(store, ignore_errors=True)
    engine = Engine(store)
    engine.add(documents)
    engine.refresh()
    run, latencies = run_queries(engine, queries)
    p50, p95 = percentiles(latencies)
    rows.append(_row(name, "jiansuo", qrels, run, f"{p50:.2f} / {p95:.2f}"))
    if only_engine:
        return rows

    single = Engine(store.with_name(store.name + "-1field"), boosts={"cjk": 0.0})
    single.add(Document(id=d.id, body=_flat(d)) for d in documents)
    single.refresh()
    run, _ = run_queries(single, queries)
    rows.append(_row(name, "jiansuo 1-field", qrels, run))

    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index([analyze(_flat(d)) for d in documents], show_progress=False)
    ids = [d.id for d in documents]
    run = {}
    for query_id, text in queries.items():
        scores = retriever.get_scores(analyze(text))
        top = np.argsort(-scores)[:100]
        run[query_id] = {ids[i]: float(scores[i]) for i in top if scores[i] > 0}
    rows.append(_row(name, "bm25s same tokens", qrels, run))

    baseline = DefaultTokenizerIndex({d.id: _flat(d) for d in documents})
    run = {q: baseline.search(t) for q, t in queries.items()}
    rows.append(_row(name, "tantivy default", qrels, run))
    return rows


def _flat(document: Document) -> str:
    return "\n".join(p for p in (document.title, document.summary, document.body) if p)


def _row(dataset: str, system: str, qrels: dict, run: dict, latency: str = "") -> list:
    scores = score_run(qrels, run, METRICS)
    return [dataset, system, *(scores[m] for m in METRICS), latency]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="scifact,cisi,medline,lo-help/zh,lo-help/en")
    parser.add_argument("--split", default="test", help="qrels split (sets without it are skipped)")
    parser.add_argument("--only-engine", action="store_true", help="skip the reference systems")
    parser.add_argument("--title-words", action="store_true",
                        help="put the store's title terms in the segmenter's dictionary (tokenize.TITLE_WORDS)")
    args = parser.parse_args()
    if args.title_words:
        from jiansuo.analysis import tokenize

        tokenize.TITLE_WORDS = True
    rows = [row for name in args.datasets.split(",")
            for row in evaluate_dataset(name, args.split, args.only_engine)]
    print(table(["dataset", "system", *METRICS, "p50 / p95 ms"], rows))


if __name__ == "__main__":
    main()
