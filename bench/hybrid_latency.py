"""Hybrid (BM25 + e5 dense) query latency on SciFact and on the seeded 100k expansion, in-process and
over HTTP, with the split between query encoding and search.

Vectors for the 100k corpus are built from real embeddings, not by re-encoding expanded text (that would
take hours on 2 cores): a passage whose text is in the embedding cache (the real documents, encoded by
encode_corpora.py) keeps its real vector; any other passage gets a real cached e5 vector chosen by a hash
of its text plus Gaussian noise (sigma 0.02 per dimension), renormalised. The index is above the exact
threshold, so this measures HNSW (hnswlib, M=16, ef=200).

Run: python bench/hybrid_latency.py [--size 100000] [--clients 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sqlite3
import time
import warnings

import numpy as np
from common import DATA, WORK, table
from expand_corpus import expanded
from http_latency import hammer, serve
from latency import queries

from jiansuo import searching
from jiansuo.engine import Engine
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.model import SearchRequest
from jiansuo.retrieve.query import plain_query
from jiansuo.threads import one_blas_thread

warnings.filterwarnings("ignore")
CACHE = WORK / "cache" / "embeddings.sqlite"


def synthetic_embedder(engine: Engine):
    pool = np.vstack([np.frombuffer(v, dtype=np.float32) for (v,) in sqlite3.connect(CACHE).execute(
        "SELECT vector FROM vectors WHERE encoder = 'e5'")])
    def embed(texts: list[str]) -> np.ndarray:
        from jiansuo.store.embedding_cache import EmbeddingCache

        cache = EmbeddingCache(CACHE)
        known = cache.lookup("e5", texts, pool.shape[1])
        for row, text in enumerate(texts):
            if np.isnan(known[row]).any():
                seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "little")
                rng = np.random.default_rng(seed)
                vector = pool[seed % len(pool)] + rng.normal(0, 0.02, pool.shape[1])
                known[row] = vector / np.linalg.norm(vector)
        return known.astype(np.float32)

    return embed


def build(name: str, documents, size_hint: int) -> Engine:
    store = WORK / "hybrid" / name
    engine = Engine(store, encoder="e5", embedding_cache=CACHE)
    if engine.dense is None or engine.store.count() < size_hint:
        shutil.rmtree(store, ignore_errors=True)
        engine = Engine(store, encoder="e5", embedding_cache=CACHE)
        while batch := [d for _, d in zip(range(5000), documents, strict=False)]:
            engine.add(batch)
        engine.embedding.embed_passages = synthetic_embedder(engine)  # type: ignore[method-assign]
        started = time.perf_counter()
        engine.refresh()
        print(f"{name}: indexed {engine.store.count()} documents, "
              f"{int((engine.dense.passage_doc >= 0).sum())} passages in {time.perf_counter() - started:.0f} s")
    return engine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    texts = queries()
    corpora = {
        "scifact": (lambda: iter([d for d in read_path(DATA / "scifact" / "corpus.jsonl", "beir")
                                  if not isinstance(d, IngestProblem)]), 5183),
        f"expanded-{args.size // 1000}k": (lambda: expanded(DATA, args.size), args.size),
    }
    rows, http_rows = [], []
    for name, (documents, size) in corpora.items():
        engine = build(name, documents(), size)
        encoder = engine.encoder
        encode_ms, search_ms = [], []
        for text in texts[:30]:
            engine.search(SearchRequest(query=text, syntax=False, mode="hybrid"), hydrate=True)  # warm-up
        for text in texts:
            with one_blas_thread():  # as Engine.search runs them
                started = time.perf_counter()
                vector = encoder.encode_queries([text])[0]
                encoded = time.perf_counter()
                dense_hits = engine.dense.search(vector, SearchRequest(), 100)
                keyword_hits, _ = engine.keyword.search(plain_query(text), SearchRequest(limit=100), None)
                searching.fuse(engine, engine.keyword, keyword_hits, dense_hits, [])
                done = time.perf_counter()
            encode_ms.append((encoded - started) * 1000)
            search_ms.append((done - encoded) * 1000)
        total = np.array(encode_ms) + np.array(search_ms)
        for label, values in (("query encoding (e5)", encode_ms), ("dense + bm25 + fusion", search_ms),
                              ("total", total)):
            rows.append([name, label, f"{np.percentile(values, 50):.1f}", f"{np.percentile(values, 95):.1f}"])
        engine.close()
        process, url = serve(WORK / "hybrid" / name, args.workers)
        try:
            hammer(url, "/?mode=hybrid", texts[:40], args.clients)
            latencies, elapsed, errors = hammer(url, "/?mode=hybrid", texts, args.clients)
            http_rows.append([name, args.clients, args.workers, f"{np.percentile(latencies, 50):.1f}",
                              f"{np.percentile(latencies, 95):.1f}", f"{len(latencies) / elapsed:.0f}", errors])
        finally:
            process.terminate()
            process.wait()
    print(f"{len(texts)} queries, in-process, one client")
    print(table(["corpus", "stage", "p50 ms", "p95 ms"], rows))
    print()
    print("result page (mode=hybrid) over HTTP on loopback")
    print(table(["corpus", "clients", "workers", "p50 ms", "p95 ms", "req/s", "errors"], http_rows))


if __name__ == "__main__":
    main()
