"""Building BM25 + dense for every real corpus in ../shared/data (~31,000 documents, bench/expand_corpus.py's
real_documents), timed, and extrapolated to a 170,000-paper site (title + abstract).

BM25: the whole corpus, timed end to end (store + keyword index). Dense (the default encoder, an empty embedding
cache): a systematic sample (every Nth document, default 1,500 documents) timed end to end through the engine;
documents/s of the sample times the corpus size gives the whole-corpus estimate. The 170k line uses the rate on
the sample's title + abstract documents (arXiv, SciFact, CISI, MEDLINE, CSL: no long bodies).

Run: python bench/corpus_build.py [--sample 1500]
"""

from __future__ import annotations

import argparse
import shutil
import time
import warnings

from common import DATA, WORK, table
from expand_corpus import real_documents

from jiansuo.encoders import DEFAULT_ENCODER
from jiansuo.engine import Engine

warnings.filterwarnings("ignore")
SITE = 170_000


def timed_build(folder, documents, encoder: str | None) -> float:
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    engine = Engine(folder, encoder=encoder)
    engine.add(documents)
    engine.refresh()
    engine.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=1500)
    args = parser.parse_args()
    documents = real_documents(DATA)
    work = WORK / "corpus_build"
    bm25 = timed_build(work / "bm25", documents, None)
    step = max(1, len(documents) // args.sample)
    sample = documents[::step][: args.sample]
    short = [d for d in sample if not d.body]
    dense = timed_build(work / "dense", sample, DEFAULT_ENCODER)
    short_dense = timed_build(work / "dense-short", short, DEFAULT_ENCODER)
    rows = [
        ["BM25, whole corpus (measured)", len(documents), f"{bm25:.0f}", f"{len(documents) / bm25:.0f}", ""],
        [f"BM25 + dense ({DEFAULT_ENCODER}), sample of every {step}th (measured)", len(sample), f"{dense:.0f}",
         f"{len(sample) / dense:.1f}", f"{len(documents) / (len(sample) / dense) / 60:.0f} min for all "
                                       f"{len(documents):,}"],
        ["BM25 + dense, the sample's title + abstract documents (measured)", len(short), f"{short_dense:.0f}",
         f"{len(short) / short_dense:.1f}", f"{SITE / (len(short) / short_dense) / 60:.0f} min for {SITE:,}"],
    ]
    for row in rows:
        print(row, flush=True)
    print(f"{len(documents):,} real documents in ../shared/data; 2 cores; empty embedding cache")
    print(table(["build", "documents", "seconds", "documents/s", "extrapolated"], rows))


if __name__ == "__main__":
    main()
