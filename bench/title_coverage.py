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


def ndcg(engine, dataset: str, qrels: dict, mode: str, weight: float) -> float:
    queries = {q: t for q, t in read_queries(DATA / dataset).items() if q in qrels}
    engine.boosts = {**DEFAULT_BOOSTS, "title_all": weight}
    return score_run(qrels, run_queries(engine, queries, mode=mode)[0], ("ndcg@10",))["ndcg@10"]


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
    testing = args.test is not None
    weights = (0.0, args.test) if testing else WEIGHTS
    rows = []
    for dataset in TEST_SETS if testing else DEV_SETS:
        engine = engine_for(dataset, "e5-onnx")
        qrels = test_qrels(dataset) if testing else dev_qrels(dataset)
        split = ("test half" if dataset in ("lo-help/zh", "lo-help/en") else "test") if testing else "dev"
        for mode in ("bm25", "hybrid"):
            scores = [ndcg(engine, dataset, qrels, mode, w) for w in weights]
            change = [scores[1] - scores[0]] if testing else []
            rows.append([f"{dataset} ({split})", mode, len(qrels), *scores, *change])
            print(rows[-1], flush=True)
    print(table(["set", "mode", "queries", *(f"w={w}" for w in weights)] + (["change"] if testing else []), rows))


if __name__ == "__main__":
    main()
