"""In-process search latency with numpy's OpenBLAS free to use every core (as before) against held to one thread
during a search (Engine.search, jiansuo/threads.py), on the e5 stores built by dense_beir.py.

The two settings alternate in blocks of queries (each query is searched once, so the query-vector cache never
answers); the first searches of a block are not counted, so the other setting's leftover threads do not land on
its neighbour. torch keeps its default thread count, as in the CLI and the Python API.

Run: python bench/search_threads.py [--queries 400] [--block 25]
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext

import numpy as np
from common import DATA, table
from dense_beir import engine_for

import jiansuo.engine
from jiansuo.evaluate.datasets import read_queries
from jiansuo.model import SearchRequest
from jiansuo.threads import one_blas_thread

SETTINGS = {"BLAS free (before)": nullcontext, "BLAS one thread (now)": one_blas_thread}
SKIPPED = 3  # searches at the start of each block left out


def timings(dataset: str, modes: list[str], count: int, block: int) -> dict[tuple[str, str], list[float]]:
    engine = engine_for(dataset, "e5")
    engine.warm_up()
    queries = sorted(read_queries(DATA / dataset).values())[: count * len(modes)]
    out: dict[tuple[str, str], list[float]] = {}
    for m, mode in enumerate(modes):
        own = queries[m * count : (m + 1) * count]
        for b, start in enumerate(range(0, len(own), block)):
            name = list(SETTINGS)[b % 2]
            jiansuo.engine.one_blas_thread = SETTINGS[name]
            for i, text in enumerate(own[start : start + block]):
                started = time.perf_counter()
                engine.search(SearchRequest(query=text, mode=mode, syntax=False))
                if i >= SKIPPED:
                    out.setdefault((mode, name), []).append((time.perf_counter() - started) * 1000)
    jiansuo.engine.one_blas_thread = one_blas_thread
    engine.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=400, help="per corpus and mode, both settings together")
    parser.add_argument("--block", type=int, default=25)
    args = parser.parse_args()
    rows = []
    for dataset in ("scifact", "lo-help/zh"):
        measured = timings(dataset, ["hybrid", "dense"], args.queries, args.block)
        for mode in ("hybrid", "dense"):
            before, now = (np.array(measured[(mode, name)]) for name in SETTINGS)
            rows.append([dataset, mode, len(before), len(now),
                         f"{np.percentile(before, 50):.1f}", f"{np.percentile(now, 50):.1f}",
                         f"{np.percentile(before, 95):.1f}", f"{np.percentile(now, 95):.1f}",
                         f"{np.percentile(before, 50) / np.percentile(now, 50):.2f}"])
    print("in-process Engine.search (with excerpts), torch at its default threads; ms")
    print(table(["corpus", "mode", "n before", "n now", "p50 before", "p50 now", "p95 before", "p95 now",
                 "p50 ratio"], rows))


if __name__ == "__main__":
    main()
