"""Cross-encoder k-NN: CUR and adaptive CUR vs retrieve-and-rerank, at equal cross-encoder calls per query.

For sampled test queries the cross-encoder scores *every* document (the exact matrix E, the ground truth:
the model's own top k). Anchor queries (disjoint from the test queries) score every document once: R, the
offline cost, stored through the real index component (rerank/cur_index.py). Each method then spends a
budget of B exact scores per query, looked up in E:
- BM25 / dense / hybrid -> rerank: the retriever's top B, reordered by exact scores;
- CE's own vectors -> rerank: the top B-1 by the cross-encoder's one-sided vectors (query pass = 1 call);
- distilled CE vectors -> rerank: the same with the copy distilled on R (rerank/distill.py), as the index uses;
- CUR (ANNCUR, one round): B/2 anchor items (k-means centres on the dense document vectors, or random),
  approximate all scores as c . pinv(R[:, A]) . R, exact scores for the B/2 best-looking others;
- adaptive CUR (ADACUR): B/5 anchor items, then 4 rounds each scoring the approximation's best unscored
  items and re-solving with every exact score as an anchor; its first anchors are k-means centres, random
  items, or ("hybrid-seeded") the hybrid retriever's top B/5 for the query;
- adaptive CUR + vectors: R stacked with the documents' dense vectors and the (distilled) cross-encoder's own
  document vectors (cur.with_item_vectors), 10 rounds; "hybrid + CE-vector seeds" starts with the hybrid top and
  the distilled-vector top interleaved; the default also fits the query's own row, its distilled-vector
  similarity to every document (ce_knn.search, what the engine runs).
--dev D scores D more anchor-source queries fully (never anchors) and prints the grid that picked ce_knn's
ROUNDS, VECTOR_WEIGHTS and QUERY_ROW_WEIGHT. The distilled copy is trained on the anchor rows (never dev or test);
with --distill-queries N, that copy picks the candidates the N further queries are scored on and trains on them
too. --distill-sentences N adds N queries generated from document sentences (ce_knn.sentence_queries), scored the
same way, and a second copy trained on all of them (--sentence-steps); the index then holds both copies and a query's
row sums their similarities (ce_knn.query_row, one forward pass each, counted as calls). Each stage is kept in the
work folder for later runs with the same anchors and steps.
recall@k = |method's top k & exact top k| / k. nDCG@10 uses the collection's qrels for the same queries.
A model tuned to blend its score with the retrieval score (`blend` < 1 in its jiansuo.json) is served blended by
rerank and ce-knn alike (ce_knn.final_scores): the quality table adds both as served, with nDCG@10 and recall@10
by the qrels, and with --dev on train claims a dev table of the same (dev_served).
Latency: `Engine.search(mode="ce-knn", budget=B)` end to end on the real store (model calls included).
Writes a table (stdout) and a PNG plot of recall@10 against calls.
Rows already scored by an earlier run (same folder, same query text) are reused.
Run: python bench/cur_knn.py --dataset scifact --model runs/rerank/scifact-qrels-segment-cosine --max-tokens 64 \
         --int8 --test 100 --anchors 160 --dev 40 --distill-queries 600 --distill-sentences 1200 --sentence-steps 900
     python bench/cur_knn.py --dataset scifact --encoder e5-onnx --runtime onnx --int8 --max-tokens 128 \
         --model runs/rerank/scifact-qrels-segment-cosine-128-L4 --test 100 --anchors 80 --dev 40 \
         --distill-steps 0 --budgets 50,100,200
     python bench/cur_knn.py --dataset lo-help/zh --model runs/sts/cross-STS-B-cosent-segment-cosine \
         --max-tokens 64 --int8 --test 15 --anchors 100 --dev 25 --anchor-source queries
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
import warnings

import numpy as np
from common import DATA, WORK, table
from dense_beir import engine_for

from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.model import SearchRequest
from jiansuo.rerank import ce_knn, distill
from jiansuo.rerank.cross_encoder import CrossEncoder
from jiansuo.rerank.cross_encoder_onnx import OnnxCrossEncoder
from jiansuo.rerank.cur import best_unscored, interleaved
from jiansuo.train.pairs import document_text

warnings.filterwarnings("ignore")
KS = (1, 10, 100)
DEFAULT = "adaptive CUR + vectors + query row, rounds also by the CE-vector ranking (default)"
SERVED_ROUNDS = ("the default, each round picking by the served estimate (its key blended with hybrid; "
                 "what ce_knn serves a blending model)")


def finished_rows(folder, exclude) -> dict[str, tuple[np.ndarray, float]]:
    """Rows already scored by earlier runs in `folder` (matrices with a .queries.json), by query text, with the
    seconds each cost: a larger anchor set reuses a smaller one's rows instead of paying for them again."""
    rows: dict[str, tuple[np.ndarray, float]] = {}
    for queries_path in folder.glob("*.queries.json"):
        path = queries_path.with_name(queries_path.name.replace(".queries.json", ".npy"))
        done_path = path.with_suffix(".done.json")
        if path == exclude or not done_path.exists():
            continue
        done = json.loads(done_path.read_text())
        matrix = np.load(path, mmap_mode="r")
        per_row = done["seconds"] / max(1, done["rows"])
        for row, query in enumerate(json.loads(queries_path.read_text())[:done["rows"]]):
            rows.setdefault(query, (matrix[row], per_row))
    return rows


