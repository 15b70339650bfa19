"""Query latency of the embedded engine on SciFact and on the seeded 100k-document expansion.

Queries (900, mixed languages): the 300 SciFact test claims, the first 300 LibreOffice-help zh queries
and the first 300 CSL keyword queries. For each corpus and each query shape, p50/p95/mean in ms of
`Engine.search` with 10 hits: 'search' = ranking only, 'page' = ranking + documents + highlighted
excerpts (what the result page needs). Filters: a date range with sort=date, and a category difference.
One process, one thread, after one warm-up pass. Indexing time of the expanded corpus is printed too.

Run: python bench/latency.py [--size 100000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
import warnings
from datetime import date

import numpy as np
from common import DATA, WORK, Timer, need, table
from expand_corpus import expanded

from jiansuo.engine import Engine
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.model import SearchRequest

warnings.filterwarnings("ignore")


def queries() -> list[str]:
    scifact = need(DATA / "scifact")
    test = read_qrels(scifact, "test")
    texts = [t for q, t in read_queries(scifact).items() if q in test]
    texts += list(read_queries(DATA / "lo-help" / "zh").values())[:300]
    with open(DATA / "csl" / "csl.jsonl", encoding="utf-8") as handle:
        texts += [" ".join(json.loads(line)["keywords"]) for line in list(handle)[:300]]
    return texts


SHAPES = {
    "plain": {},
    "date range, sort=date": {"date_from": date(2010, 1, 1), "date_to": date(2020, 12, 31), "sort": "date"},
    "category difference": {"categories": "工学+理学+cs.LG+scifact-hep-ph"},
}


def measure(engine: Engine, texts: list[str], hydrate: bool, shape: dict) -> list[float]:
    latencies = []
    for text in texts:
        request = SearchRequest(query=text, limit=10, syntax=False, **shape)
        started = time.perf_counter()
        engine.search(request, hydrate=hydrate)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def build(name: str, documents) -> tuple[Engine, float]:
    store = WORK / "latency" / name
    shutil.rmtree(store, ignore_errors=True)
    engine = Engine(store)
    with Timer() as timer:
        batch = []
        for document in documents:
            batch.append(document)
            if len(batch) == 5000:
                engine.add(batch)
                batch = []
        engine.add(batch)
        engine.refresh()
    return engine, timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    args = parser.parse_args()
    texts = queries()
    corpora = {
        "scifact": [d for d in read_path(DATA / "scifact" / "corpus.jsonl", "beir")
                    if not isinstance(d, IngestProblem)],
        f"expanded-{args.size // 1000}k": expanded(DATA, args.size),
    }
    rows, builds = [], []
    for name, documents in corpora.items():
        engine, seconds = build(name, documents)
        count = engine.store.count()
        builds.append([name, count, f"{seconds:.1f}", f"{count / seconds:.0f}"])
        engine.known_categories()  # warm the category cache, as a running server would have
        for shape_name, shape in SHAPES.items():
            measure(engine, texts[:100], True, shape)  # warm-up
            for hydrate in (False, True):
                lat = measure(engine, texts, hydrate, shape)
                rows.append([name, shape_name, "page" if hydrate else "search",
                             f"{np.percentile(lat, 50):.2f}", f"{np.percentile(lat, 95):.2f}", f"{np.mean(lat):.2f}"])
        engine.close()
    print(table(["corpus", "documents", "store + index s", "docs/s"], builds))
    print()
    print(f"{len(texts)} queries (300 SciFact en, 300 LibreOffice zh, 300 CSL zh), 10 hits each")
    print(table(["corpus", "filters", "what", "p50 ms", "p95 ms", "mean ms"], rows))


if __name__ == "__main__":
    main()
