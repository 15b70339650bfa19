"""Preference ranking (sort=preference): does a reader's stars re-rank a result list better than relevance?

A simulated reader starred k (3 or 10) judged-relevant documents of one query; the query's BM25 top 100
(without those k) is ordered by relevance, or by resemblance to the stars: the centroid or a per-reader linear
classifier over e5 document vectors, the centroid over keyword TF-IDF vectors. nDCG@10 against the query's
other relevant documents. Sets with enough judged documents per query: CISI and MEDLINE (SciFact and the
LibreOffice help judge one or two documents per query, too few to star k and rank the rest). Queries are split
by a seeded permutation into dev (choices) and test (the table) halves.

Run: python bench/preference.py [--datasets cisi,medline]
"""

from __future__ import annotations

import argparse
import random

import numpy as np
from common import DATA, table
from dense_beir import engine_for

from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.model import SearchRequest
from jiansuo.searching import preference_scores

SYSTEMS = ("relevance (BM25)", "centroid, e5", "classifier, e5", "centroid, keywords")


def evaluate(dataset: str, k: int) -> list[list]:
    engine = engine_for(dataset, "e5")
    qrels = read_qrels(DATA / dataset, "test")
    queries = read_queries(DATA / dataset)
    ids = sorted(q for q, judged in qrels.items() if sum(v > 0 for v in judged.values()) >= k + 2)
    random.Random(20261129).shuffle(ids)
    halves = {"dev": ids[: len(ids) // 2], "test": ids[len(ids) // 2 :]}
    rows = []
    for split, chosen in halves.items():
        runs = {name: {} for name in SYSTEMS}
        gold = {}
        for query_id in chosen:
            relevant = sorted(d for d, v in qrels[query_id].items() if v > 0)
            starred = random.Random(query_id).sample(relevant, k)
            hits = engine.search(SearchRequest(query=queries[query_id], syntax=False, mode="bm25", limit=100),
                                 hydrate=False).hits
            candidates = [h.doc_id for h in hits if h.doc_id not in starred]
            gold[query_id] = {d: v for d, v in qrels[query_id].items() if d not in starred}
            runs["relevance (BM25)"][query_id] = {d: 100.0 - i for i, d in enumerate(candidates)}
            for name, method in (("centroid, e5", "centroid"), ("classifier, e5", "classifier")):
                scores = preference_scores(engine, candidates, starred, method)
                runs[name][query_id] = {d: float(s) for d, s in zip(candidates, scores, strict=True)}
            dirs = engine.indexes["dense"].dirs
            dense, dirs.current = dirs.current, lambda: None  # keyword vectors only
            try:
                scores = preference_scores(engine, candidates, starred)
            finally:
                dirs.current = dense
            runs["centroid, keywords"][query_id] = {d: float(s) for d, s in zip(candidates, scores, strict=True)}
        for name, run in runs.items():
            rows.append([dataset, k, split, len(chosen), name, score_run(gold, run, ("ndcg@10",))["ndcg@10"]])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="cisi,medline")
    args = parser.parse_args()
    rows = [row for name in args.datasets.split(",") for k in (3, 10) for row in evaluate(name, k)]
    print(table(["set", "k starred", "split", "queries", "order", "nDCG@10"], rows))
    np.set_printoptions(precision=4)


if __name__ == "__main__":
    main()
