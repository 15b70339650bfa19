"""Rerank cost on SciFact: latency of reranking the hybrid top k (k = 20, 50, 100) and test nDCG@10 at k = 50,
for the trained cross-encoder as trained (fp32, 256 tokens) and in cheaper serving forms (int8 dynamic
quantisation, 128 tokens). Run after bench/rerank_scifact.py (it reads runs/rerank/scifact-qrels-segment-cosine).
Run: python bench/rerank_latency.py [--model DIR] [--queries 20]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from common import DATA, WORK, table
from dense_beir import engine_for
from rerank_scifact import CachedScorer, hybrid_run, rerank_times, reranked

from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.rerank.cross_encoder import CrossEncoder

warnings.filterwarnings("ignore")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(WORK / "rerank" / "scifact-qrels-segment-cosine"))
    parser.add_argument("--queries", type=int, default=20, help="queries timed per k")
    parser.add_argument("--quality", default="int8-256,int8-128", help="configs whose test nDCG@10 is measured")
    args = parser.parse_args()
    engine = engine_for("scifact", "e5-onnx")
    qrels = read_qrels(DATA / "scifact", "test")
    queries = {q: t for q, t in read_queries(DATA / "scifact").items() if q in qrels}
    candidates = hybrid_run(engine, queries, 100)
    rows = []
    for config in ("fp32-256", "int8-256", "int8-128"):
        precision, tokens = config.split("-")
        model = CrossEncoder(args.model)
        model.max_tokens = int(tokens)
        if precision == "int8":
            model.quantize()
        timed = list(queries.items())[: args.queries]
        row = [config]
        for k in (20, 50, 100):
            times = rerank_times(engine, model, timed, candidates, k)
            row.append(f"{np.percentile(times, 50):.0f} / {np.percentile(times, 95):.0f}")
        if config in args.quality.split(","):
            run = reranked(engine, CachedScorer(model), queries, candidates, 50, model.blend)
            row.append(f"{score_run(qrels, run, ('ndcg@10',))['ndcg@10']:.4f}")
        else:
            row.append("see rerank_scifact.md")
        rows.append(row)
        print(row, flush=True)
    print(table(["cross-encoder form", "k=20 p50 / p95 ms", "k=50", "k=100", "test nDCG@10 (rerank@50, blend)"],
                rows))


if __name__ == "__main__":
    main()
