"""Retrieval quality of e5 on ONNX Runtime (int8 and fp32) beside the torch encoder, in one run.

For each set: nDCG@10 of dense and hybrid (the default fusion and cut-off) with each encoder; passages from the
shared embedding cache (each encoder's vectors are cached under its own name; missing ones are encoded here).
Cross-lingual sets are reported on test and nooverlap.

Run: python bench/onnx_quality.py [--datasets cisi,medline,lo-help/zh,lo-help/en,lo-help/zh2en,lo-help/en2zh]
                                  [--encoders e5,e5-onnx]
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="cisi,medline,lo-help/zh,lo-help/en,lo-help/zh2en,lo-help/en2zh")
    parser.add_argument("--encoders", default="e5,e5-onnx")
    args = parser.parse_args()
    encoders = args.encoders.split(",")
    rows = []
    for dataset in args.datasets.split(","):
        folder = DATA / dataset
        engines = {name: engine_for(dataset, name) for name in encoders}
        for split in ("test", "nooverlap"):
            if not (folder / "qrels" / f"{split}.tsv").exists():
                continue
            qrels = read_qrels(folder, split)
            queries = {q: t for q, t in read_queries(folder).items() if q in qrels}
            for mode in ("dense", "hybrid"):
                scores = [score_run(qrels, run_queries(engines[name], queries, mode=mode)[0], ("ndcg@10",))["ndcg@10"]
                          for name in encoders]
                rows.append([f"{dataset} ({split})", len(queries), mode, *scores,
                             *(f"{s - scores[0]:+.4f}" for s in scores[1:])])
                print(rows[-1], flush=True)
    print(table(["set", "queries", "mode", *(f"nDCG@10 {n}" for n in encoders),
                 *(f"{n} - {encoders[0]}" for n in encoders[1:])], rows))


if __name__ == "__main__":
    main()
