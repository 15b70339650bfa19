"""Result-page latency over HTTP: `jiansuo serve` in its own process(es), concurrent clients on loopback.

For each corpus (SciFact; the seeded 100k expansion from expand_corpus.py) the 900 mixed queries of
latency.py are sent as GET /?q=… (the full server-rendered page: search, excerpts, math, template) and as
GET /api/search?q=…, by C concurrent clients (threads with keep-alive connections), each request timed
from send to last byte. Reports p50/p95 per request and requests/second overall.

Run: python bench/http_latency.py [--clients 4] [--workers 2] [--size 100000]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from common import DATA, WORK, table
from expand_corpus import expanded
from latency import build, queries

from jiansuo.ingest import IngestProblem, read_path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(store: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "jiansuo.cli", "serve", "--store", str(store), "--port",
                                str(port), "--workers", str(workers)], env={**os.environ})
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(url + "/api/stats", timeout=5)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def hammer(url: str, path: str, texts: list[str], clients: int) -> tuple[list[float], float, int]:
    chunks = [texts[i::clients] for i in range(clients)]

    def client(chunk: list[str]) -> tuple[list[float], int]:
        latencies, errors = [], 0
        with httpx.Client(base_url=url, timeout=30) as http:
            for text in chunk:
                started = time.perf_counter()
                response = http.get(path, params={"q": text})
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code >= 400
        return latencies, errors

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, chunks))
    elapsed = time.perf_counter() - started
    return [x for lat, _ in results for x in lat], elapsed, sum(e for _, e in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", type=int, default=100_000)
    args = parser.parse_args()
    texts = queries()
    corpora = {
        "scifact": lambda: [d for d in read_path(DATA / "scifact" / "corpus.jsonl", "beir")
                            if not isinstance(d, IngestProblem)],
        f"expanded-{args.size // 1000}k": lambda: expanded(DATA, args.size),
    }
    rows = []
    for name, documents in corpora.items():
        store = WORK / "latency" / name
        if not (store / "indexes" / "bm25" / "CURRENT").exists():
            build(name, documents())[0].close()
        process, url = serve(store, args.workers)
        try:
            for path in ("/", "/api/search"):
                hammer(url, path, texts[:60], args.clients)  # warm-up
                latencies, elapsed, errors = hammer(url, path, texts, args.clients)
                rows.append([name, "page" if path == "/" else "api", args.clients, args.workers,
                             f"{np.percentile(latencies, 50):.1f}", f"{np.percentile(latencies, 95):.1f}",
                             f"{len(latencies) / elapsed:.0f}", errors])
        finally:
            process.terminate()
            process.wait()
    print(f"{len(texts)} queries per row over HTTP on loopback")
    print(table(["corpus", "endpoint", "clients", "workers", "p50 ms", "p95 ms", "req/s", "errors"], rows))


if __name__ == "__main__":
    main()
