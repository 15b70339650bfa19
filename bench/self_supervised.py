"""Self-supervised adaptation of the bi-encoder to a store's own corpus, measured on dev and held-out queries.

`jiansuo train bi --self-supervised N --base e5` on the LibreOffice zh store (title <-> own opening as positives,
title <-> a BM25-similar page's opening as negatives), then the same store indexed with the tuned model, against
the default engine (e5-onnx, centered). Dev: a seeded half of the test queries; the other half is held out.

Run: python bench/self_supervised.py [--pairs 2000] [--steps 200]   (about 20 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import warnings

from common import DATA, WORK, table
from dense_beir import engine_for
from meaning_cutoff import halves

from jiansuo.engine import Engine
from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run

warnings.filterwarnings("ignore")
DATASET = "lo-help/zh"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    base = engine_for(DATASET, "e5-onnx")
    work = WORK / "self_supervised"
    shutil.rmtree(work, ignore_errors=True)
    store = work / "store"
    shutil.copytree(base.path, store, ignore=shutil.ignore_patterns("dense", "cache"))
    model = work / "model"
    subprocess.run([sys.executable, "-m", "jiansuo.cli", "train", "bi", "--store", str(store), "--base", "e5",
                    "--self-supervised", str(args.pairs), "--out", str(model), "--max-steps", str(args.steps),
                    "--batch-size", "16"], check=True)
    tuned = Engine(store, encoder=str(model))
    tuned.refresh()
    dev, held_out = halves(DATASET)
    qrels_all = read_qrels(DATA / DATASET, "test")
    rows = []
    for part, keep in (("dev half", dev), ("held-out half", held_out)):
        qrels = {q: j for q, j in qrels_all.items() if q in keep}
        queries = {q: t for q, t in read_queries(DATA / DATASET).items() if q in qrels}
        for mode in ("dense", "hybrid"):
            before = score_run(qrels, run_queries(base, queries, mode=mode)[0], ("ndcg@10",))["ndcg@10"]
            after = score_run(qrels, run_queries(tuned, queries, mode=mode)[0], ("ndcg@10",))["ndcg@10"]
            rows.append([f"{DATASET} ({part})", len(queries), mode, before, after, after - before])
            print(rows[-1], flush=True)
    print(f"\n{args.pairs} self-supervised titles, {args.steps} steps of 16 pairs\n")
    print(table(["set", "queries", "mode", "default (e5-onnx, centered)", "self-supervised e5", "change"], rows))


if __name__ == "__main__":
    main()
