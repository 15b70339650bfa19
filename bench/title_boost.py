"""The title field's BM25 boost, swept on dev queries only: SciFact train queries and a seeded half of
LibreOffice zh's test queries (the other half is never used to choose). BM25 mode; boosts are applied at query
time, so one index per set serves the whole sweep.

Run: python bench/title_boost.py
"""

from __future__ import annotations

import warnings

from common import DATA, table
from dense_beir import engine_for
from meaning_cutoff import halves

from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.retrieve.bm25 import DEFAULT_BOOSTS

warnings.filterwarnings("ignore")
BOOSTS = (0.25, 0.5, 1.0, 1.5, 2.0)


def dev_qrels(dataset: str) -> dict:
    if dataset == "scifact":
        return read_qrels(DATA / dataset, "train")
    dev, _ = halves(dataset)
    return {q: j for q, j in read_qrels(DATA / dataset, "test").items() if q in dev}


def main() -> None:
    rows = []
    for dataset in ("scifact", "lo-help/zh", "lo-help/en"):
        engine = engine_for(dataset, "e5-onnx")
        qrels = dev_qrels(dataset)
        queries = {q: t for q, t in read_queries(DATA / dataset).items() if q in qrels}
        row: list = [f"{dataset} (dev)", len(queries)]
        for boost in BOOSTS:
            engine.boosts = {**DEFAULT_BOOSTS, "title": boost}
            row.append(score_run(qrels, run_queries(engine, queries, mode="bm25")[0], ("ndcg@10",))["ndcg@10"])
        rows.append(row)
        print(row, flush=True)
    print(f"shipped title boost: {DEFAULT_BOOSTS['title']}\n")
    print(table(["set", "queries", *(f"title {b}" for b in BOOSTS)], rows))


if __name__ == "__main__":
    main()
