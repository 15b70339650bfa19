"""Which passages should score a document in dense retrieval? A first look at the passage-policy puzzle.

From the same e5 index (title-prefixed passages of <= 200 estimated tokens, 20% overlap, <= 16 per document),
dense nDCG@10 when a document scores as
  MaxP          its best passage (the shipped rule)
  first         its first passage only (title + opening: close to "the first 500 characters")
  mean          the mean of its passage vectors
  MaxP + first  the sum of the two
No re-encoding: the passage vectors come from the index; only the queries are encoded.

Run: python bench/passage_policy.py [--datasets cisi,...] [--encoder e5-onnx --centering on]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from common import DATA, table
from dense_beir import engine_for

from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run

warnings.filterwarnings("ignore")
POLICIES = ("MaxP", "first", "mean", "MaxP + first")


def document_scores(similarity: np.ndarray, passage_doc: np.ndarray, first: np.ndarray, documents: int,
                    mean_vectors_score: np.ndarray) -> dict[str, np.ndarray]:
    alive = passage_doc >= 0
    best = np.full(documents, -np.inf)
    np.maximum.at(best, passage_doc[alive], similarity[alive])
    opening = np.full(documents, -np.inf)
    opening[passage_doc[first]] = similarity[first]
    return {"MaxP": best, "first": opening, "mean": mean_vectors_score, "MaxP + first": best + opening}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="cisi,medline,lo-help/zh,lo-help/en,lo-help/zh2en,lo-help/en2zh")
    parser.add_argument("--encoder", default="e5")
    parser.add_argument("--centering", choices=("on", "off"), default="off",
                        help="language centering of the index and the queries (encoders/centering.py)")
    args = parser.parse_args()
    print(f"encoder {args.encoder}, language centering {args.centering}\n")
    rows = []
    for dataset in args.datasets.split(","):
        engine = engine_for(dataset, args.encoder, centering=args.centering == "on")
        dense = engine.dense
        vectors = np.asarray(dense.vectors, dtype=np.float32)
        passage_doc = dense.passage_doc
        first = (passage_doc >= 0) & (dense.passage_span[:, 0] == 0)
        ids = [d["id"] if d else None for d in dense.docs]
        sums = np.zeros((len(ids), vectors.shape[1]), dtype=np.float32)
        np.add.at(sums, passage_doc[passage_doc >= 0], vectors[passage_doc >= 0])
        means = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        folder = DATA / dataset
        for split in ("test", "nooverlap"):
            if not (folder / "qrels" / f"{split}.tsv").exists():
                continue
            qrels = read_qrels(folder, split)
            queries = {q: t for q, t in read_queries(folder).items() if q in qrels}
            runs: dict[str, dict] = {policy: {} for policy in POLICIES}
            for query_id, text in queries.items():
                query = engine.query_vector(text)
                scores = document_scores(vectors @ query, passage_doc, first, len(ids), means @ query)
                for policy, values in scores.items():
                    top = np.argsort(-values)[:100]
                    runs[policy][query_id] = {ids[i]: float(values[i]) for i in top
                                              if ids[i] is not None and np.isfinite(values[i])}
            rows.append([f"{dataset} ({split})", len(queries),
                         *(score_run(qrels, runs[p], ("ndcg@10",))["ndcg@10"] for p in POLICIES)])
            print(rows[-1], flush=True)
    print(table(["set", "queries", *(f"dense {p}" for p in POLICIES)], rows))


if __name__ == "__main__":
    main()
