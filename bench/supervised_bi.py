"""The bi-encoder fine-tuned with CoSENT on judged queries, then served as the store's encoder.

What a site owner with relevance judgments or a click log gets from `jiansuo train bi --beir`: e5 read as
retrieval reads it (query: / passage:), trained on qrels/train.tsv positives + hard negatives mined by our own
hybrid retrieval (the top 4 unjudged documents and 1 random one from the top 30). 100 of the training queries are
held out: their pairs pick the checkpoint (Spearman), and their nDCG@10 is the dev figure. SciFact trains on
qrels/train.tsv (the held-out 100 are the same seeded 100 as bench/rerank_scifact.py) and reports qrels/test.tsv.
LibreOffice zh has test judgments only: it trains on the dev half the other benches tune on (meaning_cutoff.halves)
and reports the held-out half, which no training or choice reads. The tuned model is exported to ONNX Runtime (the
serving quantisation) and a copy of the store is indexed with it; BM25 is unchanged, so hybrid moves by dense alone.

Run: python bench/supervised_bi.py [--dataset scifact|lo-help/zh] [--epochs 1] [--max-tokens 256] [--steps N]
     (about 45 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
import warnings

from common import DATA, WORK, table
from dense_beir import engine_for
from meaning_cutoff import halves

from jiansuo.engine import Engine
from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.train.bi_encoder import train_bi_encoder
from jiansuo.train.loop import TrainConfig
from jiansuo.train.pairs import qrels_pairs

warnings.filterwarnings("ignore")


def splits(dataset: str) -> tuple[dict, dict, dict, str]:
    """(training judgments, the 100 held out of them to choose by, the judgments reported, the reported set's name)."""
    if dataset == "scifact":
        train, test, name = read_qrels(DATA / dataset, "train"), read_qrels(DATA / dataset, "test"), "test"
    else:
        dev_half, held_out = halves(dataset)
        judged = read_qrels(DATA / dataset, "test")
        train = {q: r for q, r in judged.items() if q in dev_half}
        test, name = {q: r for q, r in judged.items() if q in held_out}, "held-out half"
    dev_ids = set(random.Random(0).sample(sorted(train), 100))
    return ({q: r for q, r in train.items() if q not in dev_ids}, {q: r for q, r in train.items() if q in dev_ids},
            test, name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="scifact", choices=["scifact", "lo-help/zh"])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--in-batch", action="store_true", help="every other passage of a batch as a negative too")
    args = parser.parse_args()
    base = engine_for(args.dataset, "e5-onnx")
    queries = read_queries(DATA / args.dataset)
    fit_qrels, dev_qrels, test_qrels, test_name = splits(args.dataset)
    fit = qrels_pairs(base, queries, fit_qrels, negatives=4, mode="hybrid")
    dev = qrels_pairs(base, queries, dev_qrels, negatives=4, mode="hybrid")
    print(f"{len(fit)} training pairs from {len(fit_qrels)} queries, {len(dev)} dev pairs", flush=True)
    work = WORK / f"supervised_bi-{args.dataset.replace('/', '-')}{'-in-batch' if args.in_batch else ''}"
    shutil.rmtree(work, ignore_errors=True)
    model = work / "model"
    report = train_bi_encoder("e5", fit, dev, model, TrainConfig(epochs=args.epochs, batch_size=16, lr=args.lr,
                                                                 max_tokens=args.max_tokens, eval_every=50,
                                                                 patience=3, max_steps=args.steps),
                              progress=True, retrieval=True, in_batch=args.in_batch)
    print(f"trained {report['steps']} steps in {report['seconds']:.0f} s; dev Spearman "
          f"{report['history'][0]['dev']:.4f} -> {report['best_dev']:.4f}", flush=True)
    store = work / "store"
    shutil.copytree(base.path, store, ignore=shutil.ignore_patterns("dense", "cache"))
    started = time.perf_counter()
    tuned = Engine(store, encoder=str(model))
    tuned.refresh()
    print(f"indexed with the tuned model in {time.perf_counter() - started:.0f} s", flush=True)
    rows = []
    for label, qrels in (("training queries held out (dev)", dev_qrels), (test_name, test_qrels)):
        asked = {q: t for q, t in queries.items() if q in qrels}
        for mode in ("bm25", "dense", "hybrid"):
            before = score_run(qrels, run_queries(base, asked, mode=mode)[0], ("ndcg@10", "recall@100"))
            after = score_run(qrels, run_queries(tuned, asked, mode=mode)[0], ("ndcg@10", "recall@100"))
            recall = f"{before['recall@100']:.3f} -> {after['recall@100']:.3f}"
            rows.append([f"{args.dataset} {label}", len(asked), mode, before["ndcg@10"], after["ndcg@10"],
                         after["ndcg@10"] - before["ndcg@10"], recall])
            print(rows[-1], flush=True)
    print(f"\n{len(fit)} pairs, {report['steps']} steps of 16, {args.max_tokens} tokens, lr {args.lr}, "
          f"{'in-batch negatives, ' if args.in_batch else ''}"
          f"{report['seconds']:.0f} s of training; dev Spearman by step: "
          + " ".join(f"{h['step']}:{h['dev']:.4f}" for h in report["history"]) + "\n")
    print(table(["set", "queries", "mode", "default (e5-onnx, centered)", "e5 tuned on train judgments", "change",
                 "recall@100"], rows))


if __name__ == "__main__":
    main()
