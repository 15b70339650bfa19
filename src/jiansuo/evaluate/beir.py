"""`jiansuo eval`: index a BEIR corpus, run its queries, report nDCG@10, MRR@10, recall@100, latency."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from jiansuo.engine import Engine
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.model import SearchRequest


def load_corpus(engine: Engine, corpus: Path) -> None:
    """Ingest the corpus once; a store that already holds it is reused."""
    documents = [d for d in read_path(corpus, "beir") if not isinstance(d, IngestProblem)]
    if engine.store.count() != len(documents) or engine.keyword is None:
        engine.add(documents)
    engine.refresh()


def run_queries(engine: Engine, queries: dict[str, str], depth: int = 100,
                mode: str = "bm25") -> tuple[dict, list[float]]:
    """{query id: {doc id: score}} and per-query latencies in milliseconds."""
    run: dict[str, dict[str, float]] = {}
    latencies: list[float] = []
    for query_id, text in queries.items():
        started = time.perf_counter()
        page = engine.search(SearchRequest(query=text, limit=depth, syntax=False, mode=mode), hydrate=False)
        latencies.append((time.perf_counter() - started) * 1000)
        run[query_id] = {hit.doc_id: hit.score for hit in page.hits}
    return run, latencies


def evaluate_beir(dataset: Path, split: str = "test", store: Path | None = None,
                  boosts: dict[str, float] | None = None) -> dict:
    dataset = Path(dataset)
    qrels = read_qrels(dataset, split)
    queries = {q: t for q, t in read_queries(dataset).items() if q in qrels}
    engine = Engine(store or dataset / ".jiansuo", boosts=boosts)
    load_corpus(engine, dataset / "corpus.jsonl")
    run, latencies = run_queries(engine, queries)
    report: dict = dict(score_run(qrels, run, ("ndcg@10", "mrr@10", "recall@10", "recall@100")))
    report.update({
        "queries": len(queries),
        "documents": engine.store.count(),
        "latency_ms": {"p50": float(np.percentile(latencies, 50)), "p95": float(np.percentile(latencies, 95))},
    })
    engine.close()
    return report
