"""A second encoder beside the default hybrid: MiniLM's dense list added to e5-onnx hybrid, on English sets.

The default hybrid (BM25 + e5-onnx, confidence fusion) is fused again with MiniLM's dense top 100: each list's
scores min-max normalised per query, the hybrid list at weight 1 and MiniLM's at weight w. w is chosen on SciFact's
train queries (dev); every set is reported at that w on test, beside the default. English only: MiniLM reads
Chinese as unknown tokens.

Run: python bench/ensemble_minilm.py [--datasets scifact,cisi,medline]
"""

from __future__ import annotations

import argparse
import warnings

from common import DATA, table
from dense_beir import engine_for

from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run

warnings.filterwarnings("ignore")
WEIGHTS = (0.0, 0.2, 0.3, 0.5, 0.7, 1.0)
METRICS = ("ndcg@10", "recall@100")


def normalised(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    return {doc: (score - low) / ((high - low) or 1.0) for doc, score in scores.items()}


def fused(hybrid: dict, minilm: dict, weight: float) -> dict:
    run = {}
    for query in hybrid.keys() | minilm.keys():
        total = dict(normalised(hybrid.get(query, {})))
        for doc, score in normalised(minilm.get(query, {})).items():
            total[doc] = total.get(doc, 0.0) + weight * score
        run[query] = dict(sorted(total.items(), key=lambda item: -item[1])[:100])
    return run


def lists(dataset: str, split: str) -> tuple[dict, dict, dict, dict]:
    qrels = read_qrels(DATA / dataset, split)
    queries = {q: text for q, text in read_queries(DATA / dataset).items() if q in qrels}
    hybrid = run_queries(engine_for(dataset, "e5-onnx"), queries, mode="hybrid")[0]
    minilm = run_queries(engine_for(dataset, "minilm"), queries, mode="dense")[0]
    return qrels, queries, hybrid, minilm


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="scifact,cisi,medline")
    args = parser.parse_args()
    qrels, _, hybrid, minilm = lists("scifact", "train")
    dev = {w: score_run(qrels, fused(hybrid, minilm, w), ("ndcg@10",))["ndcg@10"] for w in WEIGHTS}
    chosen = max(dev, key=lambda w: dev[w])
    print("SciFact train queries (dev), nDCG@10 by MiniLM weight:", {w: round(s, 4) for w, s in dev.items()})
    print(f"chosen on dev: w={chosen}\n")
    rows = []
    for dataset in args.datasets.split(","):
        qrels, queries, hybrid, minilm = lists(dataset, "test")
        scores = {name: score_run(qrels, run, METRICS) for name, run in
                  (("hybrid", hybrid), ("minilm", minilm), ("ensemble", fused(hybrid, minilm, chosen)))}
        rows.append([dataset, len(queries), scores["minilm"]["ndcg@10"], scores["hybrid"]["ndcg@10"],
                     scores["ensemble"]["ndcg@10"], scores["ensemble"]["ndcg@10"] - scores["hybrid"]["ndcg@10"],
                     f"{scores['hybrid']['recall@100']:.3f} -> {scores['ensemble']['recall@100']:.3f}"])
        print(rows[-1], flush=True)
    print(table(["set (test)", "queries", "dense MiniLM", "hybrid (default)", f"hybrid + MiniLM w={chosen}",
                 "change", "recall@100"], rows))


if __name__ == "__main__":
    main()
