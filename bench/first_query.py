"""The first search of a fresh process, with and without Engine.warm_up (what each `jiansuo serve` worker runs
before it answers).

Each trial is a new Python process that opens the SciFact store (e5 hybrid index, built by dense_beir.py) and
times its first and second default-mode searches (two different test queries, no page rendering); with warm-up
it first times Engine.warm_up. The processes alternate cold / warm so that disk caches favour neither.

Run: python bench/first_query.py [--trials 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
from common import DATA, WORK, table
from dense_beir import engine_for

from jiansuo.evaluate.datasets import read_qrels, read_queries


def child(store: str, warm: bool, first: str, second: str) -> None:
    from jiansuo.engine import Engine

    started = time.perf_counter()
    engine = Engine(store)
    timings = {"open": time.perf_counter() - started}
    if warm:
        started = time.perf_counter()
        engine.warm_up()
        timings["warm_up"] = time.perf_counter() - started
    for name, query in (("first", first), ("second", second)):
        started = time.perf_counter()
        engine.search(query)
        timings[name] = time.perf_counter() - started
    print(json.dumps({k: 1000 * v for k, v in timings.items()}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--child", nargs=4, metavar=("STORE", "WARM", "FIRST", "SECOND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        store, warm, first, second = args.child
        child(store, warm == "1", first, second)
        return
    engine_for("scifact", "e5").close()  # built and up to date before timing
    store = str(WORK / "dense" / "scifact-e5")
    queries = read_queries(DATA / "scifact")
    texts = [queries[q] for q in sorted(read_qrels(DATA / "scifact", "test")) if q in queries]
    results: dict[bool, list[dict]] = {False: [], True: []}
    for trial in range(args.trials):
        for warm in (False, True):
            first, second = texts[2 * trial], texts[2 * trial + 1]
            out = subprocess.run([sys.executable, __file__, "--child", store, str(int(warm)), first, second],
                                 capture_output=True, text=True, check=True).stdout
            results[warm].append(json.loads(out.strip().splitlines()[-1]))
    rows = []
    for warm, runs in results.items():
        def median(key: str, runs=runs) -> str:
            return f"{np.median([r[key] for r in runs]):.0f}" if key in runs[0] else "-"

        rows.append(["warm_up before serving" if warm else "no warm-up", median("open"), median("warm_up"),
                     median("first"), median("second")])
    print(f"SciFact store, default mode (hybrid), median of {args.trials} fresh processes, ms")
    print(table(["process", "open engine", "warm_up", "first search", "second search"], rows))


if __name__ == "__main__":
    main()
