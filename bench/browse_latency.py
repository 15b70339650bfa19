"""Latency of the browse pages beside the result page, over HTTP, on the seeded 100k-document expansion.

One `jiansuo serve` worker on loopback, one client, after a warm-up pass: p50 / p95 ms of
  result page      /?q=<query>            (300 mixed queries: SciFact claims, LibreOffice zh, CSL keywords)
  home             /                      (newest first, facet counts over the whole corpus)
  category         /?category=<name>      (the 30 largest categories)
  day              /day/<date>            (30 dates with documents)
  preference       /?q=<query>&sort=preference, after starring 10 documents
Run: python bench/browse_latency.py [--size 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import httpx
from common import DATA, WORK, add_in_batches, percentiles, serve, table
from expand_corpus import expanded

from jiansuo.engine import Engine
from jiansuo.evaluate.datasets import read_queries
from jiansuo.model import SearchRequest


def store_of(size: int) -> Path:
    store = WORK / f"browse-{size}"
    engine = Engine(store)
    if engine.store.count() < size:
        add_in_batches(engine, expanded(DATA, size))
    engine.refresh()
    engine.close()
    return store


def timed(client: httpx.Client, urls: list[str]) -> tuple[float, float]:
    latencies = []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return percentiles(latencies)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    args = parser.parse_args()
    store = store_of(args.size)
    engine = Engine(store)
    categories = [name for name, _ in engine.facets(SearchRequest(), size=30)["category"]]
    days = sorted({h.document.date for h in engine.search("", sort="date", limit=100).hits if h.document.date})
    engine.close()
    csl = [json.loads(line) for line in open(DATA / "csl" / "csl.jsonl", encoding="utf-8")]
    queries = (list(read_queries(DATA / "scifact").values())[:100]
               + list(read_queries(DATA / "lo-help/zh").values())[:100]
               + [" ".join(record["keywords"]) for record in random.Random(7).sample(csl, 100)])
    server, base = serve(store)
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            client.get("/")  # the reader cookie
            pages = {
                "result page": [f"/?q={q}" for q in queries],
                "home": ["/"] * 30,
                "category": [f"/?category={c}" for c in categories],
                "day": [f"/day/{d.isoformat()}" for d in days[:30]],
            }
            for urls in pages.values():
                timed(client, urls[:5])
            rows = [[name, len(urls), *timed(client, urls)] for name, urls in pages.items()]
            page = client.get("/", params={"q": queries[0]}).text
            csrf = page.split('name="csrf" value="')[1].split('"')[0]
            for doc_id in [part.split('"')[0] for part in page.split('name="id" value="')[1:]][:10]:
                client.post("/star", data={"id": doc_id, "csrf": csrf, "state": "on", "back": "/"})
            rows.append(["preference (10 stars)", len(queries[:100]),
                         *timed(client, [f"/?q={q}&sort=preference" for q in queries[:100]])])
    finally:
        server.terminate()
        server.wait()
    print(f"{args.size:,} documents, one worker, one client (ms)\n")
    print(table(["page", "requests", "p50", "p95"], rows))


if __name__ == "__main__":
    main()
