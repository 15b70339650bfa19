"""SciFact: hybrid retrieval, then a CoSENT-trained cross-encoder reranking the top k.

Training data never touches test judgments:
- "qrels": SciFact qrels/train.tsv positives + hard negatives mined by our own hybrid retrieval (the top
  4 unjudged documents and 1 random one from the top 30); 100 train queries are held out as the dev set
  that picks the checkpoint (nDCG@10 of reranking their hybrid top 20).
- "self-supervised": the corpus alone: title <-> its abstract (1) and title <-> the abstract of the
  document BM25 ranks first among the others (0).
Model: MiniLM (bundled, English) read jointly as a cross-encoder. Head "segment-cosine" (default): cosine of
the two texts' mean joint states, CoSENT lambda = 20; head "logit": a fresh one-logit head, CoSENT lambda = 1.
After training, the weight of the cross-encoder score against the hybrid score (min-max over the reranked
head) is picked on the dev queries (grid 0, 0.1, ..., 1) and saved with the model; test uses that weight.
Reports nDCG@10 / recall@10 on qrels/test.tsv and rerank latency for k = 20, 50, 100.
Run: python bench/rerank_scifact.py [--k 50] [--variants qrels,self-supervised,bce] [--head logit] [--steps N]
     [--max-tokens 128] (a model trained on shorter pairs goes to a folder of its own, ...-128) [--epochs 3]
     [--layers 4] (MiniLM cut to that many of its 6 layers, evenly spaced, first and last kept: ...-L4)
"""

from __future__ import annotations

import argparse
import random
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import DATA, WORK, table
from dense_beir import engine_for

from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.model import SearchRequest
from jiansuo.rerank.cross_encoder import CrossEncoder, blended, rerank
from jiansuo.train.cross_encoder import train_cross_encoder
from jiansuo.train.loop import TrainConfig
from jiansuo.train.pairs import document_text, qrels_pairs, self_supervised_pairs

warnings.filterwarnings("ignore")


def hybrid_run(engine, queries: dict[str, str], depth: int) -> dict[str, list]:
    return {q: engine.search(SearchRequest(query=t, limit=depth, syntax=False, mode="hybrid"), hydrate=False).hits
            for q, t in queries.items()}


def reranked(engine, scorer, queries: dict[str, str], candidates: dict[str, list], k: int,
             weight: float = 1.0) -> dict:
    run = {}
    for query_id, hits in candidates.items():
        head = hits[:k]
        documents = engine.store.get_many([h.doc_id for h in head])
        texts = {doc_id: document_text(d) for doc_id, d in documents.items()}
        scores = blended(scorer(queries[query_id], [texts[h.doc_id] for h in head]),
                         np.array([h.score for h in head]), weight)
        order = np.argsort(-scores)
        run[query_id] = {head[i].doc_id: float(len(head) - rank) + 1000 for rank, i in enumerate(order)}
        for rank, hit in enumerate(hits[k:]):
            run[query_id][hit.doc_id] = float(len(hits) - rank)
    return run


def cut_minilm(layers: int) -> Path:
    """The bundled MiniLM with `layers` of its 6 transformer layers (jiansuo train --layers does the same)."""
    from jiansuo.train.bi_encoder import cut_layers

    out = WORK / "rerank" / f"minilm-L{layers}"
    return out if (out / "config.json").exists() else Path(cut_layers("minilm", layers, out))


def rerank_times(engine, model, queries: list[tuple[str, str]], candidates: dict[str, list], k: int) -> list[float]:
    """Milliseconds to rerank each query's top k through the pipeline's own rerank stage."""
    times = []
    for query_id, text in queries:
        documents = engine.store.get_many([h.doc_id for h in candidates[query_id][:k]])
        texts = {d: document_text(doc) for d, doc in documents.items()}
        hits = [replace(h, scores=dict(h.scores)) for h in candidates[query_id]]  # rerank rewrites hit scores
        started = time.perf_counter()
        rerank(model, text, hits, texts, k)
        times.append((time.perf_counter() - started) * 1000)
    return times


