"""Applying an update to a large dense index: the HNSW graph rebuilt whole vs updated in place.

Reads the 100k-document expansion's dense index built by hybrid_latency.py (184,434 e5 passages, HNSW M=16,
ef_construction=200). Each update changes D documents: D/2 deleted, D/2 new (other stored documents under new
ids; their passages get vectors of existing passages plus noise, as hybrid_latency.py's embedder does, so no
model runs and the time is the index's). DenseIndex.updated writes the new version either way; "whole" forces
the old behaviour (STALE_SHARE below zero: every update rebuilds the graph). Quality: recall@10 of the updated
graph's passages against an exact scan, for 200 query vectors (stored passages plus noise), both versions.

Run: python bench/dense_update.py [--changes 100,1000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from common import WORK, table

from jiansuo.engine import Engine
from jiansuo.retrieve import dense as dense_module
from jiansuo.retrieve.dense import DenseIndex
from jiansuo.store.documents import Change


def changes_for(engine: Engine, index: DenseIndex, count: int, seed: int = 0) -> list[Change]:
    rng = np.random.default_rng(seed)
    alive = [doc["id"] for doc in index.docs if doc]
    picked = [alive[i] for i in rng.choice(len(alive), count, replace=False)]
    documents = engine.store.get_many(picked[count // 2 :])
    deleted = [Change(doc_id, 0, None) for doc_id in picked[: count // 2]]
    added = [Change(f"new-{doc_id}", 0, documents[doc_id]) for doc_id in picked[count // 2 :]]
    return deleted + added


def noisy_embedder(index: DenseIndex, seed: int = 1):
    rng = np.random.default_rng(seed)

    def embed(texts: list[str]) -> np.ndarray:
        base = np.asarray(index.vectors[rng.integers(0, len(index.vectors), len(texts))])
        noisy = base + rng.normal(0, 0.02, base.shape).astype(np.float32)
        return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)

    return embed


def graph_recall(index: DenseIndex, queries: np.ndarray, k: int = 10) -> float:
    alive = index.passage_doc >= 0
    found = 0
    for query in queries:
        scores = np.where(alive, np.asarray(index.vectors) @ query, -np.inf)
        exact = set(np.argpartition(-scores, k)[:k].tolist())
        labels, _ = index._hnsw.knn_query(query.reshape(1, -1), k=k)
        found += len(exact & set(labels[0].tolist()))
    return found / (k * len(queries))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", default="100,1000")
    args = parser.parse_args()
    engine = Engine(WORK / "hybrid" / "expanded-100k")
    base = engine.dense
    if base is None or base._hnsw is None:
        raise SystemExit("run bench/hybrid_latency.py first: it builds the 100k index this reads")
    rng = np.random.default_rng(2)
    queries = np.asarray(base.vectors[rng.integers(0, len(base.vectors), 200)])
    queries = queries + rng.normal(0, 0.05, queries.shape).astype(np.float32)
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    rows = [["before the update", len(base.vectors), "-", "-", f"{graph_recall(base, queries):.3f}"]]
    default_share = dense_module.STALE_SHARE
    for count in [int(c) for c in args.changes.split(",")]:
        changes = changes_for(engine, base, count)
        for label, share in (("rebuilt whole", -1.0), ("updated in place", default_share)):
            dense_module.STALE_SHARE = share
            with tempfile.TemporaryDirectory(dir=WORK) as folder:
                target = Path(folder) / "v"
                target.mkdir()
                shutil.copy2(base.folder / "params.json", target / "params.json")
                started = time.perf_counter()
                base.updated(target, changes, noisy_embedder(base))
                seconds = time.perf_counter() - started
                updated = DenseIndex(target)
                rows.append([f"{count} documents changed, graph {label}", len(updated.vectors), f"{seconds:.1f}",
                             len(updated._hnsw.get_ids_list()), f"{graph_recall(updated, queries):.3f}"])
                print(rows[-1], flush=True)
    dense_module.STALE_SHARE = default_share
    print(table(["index", "passages", "update s", "graph elements", "HNSW recall@10 vs exact"], rows))


if __name__ == "__main__":
    main()
