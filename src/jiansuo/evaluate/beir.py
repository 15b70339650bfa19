"""`jiansuo eval`: index a BEIR corpus, run its queries in one or more modes, report nDCG@10, MRR@10,
recall@10/100 and latency per mode. The store (and its embedding cache) is kept between runs, so a second run
costs no indexing and no passage encoding."""

from __future__ import annotations

import time
from collections.abc import Callable
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


def run_queries(engine: Engine, queries: dict[str, str], depth: int = 100, mode: str = "bm25",
                rerank: int = 0, budget: int = 0, progress: Callable[[int], None] | None = None,
                ) -> tuple[dict, list[float]]:
    """{query id: {doc id: score}} and per-query latencies in milliseconds. `mode="rerank"` is hybrid with the
    top `rerank` (default 50) re-scored by the engine's cross-encoder."""
    run: dict[str, dict[str, float]] = {}
    latencies: list[float] = []
    if mode == "rerank":
        mode, rerank = "hybrid", rerank or 50
    for query_id, text in queries.items():
        started = time.perf_counter()
        request = SearchRequest(query=text, limit=depth, syntax=False, mode=mode, rerank=rerank, budget=budget)
        page = engine.search(request, hydrate=False)
        latencies.append((time.perf_counter() - started) * 1000)
        run[query_id] = {hit.doc_id: hit.score for hit in page.hits}
        if progress:
            progress(1)
    return run, latencies


def evaluate_beir(dataset: Path, split: str = "test", store: Path | None = None,
                  boosts: dict[str, float] | None = None, mode: str = "bm25", encoder: str | None = None,
                  reranker: Path | str | None = None, rerank: int = 0, budget: int = 0,
                  progress: Callable[[int], None] | None = None) -> dict:
    """Metrics of one mode on `dataset`'s `split`. The dense index is built with `encoder` (default: the
    default encoder) when a mode needs it; rerank and ce-knn need `reranker`, ce-knn a CUR index too."""
    dataset = Path(dataset)
    qrels = read_qrels(dataset, split)
    queries = {q: t for q, t in read_queries(dataset).items() if q in qrels}
    if mode in ("dense", "hybrid", "rerank", "ce-knn") and encoder is None:
        from jiansuo.encoders import DEFAULT_ENCODER

        encoder = DEFAULT_ENCODER
    engine = Engine(store or dataset / ".jiansuo", boosts=boosts, encoder=encoder if mode != "bm25" else None,
                    reranker=reranker)
    try:
        load_corpus(engine, dataset / "corpus.jsonl")
        if mode == "ce-knn" and not engine.has_cur():
            raise ValueError("mode ce-knn needs a CUR index in the eval store: run `jiansuo cur` on it first")
        run, latencies = run_queries(engine, queries, mode=mode, rerank=rerank, budget=budget, progress=progress)
        report: dict = dict(score_run(qrels, run, ("ndcg@10", "mrr@10", "recall@10", "recall@100")))
        report.update({
            "mode": mode,
            "queries": len(queries),
            "documents": engine.store.count(),
            "encoder": engine.dense.encoder_name if engine.dense and mode != "bm25" else None,
            "latency_ms": {"p50": float(np.percentile(latencies, 50)), "p95": float(np.percentile(latencies, 95))},
        })
    finally:
        engine.close()
    return report
