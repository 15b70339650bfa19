"""The two backends side by side: embedded (tantivy + numpy) and Milvus (Milvus Lite here), same documents,
same passage vectors (the default encoder's, from the shared embedding cache), same queries.

For each set and mode (bm25, dense, hybrid): nDCG@10 on each backend, the difference, and per-query latency
p50/p95 of the engine's search (in process, one query at a time, 2 cores). Build time of each store is printed
(BM25 + dense; the passage vectors come from the cache, so this is indexing, not encoding).

Run: python bench/backends.py [--datasets scifact,lo-help/zh] [--queries 300] [--modes bm25,dense,hybrid]
"""

from __future__ import annotations

import argparse
import shutil
import time
import warnings

from common import DATA, WORK, percentiles, table

from jiansuo.encoders import DEFAULT_ENCODER
from jiansuo.engine import Engine
from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.ingest import IngestProblem, read_path

warnings.filterwarnings("ignore")
CACHE = WORK / "cache" / "embeddings.sqlite"


def build(dataset: str, backend: str) -> tuple[Engine, float]:
    folder = WORK / "backends" / f"{dataset.replace('/', '-')}-{backend}"
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    engine = Engine(folder, encoder=DEFAULT_ENCODER, embedding_cache=CACHE, backend=backend,
                    milvus_uri=str(folder / "milvus.db") if backend == "milvus" else None)
    engine.add(d for d in read_path(DATA / dataset / "corpus.jsonl", "beir") if not isinstance(d, IngestProblem))
    engine.refresh()
    return engine, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="scifact,lo-help/zh")
    parser.add_argument("--queries", type=int, default=300, help="first N test queries of each set")
    parser.add_argument("--modes", default="bm25,dense,hybrid")
    args = parser.parse_args()
    rows, builds = [], []
    for dataset in args.datasets.split(","):
        engines = {}
        for backend in ("local", "milvus"):
            engines[backend], seconds = build(dataset, backend)
            builds.append([dataset, backend, engines[backend].store.count(), f"{seconds:.0f}"])
            print(builds[-1], flush=True)
        qrels = read_qrels(DATA / dataset, "test")
        queries = dict(list({q: t for q, t in read_queries(DATA / dataset).items() if q in qrels}.items())
                       [: args.queries])
        qrels = {q: judged for q, judged in qrels.items() if q in queries}  # score only the queries run
        for mode in args.modes.split(","):
            row: list = [dataset, len(queries), mode]
            timing = []
            for engine in engines.values():
                run_queries(engine, dict(list(queries.items())[:5]), mode=mode)  # warm-up
                run, latencies = run_queries(engine, queries, mode=mode)
                row.append(score_run(qrels, run, ("ndcg@10",))["ndcg@10"])
                p50, p95 = percentiles(latencies)
                timing.append(f"{p50:.1f} / {p95:.1f}")
            row += [f"{row[4] - row[3]:+.4f}", *timing]
            rows.append(row)
            print(rows[-1], flush=True)
    print(table(["set", "backend", "documents", "build seconds"], builds))
    print()
    print(table(["set", "queries", "mode", "nDCG@10 local", "nDCG@10 Milvus Lite", "Milvus - local",
                 "local p50 / p95 ms", "Milvus Lite p50 / p95 ms"], rows))


if __name__ == "__main__":
    main()
