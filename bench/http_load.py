"""The server under load and beside a slow request, over HTTP on loopback (`jiansuo serve --workers 2`).

Store: the demo corpora in data/demo (12,582 documents, `scripts/demo_corpora.py`) or, without them, the
LibreOffice help zh + en and kexue from ../shared/data; plus one 170 kB post whose page takes about a second.
1. One worker (the hard case: both requests reach one process): fast searches (/api/search) p50 idle, and while
   another client keeps requesting the slow page; their ratio. Once with the work in the worker's threads
   (server.search_processes = 0, the arrangement before web/job_pool.py) and once in its pool of processes
   (the default, 2).
2. `--workers 2`, 50 keep-alive clients for --seconds (60): requests and connections per worker (from
   /api/stats' pid), errors, p50 / p99.

Run: python bench/http_load.py [--seconds 60] [--clients 50]
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from common import DATA, WORK, add_in_batches, percentiles, serve, table

from jiansuo.engine import Engine
from jiansuo.evaluate.datasets import read_queries
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.model import Document

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
SLOW = "slow-1s"


def build_store() -> Path:
    store = WORK / "http_load"
    engine = Engine(store)
    if engine.get(SLOW) is None:
        sources = sorted(DEMO.glob("*.jsonl")) or [DATA / "lo-help" / "zh" / "corpus.jsonl",
                                                   DATA / "lo-help" / "en" / "corpus.jsonl",
                                                   DATA / "kexue" / "kexue.jsonl"]
        for source in sources:
            add_in_batches(engine, (d for d in read_path(source) if not isinstance(d, IngestProblem)))
        body = "## 一节 #\n\n这是一段文字 $x^2$ 和 [链接](/a) **粗体**。\n\n" * 4_000
        engine.add([Document(id=SLOW, title="A very long post", body=body)])
    engine.refresh()
    count = engine.store.count()
    engine.close()
    print(f"store: {count:,} documents")
    return store


def fast_p50(base: str, queries: list[str], count: int = 200) -> float:
    latencies = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for i in range(count):
            started = time.perf_counter()
            client.get("/api/search", params={"q": queries[i % len(queries)]}).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    return percentiles(latencies)[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    store = build_store()
    queries = list(read_queries(DATA / "scifact").values())[:100] + \
        list(read_queries(DATA / "lo-help" / "zh").values())[:100]
    rows = []
    for processes in ("0", "2"):
        arrangement = "threads" if processes == "0" else f"a pool of {processes} processes"
        server, base = serve(store, environment={"JIANSUO_SERVER_SEARCH_PROCESSES": processes})
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                for _ in range(4):  # first readings warm caches (in each pool process)
                    client.get(f"/doc/{SLOW}").raise_for_status()
                readings = []
                for _ in range(3):
                    started = time.perf_counter()
                    client.get(f"/doc/{SLOW}").raise_for_status()
                    readings.append(time.perf_counter() - started)
                slow_seconds = sorted(readings)[1]
            fast_p50(base, queries, 20)  # warm-up
            idle = fast_p50(base, queries)
            stop = threading.Event()

            def slow_loop(base: str = base, stop: threading.Event = stop) -> None:
                with httpx.Client(base_url=base, timeout=60) as slow_client:
                    while not stop.is_set():
                        slow_client.get(f"/doc/{SLOW}")

            slow_thread = threading.Thread(target=slow_loop)
            slow_thread.start()
            time.sleep(0.5)
            busy = fast_p50(base, queries)
            stop.set()
            slow_thread.join()
            rows += [[f"one worker, {arrangement}: slow page alone (median of 3 after 4 warm-ups), s",
                      f"{slow_seconds:.2f}"],
                     [f"one worker, {arrangement}: fast search p50, idle, ms", f"{idle:.1f}"],
                     [f"one worker, {arrangement}: fast search p50 while the slow page is requested, ms",
                      f"{busy:.1f} ({busy / idle:.2f}x idle)"]]
            print(rows[-3:], flush=True)
        finally:
            server.terminate()
            server.wait()
    server, base = serve(store, "--workers", "2")
    try:

        latencies: list[float] = []
        per_worker: Counter[int] = Counter()
        connections: Counter[int] = Counter()
        errors = Counter()
        lock = threading.Lock()
        deadline = time.perf_counter() + args.seconds

        def client_loop(index: int) -> None:
            mine: list[float] = []
            with httpx.Client(base_url=base, timeout=30) as client:
                worker = client.get("/api/stats").json()["worker"]
                with lock:
                    connections[worker] += 1
                i = index
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    try:
                        status = client.get("/api/search", params={"q": queries[i % len(queries)]}).status_code
                    except httpx.HTTPError as error:
                        with lock:
                            errors[type(error).__name__] += 1
                        continue
                    mine.append((time.perf_counter() - started) * 1000)
                    if status != 200:
                        with lock:
                            errors[f"HTTP {status}"] += 1
                    i += 7
            with lock:
                latencies.extend(mine)
                per_worker[worker] += len(mine)

        threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        p50 = percentiles(latencies)[0]
        p99 = sorted(latencies)[int(0.99 * (len(latencies) - 1))]
        rows += [[f"{args.clients} keep-alive clients x {args.seconds:g} s: requests", len(latencies)],
                 ["requests / s", f"{len(latencies) / args.seconds:.0f}"],
                 ["connections per worker", " / ".join(str(n) for n in connections.values())],
                 ["requests per worker", " / ".join(str(n) for n in per_worker.values())],
                 ["errors", sum(errors.values()) if errors else 0], ["p50 / p99 ms", f"{p50:.0f} / {p99:.0f}"]]
    finally:
        server.terminate()
        server.wait()
    print(table(["measure", "value"], rows))


if __name__ == "__main__":
    main()
