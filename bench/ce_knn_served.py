"""ce-knn as the engine serves it, on every test query of a set: nDCG@10 and recall@10 (by the qrels) of hybrid,
hybrid -> rerank and ce-knn at equal cross-encoder calls, each through Engine.search with the served model
(bench/cur_knn.py simulates the same from exact score matrices on a 100-query sample).

Needs the CUR index that bench/cur_knn.py publishes on the bench's store, built with the same model; the model is
served in the form its jiansuo.json names (rerank/cross_encoder_onnx.py).
Run: python bench/ce_knn_served.py --dataset scifact --encoder e5-onnx \
         --model runs/rerank/scifact-qrels-segment-cosine-128-L4 --budgets 100
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import DATA, table
from dense_beir import engine_for

from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.rerank.cross_encoder_onnx import OnnxCrossEncoder

METRICS = ("ndcg@10", "recall@10")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--encoder", default="e5-onnx")
    parser.add_argument("--model", required=True, help="the cross-encoder the CUR index was built with")
    parser.add_argument("--split", default="test")
    parser.add_argument("--budgets", default="100", help="cross-encoder calls per query, comma-separated")
    args = parser.parse_args()
    engine = engine_for(args.dataset, args.encoder)
    cur = engine.cur
    if cur is None or Path(cur.params["reranker"]).resolve() != Path(args.model).resolve():
        raise SystemExit(f"the store's CUR index was not built with {args.model}: run bench/cur_knn.py with it first")
    engine._reranker = OnnxCrossEncoder(args.model)  # its serving form, as `jiansuo serve --reranker` loads it
    folder = DATA / args.dataset
    qrels = read_qrels(folder, args.split)
    queries = {q: t for q, t in read_queries(folder).items() if q in qrels}
    rows = []

    def measure(label: str, calls: int, **search) -> None:
        run, latencies = run_queries(engine, queries, **search)
        metrics = score_run(qrels, run, METRICS)
        rows.append([label, calls] + [f"{metrics[m]:.4f}" for m in METRICS] + [f"{np.percentile(latencies, 50):.0f}"])
        print("  ", rows[-1], flush=True)

    measure("hybrid", 0, mode="hybrid")
    for budget in [int(b) for b in args.budgets.split(",")]:
        measure("hybrid -> rerank", budget, mode="rerank", rerank=budget)
        measure("ce-knn", budget, mode="ce-knn", budget=budget)
    print(f"\n{args.dataset} {args.split}: {len(queries)} queries, {engine.store.count()} documents; cross-encoder "
          f"{Path(args.model).name} served as {engine.reranker.quantize}, {engine.reranker.max_tokens} tokens, "
          f"blend {engine.reranker.blend}; CUR index: {cur.params['anchor_queries']} anchor queries")
    print(table(["system (Engine.search)", "CE calls / query"] + list(METRICS) + ["p50 ms"], rows))


if __name__ == "__main__":
    main()