def score_matrix(model: CrossEncoder, queries: list[str], texts: list[str], path) -> tuple[np.ndarray, float]:
    """Exact scores of every query x text, resumable row by row (a crash keeps the finished rows); rows another
    matrix in the folder already holds are copied, with their recorded cost."""
    done_path = path.with_suffix(".done.json")
    queries_path = path.with_suffix(".queries.json")
    shape = (len(queries), len(texts))
    if path.exists() and done_path.exists():
        matrix = np.lib.format.open_memmap(path, mode="r+")
        done = json.loads(done_path.read_text())
        if matrix.shape != shape:
            raise SystemExit(f"{path} has shape {matrix.shape}, expected {shape}: delete it")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        matrix = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
        done = {"rows": 0, "seconds": 0.0}
    if queries_path.exists() and json.loads(queries_path.read_text())[:done["rows"]] != queries[:done["rows"]]:
        raise SystemExit(f"{path} was scored for other queries: delete it")
    queries_path.write_text(json.dumps(queries, ensure_ascii=False))
    earlier = finished_rows(path.parent, path)
    order = np.argsort([len(t) for t in texts])  # length-sorted batches pad less
    sorted_texts = [texts[i] for i in order]
    for row in range(done["rows"], len(queries)):
        started = time.perf_counter()
        if queries[row] in earlier:
            matrix[row], seconds = earlier[queries[row]]
        else:
            matrix[row, order] = model.score(queries[row], sorted_texts)
            seconds = time.perf_counter() - started
        done = {"rows": row + 1, "seconds": done["seconds"] + seconds}
        matrix.flush()
        done_path.write_text(json.dumps(done))
        print(f"  {path.name}: row {row + 1}/{len(queries)}, {done['seconds']:.0f} s", flush=True)
    return np.asarray(matrix), done["seconds"]


def partial_rows(engine, model, queries: list[str], doc_ids: list[str], texts: list[str], stem, one_sided
                 ) -> tuple[np.ndarray, float]:
    """ce_knn.distillation_rows for `queries` (candidates from `one_sided`), kept as `stem`.npy (with the seconds
    they cost) for later runs."""
    path, done = stem.with_suffix(".npy"), stem.with_suffix(".done.json")
    if path.exists() and done.exists():
        if json.loads(stem.with_suffix(".queries.json").read_text()) != queries:
            raise SystemExit(f"{path} was scored for other queries: delete it")
        return np.load(path), json.loads(done.read_text())["seconds"]
    started = time.perf_counter()
    rows = ce_knn.distillation_rows(engine, model, queries, doc_ids, texts, one_sided=one_sided)
    seconds = time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, rows)
    stem.with_suffix(".queries.json").write_text(json.dumps(queries, ensure_ascii=False))
    done.write_text(json.dumps({"rows": len(queries), "seconds": seconds}))
    return rows, seconds


def cached_copy(path, model: CrossEncoder, train):
    """The copy of `model` distilled and saved at `path`, or `train()`'s, saved there with its training seconds."""
    if path.exists():
        return distill.load(model.model_dir, model.max_tokens, path)
    started = time.perf_counter()
    copy = train()
    distill.save(copy, path)
    path.with_suffix(".json").write_text(json.dumps({"seconds": time.perf_counter() - started}))
    return copy


def training_time(path) -> float:
    """Seconds the copy at `path` took to train (older caches kept them as publish's params)."""
    saved = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").exists() else {}
    return float(saved.get("seconds", saved.get("distill_seconds", 0.0)))


def anchor_order(pool: list[str]) -> list[str]:
    """A fixed order of candidate anchor queries, so that n anchors are always the first n of n + m: the first
    80 are the sample earlier runs drew (random.Random(1).sample(pool, 80)), the rest follow shuffled."""
    first = random.Random(1).sample(pool, min(80, len(pool)))
    rest = sorted(set(pool) - set(first))
    random.Random(2).shuffle(rest)
    return first + rest


