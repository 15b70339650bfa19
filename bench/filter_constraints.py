"""The cost of a filtered mode=ce-knn search's constraint pass (KeywordBackend.satisfying): matching the query's
required/excluded clauses and filters against an explicit set of every document id (before) or against the whole
index (now, doc_ids=None), on the BM25 stores built by dense_beir.py. Both settings run on the same queries,
alternating, and must keep the same documents.

Run: python bench/filter_constraints.py [--repeats 20]  (English queries: SciFact)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import table
from dense_beir import engine_for

from jiansuo.model import SearchRequest
from jiansuo.retrieve.query import parse_query

# required phrases and exclusions: what a user types to narrow a search
QUERIES = ['vitamin "gene expression"', "vitamin -cancer", '"cell" -mouse -mice', "insulin -diabetes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    engine = engine_for(args.dataset, "e5")
    backend = engine.keyword
    every_id = [d.id for d in engine.store.documents()]
    rows = []
    for text in QUERIES:
        parsed, request = parse_query(text), SearchRequest(query=text)
        times: dict[str, list[float]] = {"id set": [], "whole index": []}
        kept = {}
        for _ in range(args.repeats):
            for name, ids in (("id set", every_id), ("whole index", None)):
                started = time.perf_counter()
                kept[name] = backend.satisfying(parsed, request, ids)
                times[name].append((time.perf_counter() - started) * 1000)
        if kept["id set"] != kept["whole index"]:
            raise SystemExit(f"{text!r}: the two settings keep different documents")
        before, now = np.median(times["id set"]), np.median(times["whole index"])
        rows.append([text, len(kept["id set"]), f"{before:.2f}", f"{now:.2f}", f"{before / now:.1f}"])
    print(f"{args.dataset}: {len(every_id)} documents; median of {args.repeats} runs each, ms")
    print(table(["query", "documents kept", "id set (before)", "whole index (now)", "ratio"], rows))


if __name__ == "__main__":
    main()
