"""Fill the embedding cache for the benchmark corpora, so later benchmark runs cost no encoder call.

Uses exactly the indexing path (split_passages + EmbeddingCache). Safe to interrupt and rerun.
Run: python bench/encode_corpora.py [--encoders e5,minilm] [--datasets scifact,...]
"""

from __future__ import annotations

import argparse
import time

from common import DATA, WORK

from jiansuo.analysis.passages import split_passages
from jiansuo.encoders import load_encoder
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.store.embedding_cache import EmbeddingCache

ENGLISH = ("scifact", "cisi", "medline", "lo-help/en")
ALL = ("scifact", "lo-help/zh", "lo-help/en", "cisi", "medline")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoders", default="e5,minilm")
    parser.add_argument("--datasets", default=",".join(ALL))
    args = parser.parse_args()
    cache = EmbeddingCache(WORK / "cache" / "embeddings.sqlite")
    for name in args.encoders.split(","):
        encoder = load_encoder(name)
        for dataset in args.datasets.split(","):
            if name == "minilm" and dataset not in ENGLISH:
                continue
            docs = [d for d in read_path(DATA / dataset / "corpus.jsonl", "beir") if not isinstance(d, IngestProblem)]
            texts = [p.text for d in docs for p in split_passages(d)]
            started = time.perf_counter()
            cache.encode(encoder.name, texts, encoder.encode_passages, encoder.dim)
            seconds = time.perf_counter() - started
            print(f"{name} {dataset}: {len(docs)} docs, {len(texts)} passages, {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