def bootstrap_interval(values: np.ndarray, draws: int = 5000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean of `values` (one per query), the queries resampled with replacement."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(len(values), size=(draws, len(values)))].mean(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def recall_at(ranking: np.ndarray, truth: np.ndarray, k: int) -> float:
    return len(set(ranking[:k].tolist()) & set(truth[:k].tolist())) / k


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--encoder", default="e5", help="the dense index used for dense/hybrid and k-means")
    parser.add_argument("--model", required=True, help="cross-encoder folder")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--test", type=int, default=100, help="test queries (exact scores over all documents)")
    parser.add_argument("--anchors", type=int, default=100, help="anchor queries (rows of R)")
    parser.add_argument("--dev", type=int, default=0,
                        help="further queries from the anchor source, scored over all documents and never anchors: "
                             "the dev set that picks rounds and vector weight (printed as a grid)")
    parser.add_argument("--anchor-source", default="train",
                        help="train: other judged queries (SciFact train split); queries: unjudged queries of the "
                             "same collection outside the test sample; titles: document titles")
    parser.add_argument("--dev-only", action="store_true", help="print the dev grid and stop (before test)")
    parser.add_argument("--budgets", default="50,100,200,500")
    parser.add_argument("--distill-steps", type=int, default=distill.STEPS,
                        help="steps distilling the one-sided vectors on R (0: the model's own, undistilled)")
    parser.add_argument("--distill-queries", type=int, default=0,
                        help="further anchor-source queries (after the anchors and dev) scored on "
                             f"{ce_knn.DISTILL_CANDIDATES} candidates each, for distillation only")
    parser.add_argument("--distill-titles", type=int, default=0,
                        help="further distillation queries generated from the corpus: document titles "
                             "(ce_knn.title_queries), mined and trained on with the --distill-queries")
    parser.add_argument("--distill-sentences", type=int, default=0,
                        help="distillation queries generated from the corpus: one sentence each from that many "
                             "documents (ce_knn.sentence_queries), for a second copy (ce_knn.publish)")
    parser.add_argument("--sentence-steps", type=int, default=None,
                        help="training steps of the copy that reads the sentences (default: --further-steps)")
    parser.add_argument("--further-steps", type=int, default=None,
                        help="training steps on the further queries (default: --distill-steps)")
    parser.add_argument("--int8", action="store_true", help="int8 dynamic quantisation of the cross-encoder")
    parser.add_argument("--runtime", choices=["torch", "onnx"], default="torch",
                        help="onnx: score on ONNX Runtime as the product serves (rerank/cross_encoder_onnx.py; "
                             "--int8: full int8, else fp32); torch: the training model (earlier runs)")
    parser.add_argument("--split", default="test", help="qrels split the test queries are sampled from")
    parser.add_argument("--only", choices=["exact", "rows"], default=None,
                        help="compute one matrix and stop (run both at once in two 1-thread processes)")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]

    engine = engine_for(args.dataset, args.encoder)
    folder = DATA / args.dataset
    queries = read_queries(folder)
    test_qrels = read_qrels(folder, args.split)
    test_ids = sorted(random.Random(0).sample(sorted(q for q in test_qrels if q in queries), args.test))
    if args.anchor_source in ("train", "queries"):
        pool = (sorted(q for q in read_qrels(folder, "train") if q in queries) if args.anchor_source == "train"
                else sorted(set(queries) - set(test_ids)))
        ordered = [queries[q] for q in anchor_order(pool)]
    else:
        ordered = ce_knn.title_queries(engine, args.anchors + args.dev + args.distill_queries)
    scored_texts = ordered[:args.anchors + args.dev]
    distill_texts = ordered[args.anchors + args.dev:][:args.distill_queries]
    anchor_texts, dev_texts = scored_texts[:args.anchors], scored_texts[args.anchors:]
    title_texts = ce_knn.title_queries(engine, args.distill_titles, exclude=set(scored_texts)) \
        if args.distill_titles else []
    sentence_texts = ce_knn.sentence_queries(engine, args.distill_sentences,
                                             exclude=set(scored_texts) | set(distill_texts)) \
        if args.distill_sentences else []

    documents = list(engine.store.documents())
    doc_ids = [d.id for d in documents]
    texts = [document_text(d) for d in documents]
    if args.runtime == "onnx":
        model = OnnxCrossEncoder(args.model, quantize="int8" if args.int8 else "fp32", max_tokens=args.max_tokens,
                                 batch_size=64)
    else:
        model = CrossEncoder(args.model, batch_size=64)
        model.max_tokens = args.max_tokens
        if args.int8:
            model.quantize()
    name = (f"{args.dataset.replace('/', '-')}-{model.model_dir.name}-{args.max_tokens}{'-int8' if args.int8 else ''}"
            f"{'-onnx' if args.runtime == 'onnx' else ''}{'' if args.encoder == 'e5' else '-' + args.encoder}")
    work = WORK / "cur" / name
    if args.only != "rows":
        exact, exact_seconds = score_matrix(model, [queries[q] for q in test_ids], texts,
                                            work / f"exact-test{args.test}.npy")
    if args.only != "exact":
        scored, scored_seconds = score_matrix(model, scored_texts, texts,
                                              work / f"rows-{args.anchor_source}{len(scored_texts)}.npy")
    if args.only:
        return
    rows, dev_rows = scored[:args.anchors], scored[args.anchors:]
    rows_seconds = scored_seconds * args.anchors / len(scored_texts)
    per_call_ms = 1000 * (exact_seconds + scored_seconds) / ((len(test_ids) + len(scored_texts)) * len(texts))

    # publish R as the store's live CUR index: what `mode=ce-knn` serves in the latency rows below. With further
    # queries, the copy distilled on the anchor rows (first stage) and their partial rows are kept in the work
    # folder for later runs, as is the final copy.
    trained_on = f"{args.anchor_source}{args.anchors}"
    first = work / f"student-{trained_on}-0-{args.distill_steps}.pt"
    further = f"{len(distill_texts)}m" + (f"{len(title_texts)}t" if title_texts else "")
    further_steps = args.distill_steps if args.further_steps is None else args.further_steps
    sentence_steps = further_steps if args.sentence_steps is None else args.sentence_steps

    def student_at(queries_: str, steps: int):
        more = "" if steps == args.distill_steps else f"+{steps}"
        return work / f"student-{trained_on}-{queries_}-{args.distill_steps}{more}.pt"

    student = student_at(further, further_steps) if distill_texts else first
    # with sentence queries the copy trained on them as well reads the index's vectors; the one above is the second
    primary = student_at(f"{further}{len(sentence_texts)}s", sentence_steps) if sentence_texts else student
    saved = [primary] + ([student] if sentence_texts else [])
    first_copy, distill_rows, sentence_rows, distill_seconds = None, None, None, 0.0
    if distill_texts and args.distill_steps:
        mined = [(distill_texts, work / f"mined-{trained_on}-{len(distill_texts)}")]
        if title_texts:
            mined.append((title_texts, work / f"mined-{trained_on}-titles{len(title_texts)}"))
        if sentence_texts:
            mined.append((sentence_texts, work / f"mined-{trained_on}-sentences{len(sentence_texts)}"))
        if not (all(path.exists() for path in saved) and all(stem.with_suffix(".done.json").exists()
                                                             for _, stem in mined)):
            first_copy = cached_copy(first, model, lambda: distill.distil(
                model.model_dir, model.max_tokens, anchor_texts, texts, rows, args.distill_steps))
        parts = [partial_rows(engine, model, queries_, doc_ids, texts, stem, first_copy) for queries_, stem in mined]
        distill_seconds = sum(seconds for _, seconds in parts)  # the sentences' candidates included
        if sentence_texts:
            sentence_rows = parts.pop()[0]
        distill_texts = [t for queries_, _ in mined[: len(parts)] for t in queries_]
        distill_rows = np.concatenate([part for part, _ in parts])
    reuse = all(path.exists() for path in saved)
    params = ce_knn.publish(engine, rows, doc_ids, texts, anchor_texts, model, rows_seconds, engine.store.seq,
                            args.distill_steps, distilled=primary if reuse else None,
                            distilled_second=student if reuse and sentence_texts else None,
                            distill_queries=distill_texts, distill_rows=distill_rows, first=first_copy,
                            further_steps=further_steps, generated_queries=sentence_texts,
                            generated_rows=sentence_rows, generated_steps=sentence_steps,
                            anchor_source=args.anchor_source)
    cur = engine.cur
    for n, (name, path) in enumerate(zip(("cross", "cross-second"), saved, strict=False)):
        if name in cur.student_paths and not path.exists():
            shutil.copy2(cur.student_paths[name], path)
            # publish times all of its training at once: the first copy carries it, so the sum is not doubled
            seconds = params["distill_seconds"] if n == 0 else 0.0
            (work / f"{path.stem}.json").write_text(json.dumps({"seconds": seconds}))
    training_seconds = sum(training_time(path) for path in {first, *saved} if path.exists())
    raw_vectors = model.segment_vectors(texts, side=1)

    truth = np.argsort(-exact, axis=1, kind="stable")
    column = {d: i for i, d in enumerate(doc_ids)}
    retrieved, query_rows, passes, hybrid_scores = query_seeds(engine, cur, model, raw_vectors,
                                                               [queries[q] for q in test_ids], column, max(budgets))

    def rerank_rank(mode: str, qi: int, budget: int) -> np.ndarray:
        own = {"raw": 1, "cross": passes}.get(mode, 0)  # the query's own forward passes are calls
        top = np.array(retrieved[mode][qi][:budget - own])
        return top[np.argsort(-exact[qi, top], kind="stable")]

    def cur_rank(method: str, anchors: str, qi: int, budget: int, rounds: int = 5,
                 weights: dict | None = None, seeds: str = "hybrid", row_weight: float = 0.0,
                 round_prior: str = "", served: bool = False, by_served: bool = False) -> np.ndarray:
        """The method's ranking by exact scores (the model's own top k), or with `served` as ce_knn.search
        lists it: the exactly scored documents by the blend of their exact and hybrid scores."""
        own = passes if seeds == "mixed" or row_weight > 0 or round_prior else 0
        retrieval = hybrid_retrieval(len(doc_ids), retrieved["hybrid"][qi], hybrid_scores[qi], budget)
        ranking, scored = cur.search(lambda items: exact[qi, items], budget - own, 100,
                                     method=method, anchor_method=anchors, seeds=retrieved[seeds][qi], rounds=rounds,
                                     vector_weights=weights, query_rows=query_rows[qi] if row_weight else None,
                                     query_row_weight=row_weight, round_prior=round_prior,
                                     retrieval=retrieval if by_served else None, model_weight=model.blend)
        return served_ranking(scored, retrieval, model.blend) if served else ranking

    def served_order(qi: int, budget: int, scored: dict[int, float]) -> np.ndarray:
        retrieval = hybrid_retrieval(len(doc_ids), retrieved["hybrid"][qi], hybrid_scores[qi], budget)
        return served_ranking(scored, retrieval, model.blend)

    def served_rerank(qi: int, budget: int) -> np.ndarray:
        """rerank as the engine runs it: the hybrid top `budget`, by the blend of exact and hybrid scores."""
        return served_order(qi, budget, {int(i): float(exact[qi, i]) for i in retrieved["hybrid"][qi][:budget]})

    if dev_texts:
        dev_grid(cur, engine, model, raw_vectors, dev_texts, dev_rows, budgets, column)
        if model.blend < 1.0 and args.anchor_source == "train":
            by_text = {text: q for q, text in queries.items()}
            dev_served(cur, engine, model, raw_vectors, [by_text[t] for t in dev_texts], dev_texts, dev_rows,
                       budgets, column, doc_ids, read_qrels(folder, "train"))
    if args.dev_only:
        return
    default = {"rounds": ce_knn.ROUNDS, "weights": ce_knn.VECTOR_WEIGHTS}

    methods = {"BM25 -> rerank": lambda qi, b: rerank_rank("bm25", qi, b),
               "dense -> rerank": lambda qi, b: rerank_rank("dense", qi, b),
               "hybrid -> rerank": lambda qi, b: rerank_rank("hybrid", qi, b),
               "CE's own vectors -> rerank": lambda qi, b: rerank_rank("raw", qi, b),
               "distilled CE vectors -> rerank": lambda qi, b: rerank_rank("cross", qi, b),
               "CUR, random anchors": lambda qi, b: cur_rank("single", "random", qi, b),
               "CUR, k-means anchors": lambda qi, b: cur_rank("single", "kmeans", qi, b),
               "adaptive CUR, random": lambda qi, b: cur_rank("adaptive", "random", qi, b),
               "adaptive CUR, k-means": lambda qi, b: cur_rank("adaptive", "kmeans", qi, b),
               "adaptive CUR, hybrid-seeded": lambda qi, b: cur_rank("adaptive", "retriever", qi, b),
               "adaptive CUR + vectors, k-means": lambda qi, b: cur_rank("adaptive", "kmeans", qi, b, **default),
               "adaptive CUR + vectors, hybrid-seeded": lambda qi, b: cur_rank("adaptive", "retriever", qi, b,
                                                                               **default),
               "adaptive CUR + vectors, hybrid + CE-vector seeds":
                   lambda qi, b: cur_rank("adaptive", "retriever", qi, b, **default, seeds="mixed"),
               "adaptive CUR + vectors + query row, hybrid + CE-vector seeds":
                   lambda qi, b: cur_rank("adaptive", "retriever", qi, b, **default, seeds="mixed",
                                          row_weight=ce_knn.QUERY_ROW_WEIGHT),
               DEFAULT: lambda qi, b: cur_rank("adaptive", "retriever", qi, b, **default, seeds="mixed",
                                               row_weight=ce_knn.QUERY_ROW_WEIGHT, round_prior=ce_knn.ROUND_PRIOR)}
    results: dict[str, dict[int, dict[int, float]]] = {}
    rankings: dict[tuple[str, int], list[np.ndarray]] = {}
    recall_at_10: dict[tuple[str, int], np.ndarray] = {}  # per test query
    for label, rank in methods.items():
        results[label] = {}
        for budget in budgets:
            ranked = [rank(qi, budget) for qi in range(len(test_ids))]
            rankings[(label, budget)] = ranked
            per_query = {k: np.array([recall_at(r, truth[qi], k) for qi, r in enumerate(ranked)]) for k in KS}
            recall_at_10[(label, budget)] = per_query[10]
            results[label][budget] = {k: float(values.mean()) for k, values in per_query.items()}
    rows_out = [[label, budget] + [f"{results[label][budget][k]:.3f}" for k in KS]
                for budget in budgets for label in methods]
    print(f"\n{args.dataset}: {len(doc_ids)} documents, {len(test_ids)} test queries, {len(anchor_texts)} anchor "
          f"queries ({args.anchor_source}); cross-encoder {model.model_dir.name} ({model.head} head, "
          f"{args.max_tokens} tokens{', int8' if args.int8 else ''})")
    print(table(["method", "CE calls / query", "recall@1", "recall@10", "recall@100"], rows_out))
    best_rerank = ("BM25 -> rerank", "dense -> rerank", "hybrid -> rerank")
    spread = []
    for budget in budgets:
        rival = max(best_rerank, key=lambda label: results[label][budget][10])
        ours, theirs = recall_at_10[(DEFAULT, budget)], recall_at_10[(rival, budget)]
        low, high = bootstrap_interval(ours)
        gap_low, gap_high = bootstrap_interval(ours - theirs)
        spread.append([budget, f"{ours.mean():.3f}", f"[{low:.3f}, {high:.3f}]", rival,
                       f"{(ours - theirs).mean():+.3f} [{gap_low:+.3f}, {gap_high:+.3f}]"])
    print(f"\nrecall@10 of the default over the {len(test_ids)} test queries, 95% bootstrap interval "
          "(queries resampled)")
    print(table(["CE calls / query", "ce-knn default recall@10", "95% interval", "best retrieve-and-rerank",
                 "default minus it, 95% interval"], spread))

    def run_of(ranked: list[np.ndarray]) -> dict:
        return {q: {doc_ids[i]: float(len(r) - rank) for rank, i in enumerate(r[:100])}
                for q, r in zip(test_ids, ranked, strict=True)}

    sub_qrels = {q: test_qrels[q] for q in test_ids}
    judged = ("ndcg@10", "recall@10")

    def quality_row(label: str, calls, ranked: list[np.ndarray]) -> list:
        metrics = score_run(sub_qrels, run_of(ranked), judged)
        return [label, calls] + [f"{metrics[m]:.4f}" for m in judged]

    quality = [quality_row("exact cross-encoder over all documents", len(doc_ids), list(truth)),
               quality_row("hybrid alone (no cross-encoder)", 0, [np.array(r) for r in retrieved["hybrid"]])]
    if model.blend < 1.0:
        n = len(doc_ids)
        quality.append(quality_row(f"exact cross-encoder over all documents, blended as served (w={model.blend})", n,
                                   [served_order(qi, n, dict(enumerate(exact[qi].tolist())))
                                    for qi in range(len(test_ids))]))
    for budget in budgets:
        for label in ("hybrid -> rerank", "distilled CE vectors -> rerank", "CUR, k-means anchors",
                      "adaptive CUR, hybrid-seeded", DEFAULT):
            quality.append(quality_row(label if "CUR" not in label else f"ce-knn: {label}", budget,
                                       rankings[(label, budget)]))
        if model.blend < 1.0:
            quality.append(quality_row(f"hybrid -> rerank, blended as served (w={model.blend})", budget,
                                       [served_rerank(qi, budget) for qi in range(len(test_ids))]))
            for label, rank in (("ce-knn: adaptive CUR, hybrid-seeded", lambda qi, b: cur_rank(
                                    "adaptive", "retriever", qi, b, served=True)),
                                (f"ce-knn: {DEFAULT}", lambda qi, b: cur_rank(
                                    "adaptive", "retriever", qi, b, **default, seeds="mixed",
                                    row_weight=ce_knn.QUERY_ROW_WEIGHT, round_prior=ce_knn.ROUND_PRIOR,
                                    served=True)),
                                (f"ce-knn: {SERVED_ROUNDS}", lambda qi, b: cur_rank(
                                    "adaptive", "retriever", qi, b, **default, seeds="mixed",
                                    row_weight=ce_knn.QUERY_ROW_WEIGHT, round_prior=ce_knn.ROUND_PRIOR,
                                    served=True, by_served=True))):
                quality.append(quality_row(f"{label}, blended as served (w={model.blend})", budget,
                                           [rank(qi, budget) for qi in range(len(test_ids))]))
    print("\nnDCG@10 and recall@10 by the collection's judgements (qrels)")
    print(table(["system (same test queries)", "CE calls / query"] + list(judged), quality))

    latency = []
    engine._reranker = model  # the same (possibly quantised, truncated) model the matrices came from
    # untimed: the first ce-knn search loads the distilled copies
    engine.search(SearchRequest(query=queries[test_ids[-1]], mode="ce-knn", budget=budgets[0], syntax=False),
                  hydrate=False)
    for budget in budgets:
        times = []
        for q in test_ids[:10]:
            started = time.perf_counter()
            engine.search(SearchRequest(query=queries[q], mode="ce-knn", budget=budget, syntax=False), hydrate=False)
            times.append((time.perf_counter() - started) * 1000)
        latency.append([budget, f"{np.percentile(times, 50):.0f}", f"{np.percentile(times, 95):.0f}"])
    print()
    print(f"offline: {len(anchor_texts)} anchor queries x {len(doc_ids)} documents = "
          f"{len(anchor_texts) * len(doc_ids):,} cross-encoder calls, {rows_seconds:.0f} s "
          f"({per_call_ms:.2f} ms per call on this machine); exact test matrix: {exact_seconds:.0f} s; "
          f"distillation: {len(distill_texts)} further queries + {len(sentence_texts)} sentence queries x "
          f"{ce_knn.DISTILL_CANDIDATES} candidates = {params['distill_calls'] + params['generated_calls']:,} calls, "
          f"{distill_seconds:.0f} s; {args.distill_steps}{f' + {further_steps}' if distill_texts else ''}"
          f"{f' (+ {sentence_steps}: the sentence copy)' if sentence_texts else ''} training steps "
          f"{training_seconds:.0f} s; {params['vector_passes']:,} one-sided document passes: "
          f"{cur.params['vector_seconds']:.0f} s")
    print(table(["budget (CE calls)", "ce-knn query p50 ms", "p95 ms"], latency))
    plot(results, budgets, work / "recall_at_10.png", args.dataset)
    print(f"\nplot: {work / 'recall_at_10.png'}")


