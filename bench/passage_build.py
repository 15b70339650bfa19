"""Passage policy for building the dense index: what each policy costs to encode and what it retrieves.

Policies (analysis/passages.py's split_passages with these settings; every passage is title-prefixed):
  200 / 20% overlap   passages of <= 200 estimated tokens, each repeating ~20% of the previous one, <= 16
  240 / no overlap    passages of <= 240 estimated tokens (the encoder reads 256), no repetition, <= 16
  first 240           one passage: the title and the opening <= 240 estimated tokens
Encoder: the default (e5-onnx), passages cached by text in runs/cache/embeddings.sqlite.
For each policy: encoding seconds and documents/s on the 200 SciFact documents of bench/encode_throughput.py
(passages not cached), the passages and encoder tokens per document over each corpus, and dense nDCG@10 with
the document scored by its best passage (MaxP), its first passage, and MaxP + first.
SciFact train is the dev set the policy is chosen on; the other rows are test sets.

Run: python bench/passage_build.py [--datasets scifact,cisi,...] [--encoder e5-onnx]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from common import DATA, WORK, table

from jiansuo.analysis.passages import split_passages
from jiansuo.encoders import DEFAULT_ENCODER, load_encoder
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.store.embedding_cache import EmbeddingCache

warnings.filterwarnings("ignore")
POLICIES = {"200 / 20% overlap": {"budget": 200, "overlap": 0.2, "limit": 16},
            "240 / no overlap": {"budget": 240, "overlap": 0.0, "limit": 16},
            "first 240": {"budget": 240, "overlap": 0.0, "limit": 1}}
SETS = ("scifact", "cisi", "medline", "lo-help/zh", "lo-help/en", "lo-help/zh2en", "lo-help/en2zh")
SCORING = ("MaxP", "first", "MaxP + first")


def corpus_of(dataset: str) -> str:
    """Cross-lingual sets search the other language's corpus."""
    return {"lo-help/zh2en": "lo-help/en", "lo-help/en2zh": "lo-help/zh"}.get(dataset, dataset)


def speed(encoder, policy: dict) -> tuple[float, int]:
    docs = [d for d in read_path(DATA / "scifact" / "corpus.jsonl", "beir") if not isinstance(d, IngestProblem)]
    texts = [p.text for d in docs[1000:1200] for p in split_passages(d, **policy)]
    encoder.encode_passages(texts[:8])
    started = time.perf_counter()
    encoder.encode_passages(texts)
    return 200 / (time.perf_counter() - started), len(texts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default=",".join(SETS))
    parser.add_argument("--encoder", default=DEFAULT_ENCODER)
    args = parser.parse_args()
    encoder = load_encoder(args.encoder)
    cache = EmbeddingCache(WORK / "cache" / "embeddings.sqlite")
    speed_rows = []
    for name, policy in POLICIES.items():
        rate, passages = speed(encoder, policy)
        speed_rows.append([name, passages, f"{rate:.1f}"])
        print(speed_rows[-1], flush=True)
    rows = []
    for dataset in args.datasets.split(","):
        folder = DATA / dataset
        docs = [d for d in read_path(DATA / corpus_of(dataset) / "corpus.jsonl", "beir")
                if not isinstance(d, IngestProblem)]
        ids = [d.id for d in docs]
        splits = [s for s in ("train", "test", "nooverlap") if (folder / "qrels" / f"{s}.tsv").exists()]
        queries_all = read_queries(folder)
        for name, policy in POLICIES.items():
            passage_doc, texts = [], []
            for ordinal, document in enumerate(docs):
                for passage in split_passages(document, **policy):
                    passage_doc.append(ordinal)
                    texts.append(passage.text)
            owner = np.array(passage_doc)
            first = np.r_[True, owner[1:] != owner[:-1]]
            vectors = cache.encode(encoder.name, texts, encoder.encode_passages, encoder.dim)
            tokens = sum(len(e.ids) for e in encoder.tokenizer.encode_batch(texts))
            for split in splits:
                qrels = read_qrels(folder, split)
                queries = {q: t for q, t in queries_all.items() if q in qrels}
                query_vectors = encoder.encode_queries(list(queries.values()))
                runs: dict[str, dict] = {s: {} for s in SCORING}
                for query_id, query in zip(queries, query_vectors, strict=True):
                    similarity = vectors @ query
                    best = np.full(len(docs), -np.inf)
                    np.maximum.at(best, owner, similarity)
                    opening = np.full(len(docs), -np.inf)
                    opening[owner[first]] = similarity[first]
                    for scoring, values in (("MaxP", best), ("first", opening), ("MaxP + first", best + opening)):
                        top = np.argsort(-values)[:100]
                        runs[scoring][query_id] = {ids[i]: float(values[i]) for i in top if np.isfinite(values[i])}
                rows.append([f"{dataset} ({split})", name, f"{len(texts) / len(docs):.2f}",
                             f"{tokens / len(docs):.0f}",
                             *(score_run(qrels, runs[s], ("ndcg@10",))["ndcg@10"] for s in SCORING)])
                print(rows[-1], flush=True)
    print(f"encoder {encoder.name}; 200 SciFact documents, passages not cached, 2 cores")
    print(table(["policy", "passages", "documents/s"], speed_rows))
    print()
    print(table(["set", "policy", "passages / doc", "tokens / doc", *(f"dense {s}" for s in SCORING)], rows))


if __name__ == "__main__":
    main()
