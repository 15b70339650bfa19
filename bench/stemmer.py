"""Which English stemming: BM25 nDCG@10 with Porter and the irregular-plural map (shipped), Porter alone, Snowball
English (Porter2) and none.

Decided on SciFact train (the only train/dev split among the English sets); the test rows of every set are
printed beside it as the no-regression guard, never used to choose. The last table counts, per set, the
documents and queries where the plural map changes a term, the only places it can move a score.

Run: python bench/stemmer.py [--datasets scifact,cisi,medline,lo-help/en,lo-help/zh]
"""

from __future__ import annotations

import argparse
import re

from bm25_beir import evaluate_dataset
from common import DATA, table

from jiansuo.analysis import tokenize
from jiansuo.evaluate.datasets import read_queries
from jiansuo.ingest import IngestProblem, read_path

VARIANTS = (("porter + irregular plurals", "porter", True), ("porter", "porter", False),
            ("english", "english", False), ("none", "none", False))


def use(stemmer: str, plurals: bool) -> None:
    tokenize.IRREGULAR_PLURALS = plurals
    tokenize.use_stemmer(stemmer)  # clears the term cache, which the plural setting also feeds


def touched(name: str) -> list:
    """[set, documents, queries] holding a word the plural map rewrites."""
    folder = DATA / name
    plurals = set(tokenize._SINGULAR_OF)

    def has_plural(text: str) -> bool:
        return any(word in plurals for word in re.findall(r"[a-z]+", text.casefold()))

    documents = [d for d in read_path(folder / "corpus.jsonl", "beir") if not isinstance(d, IngestProblem)]
    return [name, sum(has_plural(f"{d.title} {d.body}") for d in documents),
            sum(has_plural(q) for q in read_queries(folder).values())]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="scifact,cisi,medline,lo-help/en,lo-help/zh")
    args = parser.parse_args()
    rows = []
    for label, stemmer, plurals in VARIANTS:
        use(stemmer, plurals)
        for split in ("train", "test"):
            for name in args.datasets.split(","):
                for row in evaluate_dataset(name, split, only_engine=True):
                    rows.append([label, split, row[0], *row[2:5]])
                    print(rows[-1], flush=True)
    use("porter", True)
    print(table(["stemming", "split", "dataset", "ndcg@10", "mrr@10", "recall@100"], rows))
    print()
    print(table(["set", "documents with a mapped plural", "queries with one"],
                [touched(name) for name in args.datasets.split(",")]))


if __name__ == "__main__":
    main()
