"""Language centering (jiansuo/encoders/centering.py) on every relevance set: the same encoder (e5-onnx, the
default), the same passages and the same embedding cache, with and without centering, measured in one run.

For each set: BM25, dense and hybrid nDCG@10 and recall@100, centering off vs on. Nothing here is tuned on these
queries: the reference means come from arXiv and CSL text (bench/centering_reference.py), and the hybrid's
meaning cut-off of the centered index was chosen on the zh->en dev half (bench/meaning_cutoff.py). The table also
shows the zh->en test half that the cut-off never saw.

Run: python bench/centering.py [--datasets scifact,cisi,...] [--encoder e5-onnx]
"""

from __future__ import annotations

import argparse
import warnings

from common import DATA, table
from dense_beir import engine_for
from meaning_cutoff import halves

from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run

warnings.filterwarnings("ignore")
SETS = ("scifact", "cisi", "medline", "lo-help/zh", "lo-help/en", "lo-help/zh2en", "lo-help/en2zh")
METRICS = ("ndcg@10", "recall@100")


def splits(dataset: str) -> list[tuple[str, dict]]:
    folder = DATA / dataset
    out = [("test", read_qrels(folder, "test"))]
    if (folder / "qrels" / "nooverlap.tsv").exists():
        out.append(("nooverlap", read_qrels(folder, "nooverlap")))
    if dataset == "lo-help/zh2en":
        held_out = halves(dataset)[1]
        out.append(("test half", {q: j for q, j in out[0][1].items() if q in held_out}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default=",".join(SETS))
    parser.add_argument("--encoder", default="e5-onnx")
    args = parser.parse_args()
    rows = []
    for dataset in args.datasets.split(","):
        engines = {"off": engine_for(dataset, args.encoder, centering=False),
                   "on": engine_for(dataset, args.encoder, centering=True)}
        for split, qrels in splits(dataset):
            queries = {q: t for q, t in read_queries(DATA / dataset).items() if q in qrels}
            scores = {"bm25": score_run(qrels, run_queries(engines["off"], queries, mode="bm25")[0], METRICS)}
            for mode in ("dense", "hybrid"):
                for state, engine in engines.items():
                    scores[f"{mode} {state}"] = score_run(qrels, run_queries(engine, queries, mode=mode)[0], METRICS)
            row = [f"{dataset} ({split})", len(queries)]
            for name in ("bm25", "dense off", "dense on", "hybrid off", "hybrid on"):
                row.append(scores[name]["ndcg@10"])
            row += [scores["dense on"]["ndcg@10"] - scores["dense off"]["ndcg@10"],
                    scores["hybrid on"]["ndcg@10"] - scores["hybrid off"]["ndcg@10"],
                    f"{scores['hybrid on']['ndcg@10'] / scores['bm25']['ndcg@10']:.2f}x"
                    if scores["bm25"]["ndcg@10"] >= 0.01 else "-",
                    scores["hybrid off"]["recall@100"], scores["hybrid on"]["recall@100"]]
            rows.append(row)
            print(rows[-1], flush=True)
    print(f"\nencoder {args.encoder}; nDCG@10 unless named; off = no centering, on = language centering (default)\n")
    print(table(["set", "queries", "bm25", "dense off", "dense on", "hybrid off", "hybrid on", "dense change",
                 "hybrid change", "hybrid on / bm25", "hybrid off R@100", "hybrid on R@100"], rows))


if __name__ == "__main__":
    main()
