"""mode=ce-knn: the cross-encoder's own top k over the whole corpus, found with a budget of model calls (CUR).

Building scores anchor queries against every stored document once (the offline cost); a search scores the
query against anchor items, approximates every other score, and spends the rest of the budget on the exact
scores of the best-looking documents (adaptively, in rounds). The approximation uses the anchor rows, the
documents' dense vectors and the cross-encoder's own document vectors together (cur.with_item_vectors), plus
the query's own row: its cross-encoder vector's similarity to every document (one forward pass, counted as a
call). Those one-sided vectors come from a copy of the cross-encoder distilled on the anchor rows
(rerank/distill.py), so they rank documents much as the pair scores do. The first round scores the
retriever's top documents interleaved with the documents nearest the query's vector; every later round
picks by the approximation and the query vector's similarity summed, each standardised (alone, that similarity
is a strong retriever, and the approximation is still rough after a few rounds). A model tuned to blend its score
with the retrieval score is served as rerank serves it: the scored documents are listed by that blend
(final_scores), and its rounds pick by the estimate of the blend (BY_SERVED_ESTIMATE).
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from jiansuo.analysis.passages import passage_source
from jiansuo.model import Hit, SearchRequest
from jiansuo.rerank import distill
from jiansuo.rerank.cross_encoder import blended
from jiansuo.rerank.cur import best_unscored, interleaved, standardised
from jiansuo.rerank.cur_index import STUDENTS, CurIndex, item_anchor_sets, score_rows
from jiansuo.retrieve.query import MUST, MUST_NOT, ParsedQuery
from jiansuo.train.pairs import document_text

# Chosen on SciFact dev queries (train queries that are not anchors; `bench/cur_knn.py --dev`), not on test.
ROUNDS = 10
VECTOR_WEIGHTS = {"dense": 0.3, "cross": 0.3}
QUERY_ROW_WEIGHT = 10.0
ROUND_PRIOR = "blend"  # each round picks by the approximation and the query vector's similarity, summed
DISTILL_CANDIDATES = 200  # documents scored per further distillation query
# with a model that blends its score with the retrieval score, rounds pick by the estimated served score (chosen
# on SciFact dev: 40 judged train claims, nDCG@10 as served; bench/results/cur_knn_scifact_L4.md)
BY_SERVED_ESTIMATE = True


class CeKnnUnavailable(ValueError):
    """mode=ce-knn was asked for but the store has no cross-encoder k-NN index (or no cross-encoder)."""


def title_queries(engine, count: int, seed: int = 0, exclude: Collection[str] = frozenset()) -> list[str]:
    """Anchor queries generated from the corpus itself: `count` document titles (they read like queries) sampled
    from those not in `exclude`."""
    titles = sorted({d.title.strip() for d in engine.store.documents() if d.title.strip()} - set(exclude))
    picked = np.random.default_rng(seed).permutation(len(titles))[:count]
    return [titles[i] for i in sorted(picked)]


SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])|(?<=[。！？；])|\n+")
CJK = re.compile(r"[\u3400-\u9fff]")
SECTION_LABEL = re.compile(r"^[A-Z]{3,}(?:\s+[A-Z]{3,})*\s+(?=[A-Z][a-z]|[A-Z]\s|\d)")  # "RESULTS The ..." in abstracts


def _claim_like(sentence: str) -> bool:
    """A sentence the length of a typed query or claim: 6-25 words, or 8-60 characters of Chinese."""
    if CJK.search(sentence):
        return 8 <= len(sentence) <= 60
    return 6 <= len(sentence.split()) <= 25


def sentence_queries(engine, count: int, seed: int = 0, exclude: Collection[str] = frozenset()) -> list[str]:
    """Queries generated from the corpus itself: one sentence each from `count` random documents, taken from the
    body after its opening sentence (findings and conclusions read like the claims and questions users type;
    titles read like topics). Sentences in `exclude` are skipped."""
    rng = np.random.default_rng(seed)
    documents = sorted(engine.store.documents(), key=lambda d: d.id)
    picked: list[str] = []
    seen = set(exclude)
    for i in rng.permutation(len(documents)).tolist():
        sentences = [SECTION_LABEL.sub("", s.strip()) for s in SENTENCE_BREAK.split(passage_source(documents[i]))]
        body = [s for s in sentences[1:] if _claim_like(s) and s not in seen]
        if body:
            picked.append(body[int(rng.integers(len(body)))])
            seen.add(picked[-1])
        if len(picked) == count:
            break
    return picked


def _texts(engine, doc_ids: list[str]) -> list[str]:
    documents = engine.store.get_many(doc_ids)
    return [document_text(documents[d]) if d in documents else "" for d in doc_ids]


def _vectors(engine, doc_ids: list[str]) -> np.ndarray | None:
    dense = engine.dense
    return dense.document_vectors(doc_ids) if dense is not None else None


def build(engine, anchor_queries: list[str], progress=None, distill_steps: int | None = None,
          distill_queries: Sequence[str] = (), further_steps: int | None = None,
          generated_queries: Sequence[str] = (), generated_steps: int | None = None) -> dict:
    """Score `anchor_queries` x every document with the engine's cross-encoder into a new live CUR version
    (then distil the model's one-sided vectors on those rows, `distill_steps` steps, 0: not at all; and
    `further_steps` more on `distill_queries` scored against a few candidates each; `generated_queries`: a second
    copy, see publish)."""
    model = engine.reranker
    if model is None:
        raise CeKnnUnavailable("building a cross-encoder k-NN index needs a cross-encoder (--reranker DIR)")
    seq = engine.store.seq
    doc_ids = [d.id for d in engine.store.documents()]
    started = time.perf_counter()
    texts = _texts(engine, doc_ids)
    rows = score_rows(model.score, anchor_queries, texts, progress)
    return publish(engine, rows, doc_ids, texts, anchor_queries, model, time.perf_counter() - started, seq,
                   distill_steps, distill_queries=list(distill_queries), further_steps=further_steps,
                   generated_queries=list(generated_queries), generated_steps=generated_steps)


def distillation_rows(engine, model, queries: list[str], doc_ids: list[str], texts: list[str],
                      per_query: int = DISTILL_CANDIDATES, seed: int = 0, one_sided=None) -> np.ndarray:
    """Exact scores (by `model`) of `queries` on `per_query` candidate documents each, NaN elsewhere:
    distillation data beyond the anchor rows at `per_query` calls a query instead of one per document.
    Candidates: three quarters the top by `one_sided`'s vectors (a copy already distilled on the anchor rows: its
    top holds most of the exact top 10, and its mistakes are what the next training round must see; default:
    the model's own vectors), an eighth the hybrid top, the rest random documents."""
    rows = np.full((len(queries), len(doc_ids)), np.nan, dtype=np.float32)
    if not queries:
        return rows
    reader = model if one_sided is None else one_sided
    column = {doc_id: i for i, doc_id in enumerate(doc_ids)}
    document_vectors = reader.segment_vectors(texts, side=1)
    query_vectors = reader.segment_vectors(queries, side=0)
    rng = np.random.default_rng(seed)
    per_query = min(per_query, len(doc_ids))
    for i, query in enumerate(queries):
        own = best_unscored(document_vectors @ query_vectors[i], {}, None, per_query * 3 // 4) \
            if document_vectors is not None else []
        hybrid = [column[h.doc_id] for h in engine.search(SearchRequest(query=query, limit=per_query // 8,
                                                                        syntax=False), hydrate=False).hits
                  if h.doc_id in column]
        candidates = list(dict.fromkeys(own + hybrid))
        taken = set(candidates)
        candidates += [j for j in rng.permutation(len(doc_ids)).tolist() if j not in taken][: per_query - len(taken)]
        rows[i, candidates] = model.score(query, [texts[j] for j in candidates])
    return rows


def publish(engine, rows: np.ndarray, doc_ids: list[str], texts: list[str], anchor_queries: list[str], model,
            seconds: float, seq: int, distill_steps: int | None = None, distilled: Path | None = None,
            distill_queries: Sequence[str] = (), distill_rows: np.ndarray | None = None, first=None,
            further_steps: int | None = None, generated_queries: Sequence[str] = (),
            generated_rows: np.ndarray | None = None, generated_steps: int | None = None,
            distilled_second: Path | None = None, **extra) -> dict:
    """Write exact anchor rows (scored by `model` up to store sequence `seq`) as the store's live CUR index,
    with the documents' dense vectors and the model's own document vectors (`texts`: the documents' texts), read
    by a copy distilled on the rows when the model has one-sided vectors and `distill_steps` is not 0
    (`distilled`: that copy's layers saved by an earlier run on the same rows, reused instead of training).
    `distill_queries`: further training queries. The copy distilled on the anchor rows picks their candidates
    (distillation_rows; or their partial rows are given as `distill_rows`), then trains `distill_steps` more
    on the anchor rows and theirs together (`further_steps`, default `distill_steps`; `first`: that copy distilled on
    the anchor rows, when already made). `generated_queries` (sentence_queries; candidates and rows likewise) make
    two copies: the first trains `generated_steps` (default `further_steps`) on all of the queries, and the copy
    trained on the `distill_queries` without them (when there are any) stays beside it as the second
    (`distilled_second` when saved), see query_row."""
    version = engine.indexes["cur"].dirs.new_version()
    vectors = _vectors(engine, doc_ids)
    steps = distill.STEPS if distill_steps is None else distill_steps
    further_steps = steps if further_steps is None else further_steps
    generated_steps = further_steps if generated_steps is None else generated_steps
    copies, distill_seconds = {"cross": model}, 0.0
    if steps and model.head == "segment-cosine":
        started = time.perf_counter()
        if distilled is not None:
            copies["cross"] = distill.load(model.model_dir, model.max_tokens, distilled)
            if distilled_second is not None:
                copies["cross-second"] = distill.load(model.model_dir, model.max_tokens, distilled_second)
        else:
            stage_one = first if first is not None else distill.distil(model.model_dir, model.max_tokens,
                                                                       anchor_queries, texts, rows, steps)
            if distill_queries and distill_rows is None:
                distill_rows = distillation_rows(engine, model, list(distill_queries), doc_ids, texts,
                                                 one_sided=stage_one)
            if generated_queries and generated_rows is None:
                generated_rows = distillation_rows(engine, model, list(generated_queries), doc_ids, texts,
                                                   one_sided=stage_one)
            trained = stage_one
            if distill_queries:
                trained = distill.distil(model.model_dir, model.max_tokens, anchor_queries + list(distill_queries),
                                         texts, np.concatenate([rows, distill_rows]), further_steps, start=stage_one)
            if generated_queries:
                if trained is not stage_one:
                    copies["cross-second"] = trained
                parts = [p for p in [rows, distill_rows if distill_queries else None, generated_rows] if p is not None]
                trained = distill.distil(model.model_dir, model.max_tokens,
                                         anchor_queries + list(distill_queries) + list(generated_queries), texts,
                                         np.concatenate(parts), generated_steps, start=stage_one)
            copies["cross"] = trained
            distill_seconds = time.perf_counter() - started
        for name, copy in copies.items():
            distill.save(copy, version / STUDENTS[name])
    else:
        steps = 0
    started = time.perf_counter()
    cross = {name: copy.segment_vectors(texts, side=1) for name, copy in copies.items()}
    vector_seconds = time.perf_counter() - started
    CurIndex.write(version, rows, doc_ids, anchor_queries, item_anchor_sets(len(doc_ids), vectors),
                   {"dense": vectors, **cross})

    def calls(partial: np.ndarray | None) -> int:
        return int((~np.isnan(partial)).sum()) if steps and partial is not None else 0

    params = {"kind": "cur", "anchor_queries": len(anchor_queries), "documents": len(doc_ids),
              "build_calls": len(anchor_queries) * len(doc_ids), "build_seconds": round(seconds, 1),
              "distill_steps": steps, "distill_seconds": round(distill_seconds, 1),
              "further_steps": further_steps if distill_queries and steps else 0,
              "distill_queries": len(distill_queries) if steps else 0, "distill_calls": calls(distill_rows),
              "generated_queries": len(generated_queries) if steps else 0, "generated_calls": calls(generated_rows),
              "generated_steps": generated_steps if generated_queries and steps else 0,
              "copies": len(copies) if steps else 0,
              "vector_passes": sum(len(doc_ids) for v in cross.values() if v is not None),
              "vector_seconds": round(vector_seconds, 1),
              "max_tokens": model.max_tokens, "store_seq": seq, "reranker": str(model.model_dir.resolve()), **extra}
    engine.indexes["cur"].dirs.publish(version, params)
    return params


def refresh(engine) -> int:
    """Bring the CUR index up to the store: score new or changed documents against the anchor queries only."""
    cur = engine.cur
    if cur is None:
        return 0
    changes = list(engine.store.changes_since(int(cur.params.get("store_seq", 0))))
    if not changes:
        return 0
    seq = max(c.seq for c in changes)
    changed = {c.doc_id for c in changes}
    alive = {d.id for d in engine.store.documents()}
    keep = alive - changed
    new_ids = sorted(changed & alive)
    version = engine.indexes["cur"].dirs.new_version()
    model = engine.reranker
    texts = _texts(engine, new_ids)
    new_vectors = {"dense": _vectors(engine, new_ids)}
    for name in _copies(cur):
        new_vectors[name] = one_sided_model(cur, model, name).segment_vectors(texts, side=1)
    params = cur.extended(version, model.score, keep, new_ids, texts, new_vectors)
    engine.indexes["cur"].dirs.publish(version, {**params, "store_seq": seq})
    return len(changes)


def search(engine, backend, parsed: ParsedQuery, request: SearchRequest, known: set[str] | None
           ) -> tuple[list[Hit], int, int]:
    """(hits, total, cross-encoder calls) for one query."""
    cur, model = engine.cur, engine.reranker
    if cur is None or model is None:
        raise CeKnnUnavailable("mode=ce-knn needs a cross-encoder k-NN index: run `jiansuo cur` on this store")
    text = parsed.words
    if not text:
        return [], 0, 0
    allowed = None
    if _constrained(parsed, request):
        keep = backend.satisfying(parsed, request, None, known)  # every document: no id set to match
        allowed = np.array([d in keep for d in cur.doc_ids], dtype=bool)
    calls = 0

    def score_items(items: np.ndarray) -> np.ndarray:
        nonlocal calls
        calls += len(items)
        return model.score(text, _texts(engine, [cur.doc_ids[i] for i in items]))

    count = max(1, request.budget // ROUNDS)
    # the retriever's top `budget`: what rerank at this budget would score, and the retrieval scores it blends
    first = engine.search(replace(request, mode="", offset=0, limit=max(count, request.budget), rerank=0,
                                  sort="relevance"), hydrate=False)  # BM25 or hybrid
    retrieved = {cur.column[h.doc_id]: h.score for h in first.hits if h.doc_id in cur.column}
    seeds = list(retrieved)[:count]
    candidates = int(allowed.sum()) if allowed is not None else len(cur.doc_ids)
    row = None
    if len(_copies(cur)) < request.budget < candidates:
        row, passes = query_row(cur, model, text)
        calls += passes  # the query's own forward passes
    if row is not None:
        seeds = interleaved(seeds, best_unscored(row, {}, allowed, count))
    retrieval = retrieval_scores(len(cur.doc_ids), retrieved)
    # Engine.search holds numpy's BLAS to one thread while algebra and model calls alternate (threads.py)
    top, exact = cur.search(score_items, request.budget - calls, request.offset + request.limit,
                            method="adaptive", anchor_method="retriever", rounds=ROUNDS, allowed=allowed,
                            seeds=seeds, vector_weights=VECTOR_WEIGHTS, query_rows=row,
                            query_row_weight=QUERY_ROW_WEIGHT, round_prior=ROUND_PRIOR,
                            retrieval=retrieval if BY_SERVED_ESTIMATE else None, model_weight=model.blend)
    final = final_scores({i: v for i, v in exact.items() if allowed is None or allowed[i]}, retrieval, model.blend)
    floor = min(final.values(), default=0.0) - 1.0  # below every exact score: only approximated
    scored = sorted(final, key=lambda i: -final[i])[: request.offset + request.limit]
    shown = scored + [int(i) for i in top if int(i) not in final][: request.offset + request.limit - len(scored)]
    hits = [Hit(cur.doc_ids[i], final.get(i, floor), {"cross_encoder": exact.get(i, floor), "exact": float(i in exact)})
            for i in shown]
    return hits[request.offset :], candidates, calls


def retrieval_scores(columns: int, retrieved: dict[int, float]) -> np.ndarray:
    """Every column's retrieval score: the retriever's for its top `budget` (`retrieved`), the lowest of those for
    the rest, so that with the retriever's top as the scored set the blend below is rerank at that k."""
    scores = np.full(columns, min(retrieved.values(), default=0.0), dtype=np.float64)
    scores[list(retrieved)] = list(retrieved.values())
    return scores


def final_scores(exact: dict[int, float], retrieval: np.ndarray, weight: float) -> dict[int, float]:
    """The exactly scored documents' scores as rerank gives them: the cross-encoder's, blended with their
    retrieval scores (retrieval_scores) at the model's weight (cross_encoder.blended)."""
    items = list(exact)
    values = blended(np.array(list(exact.values()), dtype=np.float64), retrieval[items], weight)
    return dict(zip(items, values.tolist(), strict=True))


def one_sided_model(cur: CurIndex, model, name: str = "cross"):
    """What reads texts alone for the index's vector set `name`: its distilled copy of `model`, else `model`."""
    path = cur.student_paths.get(name)
    if path is None:
        return model
    if name not in cur.students:
        cur.students[name] = distill.load(model.model_dir, int(cur.params.get("max_tokens", model.max_tokens)), path)
    return cur.students[name]


def query_row(cur: CurIndex, model, text: str) -> tuple[np.ndarray | None, int]:
    """The query's own row over every document and the forward passes it took: its one-sided vector's similarity
    to the documents' (cross), or with a second distilled copy both copies' similarities, standardised and summed
    (two copies trained on different further queries err on different documents; SciFact dev: bench/results)."""
    similarities = []
    for name in _copies(cur):
        vectors = one_sided_model(cur, model, name).segment_vectors([text], side=0)
        if vectors is None:
            return None, 0
        similarities.append(cur.vectors[name] @ vectors[0])
    if len(similarities) < 2:
        return (similarities[0] if similarities else None), len(similarities)
    return np.sum([standardised(s) for s in similarities], axis=0), len(similarities)


def _copies(cur: CurIndex) -> list[str]:
    """The index's one-sided document vector sets, each read by its own copy (one query pass each)."""
    return [name for name in STUDENTS if name in cur.vectors]


def _constrained(parsed: ParsedQuery, request: SearchRequest) -> bool:
    return bool(any(c.occur in (MUST, MUST_NOT) for c in parsed.clauses) or request.date_from or request.date_to
                or request.categories or request.venue or request.tag)