class CachedScorer:
    """Scores each (query, text) once, so the blend-weight grid costs no extra model calls."""

    def __init__(self, model):
        self.model, self.cache = model, {}

    def __call__(self, query: str, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if (query, t) not in self.cache]
        if missing:
            self.cache.update(zip(((query, t) for t in missing), self.model.score(query, missing), strict=True))
        return np.array([self.cache[(query, t)] for t in texts])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--variants", default="qrels,self-supervised")
    parser.add_argument("--head", default="segment-cosine", choices=["segment-cosine", "logit"])
    parser.add_argument("--steps", type=int, default=None, help="stop the qrels variant after this many steps")
    parser.add_argument("--ss-steps", type=int, default=None, help="stop the self-supervised one after this many")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--layers", type=int, default=6)
    args = parser.parse_args()
    suffix = "" if args.max_tokens == 256 else f"-{args.max_tokens}"  # the model folder of a shorter reading
    base_model = "minilm"
    if args.layers != 6:
        suffix += f"-L{args.layers}"
        base_model = str(cut_minilm(args.layers))
    engine = engine_for("scifact", "e5-onnx")
    all_queries = read_queries(DATA / "scifact")
    train_qrels = read_qrels(DATA / "scifact", "train")
    dev_ids = set(random.Random(0).sample(sorted(train_qrels), 100))
    dev_qrels = {q: r for q, r in train_qrels.items() if q in dev_ids}
    fit_qrels = {q: r for q, r in train_qrels.items() if q not in dev_ids}
    test_qrels = read_qrels(DATA / "scifact", "test")
    test_queries = {q: t for q, t in all_queries.items() if q in test_qrels}
    dev_queries = {q: t for q, t in all_queries.items() if q in dev_qrels}
    dev_candidates = hybrid_run(engine, dev_queries, 20)
    test_candidates = hybrid_run(engine, test_queries, 100)
    base_run = {q: {h.doc_id: h.score for h in hits} for q, hits in test_candidates.items()}
    base = score_run(test_qrels, base_run, ("ndcg@10", "recall@10"))
    rows = [["hybrid (e5-onnx + BM25, the default)", "-", "-", f"{base['ndcg@10']:.4f}",
             f"{base['recall@10']:.4f}", "-"]]
    for variant in args.variants.split(","):
        if variant == "self-supervised":
            pairs = self_supervised_pairs(engine, limit=2500)
        else:
            pairs = qrels_pairs(engine, all_queries, fit_qrels, negatives=4, mode="hybrid")
        loss = "bce" if variant == "bce" else "cosent"

        def evaluate(model) -> float:
            run = reranked(engine, model.score, dev_queries, dev_candidates, 20)
            return score_run(dev_qrels, run, ("ndcg@10",))["ndcg@10"]

        steps = args.ss_steps if variant == "self-supervised" else args.steps
        out = WORK / "rerank" / f"scifact-{variant}-{args.head}{suffix}"
        report = train_cross_encoder(base_model, pairs, evaluate, out, loss,
                                     TrainConfig(epochs=args.epochs, batch_size=16, lr=3e-5, max_tokens=args.max_tokens,
                                                 eval_every=60, patience=3, max_steps=steps),
                                     progress=False, head=args.head)
        model = CrossEncoder(out)
        cached = CachedScorer(model)
        grid = {w / 10: score_run(dev_qrels, reranked(engine, cached, dev_queries, dev_candidates, 20, w / 10),
                                  ("ndcg@10",))["ndcg@10"] for w in range(11)}
        weight = max(grid, key=lambda w: (grid[w], w))
        model.blend = weight
        model.save(out, base="minilm" if args.layers == 6 else f"minilm-L{args.layers}")
        print(f"{variant}: dev nDCG@10 by blend weight {grid}", flush=True)
        test_scorer = CachedScorer(model)
        for name, w in (("cross-encoder alone", 1.0), (f"blend w={weight} (dev)", weight)):
            run = reranked(engine, test_scorer, test_queries, test_candidates, args.k, w)
            scores = score_run(test_qrels, run, ("ndcg@10", "recall@10"))
            rows.append([f"hybrid + CE rerank@{args.k} ({variant}, {loss}, {args.head}, {name})", len(pairs),
                         f"{report['seconds']:.0f}", f"{scores['ndcg@10']:.4f}", f"{scores['recall@10']:.4f}",
                         f"{report['history'][0]['dev']:.4f} -> {report['best_dev']:.4f}"])
            print(rows[-1], flush=True)
    model = CrossEncoder(WORK / "rerank" / f"scifact-{args.variants.split(',')[0]}-{args.head}{suffix}")
    latency_rows = []
    for k in (20, 50, 100):
        times = rerank_times(engine, model, list(test_queries.items())[:20], test_candidates, k)
        latency_rows.append([k, f"{np.percentile(times, 50):.0f}", f"{np.percentile(times, 95):.0f}",
                             f"{k / (np.mean(times) / 1000):.0f}"])
    print(table(["system", "train pairs", "train s", "nDCG@10", "recall@10", "dev nDCG@10 (step 0 -> best)"], rows))
    print()
    print(table(["rerank k", "p50 ms", "p95 ms", "pairs/s"], latency_rows))


if __name__ == "__main__":
    main()
