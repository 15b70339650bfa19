"""Dense, hybrid and hubness-reduced retrieval beside BM25, in one run, on every benchmark set.

For each set: nDCG@10 and recall@10/100 of
  bm25                     the keyword index alone
  dense e5 / dense minilm  the bundled encoders alone (MiniLM on English sets only)
  hybrid rrf               RRF (k=60) of BM25 and e5 top-100
  hybrid weighted          0.5/0.5 sum of min-max normalised scores
  hybrid confidence        the default: BM25 weight scaled by the share of query terms its best hit has
  + hubness                the default with CSLS hubness reduction on the dense side
Passages come from the shared embedding cache (bench/encode_corpora.py fills it; missing ones are
encoded here). Cross-lingual sets are reported on both `test` and `nooverlap` qrels.

Run: python bench/dense_beir.py [--datasets scifact,...] [--split test]
"""

from __future__ import annotations

import argparse
import warnings

from common import DATA, WORK, need, table

from jiansuo.engine import Engine
from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.ingest import IngestProblem, read_path

warnings.filterwarnings("ignore")
METRICS = ("ndcg@10", "recall@10", "recall@100")
ENGLISH = {"scifact", "cisi", "medline", "lo-help/en", "lo-help/zh2en"}
SETS = ("scifact", "cisi", "medline", "lo-help/zh", "lo-help/en", "lo-help/zh2en", "lo-help/en2zh")
CACHE = WORK / "cache" / "embeddings.sqlite"


def engine_for(dataset: str, encoder: str, centering: bool | str = True) -> Engine:
    """The bench's engine of a set; `centering=False`: language centering off (folder suffix -raw); a version name
    ("reference-v1"): built with that version of it (folder suffix -<version>)."""
    folder = need(DATA / dataset)
    suffix = "" if centering is True else "-raw" if centering is False else f"-{centering}"
    engine = Engine(WORK / "dense" / f"{dataset.replace('/', '-')}-{encoder}{suffix}", encoder=encoder,
                    embedding_cache=CACHE, centering=centering)
    documents = [d for d in read_path(folder / "corpus.jsonl", "beir") if not isinstance(d, IngestProblem)]
    if engine.store.count() != len(documents):
        engine.add(documents)
    engine.refresh()
    if "pseudo-queries" not in engine.dense.params.get("hubness", ""):  # built before the title query bank
        engine.indexes["dense"].rebuild()
    return engine


def evaluate(dataset: str, split: str) -> list[list]:
    folder = DATA / dataset
    splits = [split] + (["nooverlap"] if (folder / "qrels" / "nooverlap.tsv").exists() else [])
    e5 = engine_for(dataset, "e5")
    minilm = engine_for(dataset, "minilm") if dataset in ENGLISH else None
    rows = []
    for qrels_name in splits:
        qrels = read_qrels(folder, qrels_name)
        queries = {q: t for q, t in read_queries(folder).items() if q in qrels}
        label = dataset if qrels_name == split else f"{dataset} ({qrels_name})"
        runs = {"bm25": run_queries(e5, queries, mode="bm25")[0],
                "dense e5": run_queries(e5, queries, mode="dense")[0]}
        if minilm is not None:
            runs["dense minilm"] = run_queries(minilm, queries, mode="dense")[0]
        for method in ("rrf", "weighted", "confidence"):
            e5.fusion_method = method
            runs[f"hybrid {method}"] = run_queries(e5, queries, mode="hybrid")[0]
        e5.hubness = True
        runs["hybrid confidence + hubness"] = run_queries(e5, queries, mode="hybrid")[0]
        runs["dense e5 + hubness"] = run_queries(e5, queries, mode="dense")[0]
        e5.hubness = False
        for system, run in runs.items():
            scores = score_run(qrels, run, METRICS)
            rows.append([label, len(queries), system, *(scores[m] for m in METRICS)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default=",".join(SETS))
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    rows = [row for name in args.datasets.split(",") for row in evaluate(name, args.split)]
    print(table(["dataset", "queries", "system", *METRICS], rows))


if __name__ == "__main__":
    main()
