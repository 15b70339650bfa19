"""Does the cross-lingual rotation (bench/crosslingual_rotation.py) hold outside LibreOffice help?

The rotation is fitted on software help pages. This checks it on the demo corpus instead: 10,033 English Wikipedia
summaries and 2,549 Chinese LibreOffice pages (scripts/demo_corpora.py), searched with Chinese queries for English
articles: bench/data/wiki_zh_known_items.tsv, 131 standard Chinese names of article topics (written for this
bench, one per title, for titles drawn at random from the Wikipedia half with seed 7, skipping those whose usual
Chinese name was in doubt). Each query has one relevant article, the one with that title. The queries are split
in two by a seeded shuffle: "dev" may choose, "test" only reports.

Dense retrieval in numpy over the demo's passages (as the product cuts them; raw e5-onnx vectors from the demo
store's embedding cache), MaxP per document, with: no rotation (centering version 1), and the rotation at each
shrinkage of bench/crosslingual_rotation.py's grid. MRR@10 and recall@10 of the known item.

Run: python bench/rotation_out_of_domain.py [--demo data/demo] [--cache data/site/cache/embeddings.sqlite]
"""

from __future__ import annotations

import argparse
import random
import warnings
from pathlib import Path

import numpy as np
from common import table
from crosslingual_rotation import LAMBDAS, fit_pairs, procrustes

from jiansuo.analysis.passages import split_passages
from jiansuo.encoders import load_encoder
from jiansuo.encoders.centering import MEANS_ONLY, centering_for, script_of
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.store.embedding_cache import EmbeddingCache

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "bench" / "data" / "wiki_zh_known_items.tsv"


def known_items() -> dict[str, list[tuple[str, str]]]:
    rows = [tuple(line.rstrip("\n").split("\t")) for line in QUERIES.open(encoding="utf-8") if line.strip()]
    random.Random(29).shuffle(rows)
    half = len(rows) // 2
    return {"dev": rows[:half], "test": rows[half:]}


def passages(demo: Path, cache_path: Path, encoder) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """Raw passage vectors, their texts, the document ordinal of each, and the documents' titles."""
    documents = [d for f in sorted(demo.glob("*.jsonl")) for d in read_path(f) if not isinstance(d, IngestProblem)]
    texts, owners = [], []
    for ordinal, document in enumerate(documents):
        for passage in split_passages(document):
            texts.append(passage.text)
            owners.append(ordinal)
    cache = EmbeddingCache(cache_path)
    try:
        vectors = cache.encode(encoder.name, texts, encoder.encode_passages, encoder.dim)
    finally:
        cache.close()
    return vectors, texts, np.array(owners), [d.title for d in documents]


def scores(queries: np.ndarray, items: np.ndarray, owners: np.ndarray, titles: list[str],
           wanted: list[str]) -> tuple[float, float]:
    reciprocal, found = [], []
    similar = queries @ items.T
    for row, title in enumerate(wanted):
        best = np.full(len(titles), -9.0, dtype=np.float32)
        np.maximum.at(best, owners, similar[row])
        top = [titles[i] for i in np.argsort(-best)[:10]]
        rank = top.index(title) + 1 if title in top else None
        reciprocal.append(1 / rank if rank else 0.0)
        found.append(rank is not None)
    return float(np.mean(reciprocal)), float(np.mean(found))


class OutOfDomain:
    """The demo's passages centered (version 1), and the known-item queries, ready to score any rotation."""

    def __init__(self, encoder, means, demo: Path = ROOT / "data" / "demo",
                 cache: Path = ROOT / "data" / "site" / "cache" / "embeddings.sqlite"):
        raw, texts, self.owners, self.titles = passages(demo, cache, encoder)
        self.items = means.passages(raw, texts)
        self.cjk = np.array([script_of(t) == "cjk" for t in texts])
        self.split = known_items()
        self.queries = {part: means.queries(encoder.encode_queries([q for q, _ in rows]), [q for q, _ in rows])
                        for part, rows in self.split.items()}

    def scores(self, rotation: np.ndarray | None, part: str) -> tuple[float, float]:
        items, queries = self.items, self.queries[part]
        if rotation is not None:
            items = items.copy()
            items[self.cjk] = items[self.cjk] @ rotation
            queries = queries @ rotation
        return scores(queries, items, self.owners, self.titles, [t for _, t in self.split[part]])

    def dev_mrr(self, rotation: np.ndarray | None) -> float:
        return self.scores(rotation, "dev")[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo", type=Path, default=ROOT / "data" / "demo")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "site" / "cache" / "embeddings.sqlite")
    args = parser.parse_args()
    encoder = load_encoder("e5-onnx")
    means = centering_for("e5-onnx", MEANS_ONLY)
    assert means is not None
    other = OutOfDomain(encoder, means, args.demo, args.cache)
    print(f"{len(other.titles)} documents, {len(other.owners)} passages ({other.cjk.sum()} CJK)", flush=True)
    a, b, _ = fit_pairs(means, encoder)
    shipped = centering_for("e5-onnx")
    rotations = {"none (version 1)": None} | {f"lambda {s}": procrustes(a, b, s) for s in LAMBDAS}
    if shipped is not None and shipped.rotations:
        rotations["shipped (centering_means/e5.npz)"] = shipped.rotations["cjk"]
    rows = []
    for name, rotation in rotations.items():
        rows.append([name, *other.scores(rotation, "dev"), *other.scores(rotation, "test")])
        print(rows[-1], flush=True)
    print(table(["rotation", "dev MRR@10", "dev recall@10", "test MRR@10", "test recall@10"], rows))


if __name__ == "__main__":
    main()
