"""Compute the reference means of language centering (jiansuo/encoders/centering.py) for the e5 family.

Query side: titles encoded as queries (titles read like queries). Passage side: title + abstract cut by the
product's own passage rule and encoded as passages. Latin: the arXiv metadata sample (kaggle_snapshot_first2000);
CJK: CSL (dev split of csl.jsonl, titles and abstracts). Neither is an evaluation set of this project's
relevance benches. Writes src/jiansuo/encoders/centering_means/e5.npz.

Run: python bench/centering_reference.py [--documents 1000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from common import DATA, Timer, need

from jiansuo.analysis.passages import split_passages
from jiansuo.encoders import load_encoder
from jiansuo.encoders.centering import Centering, script_of
from jiansuo.model import Document

OUT = Path(__file__).resolve().parents[1] / "src" / "jiansuo" / "encoders" / "centering_means" / "e5.npz"


def arxiv(limit: int) -> list[Document]:
    rows = [json.loads(line) for line in need(DATA / "arxiv" / "kaggle_snapshot_first2000.jsonl").open()]
    return [Document(id=r["id"], title=" ".join(r["title"].split()), body=" ".join(r["abstract"].split()))
            for r in rows[:limit]]


def csl(limit: int) -> list[Document]:
    rows = [json.loads(line) for line in need(DATA / "csl" / "csl.jsonl").open()]
    return [Document(id=r["id"], title=r["title"], body=r["abstract"]) for r in rows if r["split"] == "dev"][:limit]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=1000, help="per script")
    parser.add_argument("--encoder", default="e5-onnx")
    args = parser.parse_args()
    encoder = load_encoder(args.encoder)
    query_means, passage_means = {}, {}
    for script, documents in (("latin", arxiv(args.documents)), ("cjk", csl(args.documents))):
        with Timer() as timer:
            titles = [d.title for d in documents]
            passages = [p.text for d in documents for p in split_passages(d)]
            query_means[script] = encoder.encode_queries(titles).mean(axis=0)
            passage_means[script] = encoder.encode_passages(passages).mean(axis=0)
        wrong = sum(script_of(t) != script for t in titles)
        print(f"{script}: {len(titles)} titles, {len(passages)} passages, {timer.seconds:.0f} s; "
              f"titles whose detected script differs: {wrong}")
    def cos(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    print(f"cosine of the means: queries cjk/latin {cos(query_means['cjk'], query_means['latin']):.4f}, "
          f"passages cjk/latin {cos(passage_means['cjk'], passage_means['latin']):.4f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    Centering(query_means, passage_means, "e5").save(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