def query_seeds(engine, cur, model, raw_vectors: np.ndarray, texts: list[str], column: dict, depth: int
                ) -> tuple[dict[str, list[list[int]]], np.ndarray, int, list[list[float]]]:
    """Per query, the columns each cheap ranking puts first: BM25, dense, hybrid, the cross-encoder's own
    vectors undistilled ("raw") and distilled ("cross"; one forward pass of the query each), and "mixed" (hybrid
    and distilled vectors interleaved, as ce_knn does); each query's row of distilled similarities (ce_knn.query_row:
    with a second copy, both copies' summed); the forward passes that row costs a query; and the hybrid scores of
    its hybrid top (what rerank and ce-knn blend with)."""
    out, hybrid_scores = {}, []
    for mode in ("bm25", "dense", "hybrid"):
        out[mode] = []
        for t in texts:
            hits = engine.search(SearchRequest(query=t, limit=depth, syntax=False, mode=mode), hydrate=False).hits
            out[mode].append([column[h.doc_id] for h in hits])
            if mode == "hybrid":
                hybrid_scores.append([h.score for h in hits])
    out["raw"] = [best_unscored(raw_vectors @ v, {}, None, depth) for v in model.segment_vectors(texts, side=0)]
    rows_and_passes = [ce_knn.query_row(cur, model, t) for t in texts]  # what ce_knn.search reads
    rows = np.stack([row for row, _ in rows_and_passes])
    out["cross"] = [best_unscored(row, {}, None, depth) for row in rows]
    out["mixed"] = [interleaved(h, c) for h, c in zip(out["hybrid"], out["cross"], strict=True)]
    return out, rows, rows_and_passes[0][1], hybrid_scores


