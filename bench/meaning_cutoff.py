"""The honest-hybrid cut-off: when no document matches a query's words, which results by meaning to list.

1. What "unrelated" looks like: queries that have nothing to do with a corpus, the 312 kexue post titles
   (Chinese, machine learning) and SciFact's train claims (English, biomedicine), searched by e5 in the CISI
   corpus (English, library science, 1960s); the best cosine each finds. Candidate cut-offs: its 50th, 75th,
   90th, 95th and 99th percentiles (at the 99th an unrelated query finds nothing to list 99 times in 100).
2. Choose on dev: the highest candidate that costs the zh->en dev half (a seeded half of its test queries,
   where most queries share no word with the English corpus) at most .005 nDCG@10.
3. Check on every set with the chosen cut-off: the share of queries no document matches by keywords (these
   show the notice) and hybrid nDCG@10 with and without it. Only such queries can change.

Run: python bench/meaning_cutoff.py [--datasets lo-help/zh2en,lo-help/en2zh,...] [--encoder e5-onnx]
"""

from __future__ import annotations

import argparse
import json
import random

import numpy as np
from common import DATA, need, table
from dense_beir import engine_for

from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.model import SearchRequest

SETS = ("cisi", "lo-help/zh", "lo-help/en", "lo-help/zh2en", "lo-help/en2zh")


def unrelated_best_cosines(corpus: str, encoder: str) -> np.ndarray:
    engine = engine_for(corpus, encoder)
    titles = [json.loads(line)["title"] for line in open(need(DATA / "kexue" / "kexue.jsonl"), encoding="utf-8")]
    claims = [read_queries(DATA / "scifact")[q] for q in read_qrels(DATA / "scifact", "train")]
    best = []
    for text in titles + claims:
        hits = engine.dense.search(engine.query_vector(text), SearchRequest(), 1)
        best.append(hits[0].scores["dense"] if hits else 0.0)
    return np.array(best)


def keyword_total(engine, text: str) -> int:
    return engine.search(SearchRequest(query=text, syntax=False, mode="bm25", limit=1), hydrate=False).total


def halves(dataset: str) -> tuple[set[str], set[str]]:
    ids = sorted(read_qrels(DATA / dataset, "test"))
    random.Random(20261129).shuffle(ids)
    return set(ids[: len(ids) // 2]), set(ids[len(ids) // 2 :])


def choose(cutoffs: dict[str, float], encoder: str) -> tuple[str, list[list]]:
    engine = engine_for("lo-help/zh2en", encoder)
    dev, _ = halves("lo-help/zh2en")
    qrels = {q: j for q, j in read_qrels(DATA / "lo-help/zh2en", "test").items() if q in dev}
    queries = {q: t for q, t in read_queries(DATA / "lo-help/zh2en").items() if q in qrels}
    engine.meaning_cutoff = -1.0
    base = score_run(qrels, run_queries(engine, queries, mode="hybrid")[0], ("ndcg@10",))["ndcg@10"]
    rows, chosen = [], None
    for name, cutoff in cutoffs.items():
        engine.meaning_cutoff = cutoff
        ndcg = score_run(qrels, run_queries(engine, queries, mode="hybrid")[0], ("ndcg@10",))["ndcg@10"]
        rows.append([name, f"{cutoff:.4f}", base, ndcg, ndcg - base])
        if base - ndcg <= 0.005:
            chosen = name
    return chosen, rows


def check(dataset: str, cutoff: float, encoder: str) -> list[list]:
    engine = engine_for(dataset, encoder)
    folder = DATA / dataset
    rows = []
    for split in ("test", "nooverlap", "test half"):
        if not (folder / "qrels" / f"{split.split()[0]}.tsv").exists():
            continue
        if split == "test half" and dataset != "lo-help/zh2en":
            continue
        qrels = read_qrels(folder, split.split()[0])
        if split == "test half":
            qrels = {q: j for q, j in qrels.items() if q in halves(dataset)[1]}
        queries = {q: t for q, t in read_queries(folder).items() if q in qrels}
        no_words = [q for q, t in queries.items() if not keyword_total(engine, t)]
        engine.meaning_cutoff = -1.0
        before = run_queries(engine, queries, mode="hybrid")[0]
        engine.meaning_cutoff = cutoff
        after = run_queries(engine, queries, mode="hybrid")[0]
        listed = sum(1 for q in no_words if after.get(q))
        dropped = sum(len(before.get(q, {})) - len(after.get(q, {})) for q in no_words)
        ndcg_before = score_run(qrels, before, ("ndcg@10",))["ndcg@10"]
        ndcg_after = score_run(qrels, after, ("ndcg@10",))["ndcg@10"]
        rows.append([f"{dataset} ({split})", len(queries), len(no_words), f"{len(no_words) / len(queries):.1%}",
                     f"{listed}/{len(no_words)}", dropped, ndcg_before, ndcg_after, ndcg_after - ndcg_before])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default=",".join(SETS))
    parser.add_argument("--encoder", default="e5")
    args = parser.parse_args()
    best = unrelated_best_cosines("cisi", args.encoder)
    cutoffs = {f"{p}th percentile": float(np.percentile(best, p)) for p in (50, 75, 90, 95, 99)}
    print(f"Unrelated queries (312 kexue titles + SciFact train claims) in CISI, best {args.encoder} cosine: "
          f"median {np.median(best):.4f}, max {best.max():.4f}\n")
    chosen, rows = choose(cutoffs, args.encoder)
    print(table(["candidate", "cosine", "zh2en dev nDCG@10 no cut", "with cut", "change"], rows))
    if chosen is None:
        print("\nNo candidate keeps the dev half within .005: no cut-off.")
        return
    cutoff = cutoffs[chosen]
    print(f"\nChosen on dev: {chosen} = {cutoff:.4f}\n")
    rows = [row for name in args.datasets.split(",") for row in check(name, cutoff, args.encoder)]
    print(table(["set", "queries", "no keyword match", "share (notice)", "listed after cut", "hits cut",
                 "nDCG@10 no cut", "nDCG@10 cut", "change"], rows))


if __name__ == "__main__":
    main()
