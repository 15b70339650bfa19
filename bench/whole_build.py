"""Whole-corpus build, end to end through the CLI a site owner runs: every real corpus in ../shared/data
(26,361 documents) into a fresh store (cold embedding cache), keyword index then dense index, each timed;
then the keyword index of the seeded 100k expansion (bench/expand_corpus.py), timed; then an extrapolation to a
170k title+abstract site from the measured rates.

Steps, each `jiansuo index FILE --store S --progress none` in a subprocess, wall-clock timed:
1. ingest + keyword index of the real documents;
2. the same command with --dense: only the dense index is left to build (every passage encoded, cold cache);
3. ingest + keyword index of the 100k expansion into a second fresh store.
The dense rate for title+abstract documents comes from the same run: the arXiv and CSL documents' passages
(their store rows are title + abstract) against the run's seconds per passage.

Run: python bench/whole_build.py [--size 100000]   (about an hour on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import DATA, WORK, need, table
from expand_corpus import expanded, real_documents

TARGET = 170_000
GOAL_MINUTES = 30
ARXIV_ID = re.compile(r"^\d{4}\.\d{4,5}")  # the Kaggle snapshot's ids carry no prefix


def write_jsonl(documents, path: Path) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for document in documents:
            handle.write(json.dumps(document.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count


def timed_index(source: Path, store: Path, *options: str) -> float:
    command = [str(Path(sys.executable).with_name("jiansuo")), "index", str(source), "--store", str(store),
               "--progress", "none", *options]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def source_of(doc_id: str) -> str:
    if doc_id.startswith("arxiv:") or ARXIV_ID.match(doc_id):
        return "arxiv"
    if doc_id.startswith("csl"):
        return "csl"
    return doc_id.split(":", 1)[0] if ":" in doc_id else "kexue"


def passages_by_source(store: Path) -> dict[str, tuple[int, int]]:
    """(documents, passages) per source of the document id, from the built dense index's own files."""
    folder = next(p.parent for p in store.rglob("passage_doc.npy"))
    docs = json.loads((folder / "docs.json").read_text(encoding="utf-8"))
    per_doc = np.bincount(np.load(folder / "passage_doc.npy").clip(0), minlength=len(docs))
    counts: dict[str, list[int]] = {}
    for ordinal, doc in enumerate(docs):
        if doc:
            doc_id = doc["id"]
            source = source_of(doc_id)
            entry = counts.setdefault(source, [0, 0])
            entry[0] += 1
            entry[1] += int(per_doc[ordinal])
    return {source: (docs_, passages) for source, (docs_, passages) in sorted(counts.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000, help="documents in the expansion")
    args = parser.parse_args()
    need(DATA / "scifact")
    folder = WORK / "whole_build"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    real_count = write_jsonl(real_documents(DATA), folder / "real.jsonl")
    expansion_count = write_jsonl(expanded(DATA, args.size), folder / "expanded.jsonl")

    keyword_real = timed_index(folder / "real.jsonl", folder / "real-store")
    dense_real = timed_index(folder / "real.jsonl", folder / "real-store", "--dense")
    keyword_expanded = timed_index(folder / "expanded.jsonl", folder / "expanded-store")

    sources = passages_by_source(folder / "real-store")
    passages = sum(p for _, p in sources.values())
    per_passage = dense_real / passages
    abstract_docs = sum(sources[s][0] for s in ("arxiv", "csl") if s in sources)
    abstract_passages = sum(sources[s][1] for s in ("arxiv", "csl") if s in sources)
    per_abstract = abstract_passages / abstract_docs * per_passage
    keyword_per_doc = keyword_expanded / expansion_count
    target_dense = TARGET * per_abstract
    target_keyword = TARGET * keyword_per_doc

    print(f"python bench/whole_build.py --size {args.size}   (2 cores; fresh stores, cold embedding cache; "
          f"`jiansuo index` as a subprocess)\n")
    print(table(["step", "documents", "seconds", "documents/s"], [
        ["real corpora: ingest + keyword index", real_count, round(keyword_real, 1),
         round(real_count / keyword_real, 1)],
        ["real corpora: dense index (e5-onnx)", real_count, round(dense_real, 1), round(real_count / dense_real, 2)],
        ["real corpora: end to end", real_count, round(keyword_real + dense_real, 1),
         round(real_count / (keyword_real + dense_real), 2)],
        ["expansion: ingest + keyword index", expansion_count, round(keyword_expanded, 1),
         round(expansion_count / keyword_expanded, 1)],
    ]))
    print("\npassages of the dense build by source")
    print(table(["source", "documents", "passages", "passages / document"],
                [[s, d, p, round(p / d, 2)] for s, (d, p) in sources.items()]))
    print(f"\n{passages} passages in {dense_real:.0f} s: {per_passage * 1000:.1f} ms a passage; title+abstract "
          f"documents (arXiv, CSL: {abstract_docs}) average {abstract_passages / abstract_docs:.2f} passages, "
          f"{per_abstract * 1000:.0f} ms a document")
    print(f"extrapolated to {TARGET:,} title+abstract documents: keyword {target_keyword / 60:.1f} min + dense "
          f"{target_dense / 60:.0f} min = {(target_keyword + target_dense) / 60:.0f} min (goal {GOAL_MINUTES} min); "
          f"dense is {target_dense / (target_keyword + target_dense):.0%} of it")


if __name__ == "__main__":
    main()