def dev_grid(cur, engine, model, raw_vectors: np.ndarray, dev_texts: list[str], dev_rows: np.ndarray,
             budgets: list[int], column: dict) -> None:
    """recall@10 of adaptive CUR on the dev queries, varying one setting at a time around the default: how the
    defaults in ce_knn (ROUNDS, VECTOR_WEIGHTS, QUERY_ROW_WEIGHT, mixed seeds) were picked (best mean over
    budgets <= 200). The first rows are the retrievers alone, for scale."""
    truth = np.argsort(-dev_rows, axis=1, kind="stable")[:, :10]
    seeds, query_rows, passes, _ = query_seeds(engine, cur, model, raw_vectors, dev_texts, column, max(budgets))
    small_budgets = [b for b in budgets if b <= 200]
    grid = []
    for kind in ("hybrid", "raw", "cross"):
        own = {"hybrid": 0, "raw": 1, "cross": passes}[kind]  # the query's own forward passes are calls
        reranked = [[sorted(seeds[kind][qi][:b - own], key=lambda i, qi=qi: -dev_rows[qi, i])
                     for qi in range(len(dev_texts))] for b in small_budgets]
        recalls = [np.mean([recall_at(np.array(top), truth[qi], 10) for qi, top in enumerate(tops)])
                   for tops in reranked]
        label = {"hybrid": "hybrid", "raw": "CE's own vectors", "cross": "distilled CE vectors"}[kind]
        grid.append([f"{label} -> rerank", "", "", "", "", ""] + [f"{r:.3f}" for r in recalls]
                    + [f"{np.mean(recalls):.3f}"])
    configs = [(5, 0.0, 0.0, 0.0, "hybrid", "")]  # session 2's default: R alone
    configs += [(ce_knn.ROUNDS, 0.3, 0.3, ce_knn.QUERY_ROW_WEIGHT, "mixed", ce_knn.ROUND_PRIOR),
                (10, 0.3, 0.3, 10.0, "mixed", "alternate"), (10, 0.3, 0.3, 10.0, "mixed", ""),
                (10, 0.3, 0.3, 0.0, "mixed", ""), (10, 0.3, 0.3, 0.0, "mixed", "blend"),
                (10, 0.3, 0.3, 3.0, "mixed", "blend"), (10, 0.3, 0.3, 30.0, "mixed", "blend"),
                (5, 0.3, 0.3, 10.0, "mixed", "blend"), (20, 0.3, 0.3, 10.0, "mixed", "blend"),
                (10, 0.0, 0.3, 10.0, "mixed", "blend"), (10, 0.3, 0.0, 10.0, "mixed", "blend"),
                (10, 0.3, 0.3, 10.0, "hybrid", "blend")]
    for rounds, dense, cross, row, kind, round_prior in configs:
        recalls = []
        for budget in small_budgets:
            own = passes if kind == "mixed" or row > 0 or round_prior else 0  # the query's own passes are calls
            found = [cur.search(lambda items, qi=qi: dev_rows[qi, items], budget - own, 10,
                                anchor_method="retriever", seeds=seeds[kind][qi], rounds=rounds,
                                vector_weights={"dense": dense, "cross": cross},
                                query_rows=query_rows[qi] if row or round_prior else None, query_row_weight=row,
                                round_prior=round_prior)[0]
                     for qi in range(len(dev_texts))]
            recalls.append(np.mean([recall_at(f, truth[qi], 10) for qi, f in enumerate(found)]))
        grid.append([f"adaptive CUR, {rounds} rounds", dense, cross, row, kind, round_prior or "no"]
                    + [f"{r:.3f}" for r in recalls]
                    + [f"{np.mean(recalls):.3f}"])
        print("  dev", grid[-1], flush=True)
    print(f"\ndev: {len(dev_texts)} queries (never anchors); recall@10 of the exact top 10")
    print(table(["method", "dense weight", "CE-vector weight", "query-row weight", "first-round seeds",
                 "rounds also by the CE-vector ranking (blend: summed; alternate: picks in turn)"]
                + [f"{b} calls" for b in small_budgets] + ["mean"], grid))


