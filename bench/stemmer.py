"""Which English stemmer: BM25 nDCG@10 with Porter (shipped so far), Snowball English (Porter2) and none.

Decided on SciFact train (the only train/dev split among the English sets); the test rows of every set are
printed beside it as the no-regression guard, never used to choose.

Run: python bench/stemmer.py [--datasets scifact,cisi,medline,lo-help/en,lo-help/zh]
"""

from __future__ import annotations

import argparse

from bm25_beir import evaluate_dataset
from common import table

from jiansuo.analysis.tokenize import STEMMERS, use_stemmer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="scifact,cisi,medline,lo-help/en,lo-help/zh")
    args = parser.parse_args()
    rows = []
    for stemmer in STEMMERS:
        use_stemmer(stemmer)
        for split in ("train", "test"):
            for name in args.datasets.split(","):
                for row in evaluate_dataset(name, split, only_engine=True):
                    rows.append([stemmer, split, row[0], *row[2:5]])
    use_stemmer("porter")
    print(table(["stemmer", "split", "dataset", "ndcg@10", "mrr@10", "recall@100"], rows))


if __name__ == "__main__":
    main()
