"""A title that holds every word of the query, rewarded: the title field's BM25 added again at weight w
(`title_all` in the BM25 boosts) when every query term is in the title. Swept on dev queries only (SciFact
train, the seeded dev halves of LibreOffice zh and en), BM25 and hybrid; the chosen weight is then checked on
every test set.

Run: python bench/title_coverage.py [--test W]
"""

from __future__ import annotations

import argparse
import warnings

from common import DATA, table
from dense_beir import engine_for
from meaning_cutoff import halves
from title_boost import dev_qrels

from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.retrieve.bm25 import DEFAULT_BOOSTS

warnings.filterwarnings("ignore")
WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)
DEV_SETS = ("scifact", "lo-help/zh", "lo-help/en")
TEST_SETS = ("scifact", "cisi", "medline", "lo-help/zh", "lo-help/en", "lo-help/zh2en", "lo-help/en2zh")


def ndcg(engine, qrels: dict, mode: str, weight: float) -> float:
    queries = {q: t for q, t in read_queries(DATA / engine_name(engine)).items() if q in qrels}
    engine.boosts = {**DEFAULT_BOOSTS, "title_all": weight}
    return score_run(qrels, run_queries(engine, queries, mode=mode)[0], ("ndcg@10",))["ndcg@10"]


def engine_name(engine) -> str:
    return engine.bench_dataset


def test_qrels(dataset: str) -> dict:
    qrels = read_qrels(DATA / dataset, "test")
    if dataset in ("lo-help/zh", "lo-help/en"):
        _, held = halves(dataset)
        return {q: j for q, j in qrels.items() if q in held}
    return qrels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test", type=float, help="check this weight against 0 on every test set")
    args = parser.parse_args()
    if args.test is None:
        rows = []
        for dataset in DEV_SETS:
            engine = engine_for(dataset, "e5-onnx")
            engine.bench_dataset = dataset
            qrels = dev_qrels(dataset)
            for mode in ("bm25", "hybrid"):
                row: list = [f"{dataset} (dev)", mode, *(ndcg(engine, qrels, mode, w) for w in WEIGHTS)]
                rows.append(row)
                print(row, flush=True)
        print(table(["set", "mode", *(f"w={w}" for w in WEIGHTS)], rows))
        return
    rows = []
    for dataset in TEST_SETS:
        engine = engine_for(dataset, "e5-onnx")
        engine.bench_dataset = dataset
        qrels = test_qrels(dataset)
        for mode in ("bm25", "hybrid"):
            before, after = ndcg(engine, qrels, mode, 0.0), ndcg(engine, qrels, mode, args.test)
            rows.append([f"{dataset} (test{' half' if dataset in ('lo-help/zh', 'lo-help/en') else ''})", mode,
                         len(qrels), before, after, after - before])
            print(rows[-1], flush=True)
    print(table(["set", "mode", "queries", "w=0", f"w={args.test}", "change"], rows))


if __name__ == "__main__":
    main()