def hybrid_retrieval(columns: int, top: list[int], scores: list[float], budget: int) -> np.ndarray:
    """ce_knn.retrieval_scores of a query's hybrid top `budget`: what rerank and ce-knn blend with at that budget."""
    return ce_knn.retrieval_scores(columns, dict(zip(top[:budget], scores[:budget], strict=True)))


def served_ranking(scored: dict[int, float], retrieval: np.ndarray, weight: float) -> np.ndarray:
    """The scored documents in the order ce_knn.search and rerank list them (ce_knn.final_scores)."""
    final = ce_knn.final_scores(scored, retrieval, weight)
    return np.array(sorted(final, key=lambda i: -final[i]), dtype=np.int64)


def dev_served(cur, engine, model, raw_vectors: np.ndarray, dev_ids: list[str], dev_texts: list[str],
               dev_rows: np.ndarray, budgets: list[int], column: dict, doc_ids: list[str], qrels: dict) -> None:
    """nDCG@10 on the dev queries (train claims, judged; never anchors) of what the engine lists when the model
    blends its score with the retrieval score: hybrid -> rerank and ce-knn at equal calls, both ordered as served
    (ce_knn.final_scores). The check a store's own judged queries make before ce-knn is worth offering."""
    seeds, query_rows, passes, hybrid_scores = query_seeds(engine, cur, model, raw_vectors, dev_texts, column,
                                                           max(budgets))

    def served(qi: int, budget: int, scored: dict[int, float]) -> np.ndarray:
        retrieval = hybrid_retrieval(len(doc_ids), seeds["hybrid"][qi], hybrid_scores[qi], budget)
        return served_ranking(scored, retrieval, model.blend)

    def knn(qi: int, budget: int, mixed: bool, by_served: bool = False) -> dict[int, float]:
        own = passes if mixed else 0
        retrieval = hybrid_retrieval(len(doc_ids), seeds["hybrid"][qi], hybrid_scores[qi], budget) \
            if by_served else None
        return cur.search(lambda items: dev_rows[qi, items], budget - own, 10, anchor_method="retriever",
                          seeds=seeds["mixed" if mixed else "hybrid"][qi], rounds=ce_knn.ROUNDS if mixed else 5,
                          vector_weights=ce_knn.VECTOR_WEIGHTS if mixed else None,
                          query_rows=query_rows[qi] if mixed else None,
                          query_row_weight=ce_knn.QUERY_ROW_WEIGHT if mixed else 0.0,
                          round_prior=ce_knn.ROUND_PRIOR if mixed else "", retrieval=retrieval,
                          model_weight=model.blend)[1]

    def ndcg(ranked: list) -> str:
        run = {q: {doc_ids[i]: float(len(r) - n) for n, i in enumerate(r[:100])}
               for q, r in zip(dev_ids, ranked, strict=True)}
        return f"{score_run({q: qrels[q] for q in dev_ids}, run, ('ndcg@10',))['ndcg@10']:.4f}"

    n = len(dev_ids)
    out = [["hybrid alone", 0, ndcg([seeds["hybrid"][qi] for qi in range(n)])]]
    for budget in [b for b in budgets if b <= 200]:
        out.append(["hybrid -> rerank", budget, ndcg([served(qi, budget, {i: float(dev_rows[qi, i])
                                                                          for i in seeds["hybrid"][qi][:budget]})
                                                      for qi in range(n)])])
        out.append(["ce-knn: adaptive CUR, hybrid-seeded", budget,
                    ndcg([served(qi, budget, knn(qi, budget, False)) for qi in range(n)])])
        out.append([f"ce-knn: {DEFAULT}", budget, ndcg([served(qi, budget, knn(qi, budget, True)) for qi in range(n)])])
        out.append([f"ce-knn: {SERVED_ROUNDS}", budget,
                    ndcg([served(qi, budget, knn(qi, budget, True, True)) for qi in range(n)])])
    print(f"\ndev: {n} judged queries (train qrels, never anchors); nDCG@10 as served (blend w={model.blend})")
    print(table(["system", "CE calls / query", "nDCG@10"], out))


def plot(results: dict, budgets: list[int], path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 6.2))
    colours = plt.get_cmap("tab20").colors
    for ax, k in zip(axes, (10, 100), strict=True):
        for n, (label, by_budget) in enumerate(results.items()):
            default = "(default)" in label
            ax.plot(budgets, [by_budget[b][k] for b in budgets], "-o" if "CUR" in label else "--s", label=label,
                    markersize=4, color="black" if default else colours[n % 20], linewidth=2.5 if default else 1.2)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.set_xlabel("cross-encoder calls per query")
        ax.set_ylabel(f"recall@{k} of the exact cross-encoder top {k}")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    figure.subplots_adjust(bottom=0.3)
    figure.suptitle(f"{title}: cross-encoder k-NN at equal budget")
    figure.tight_layout(rect=(0, 0.2, 1, 1))
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
