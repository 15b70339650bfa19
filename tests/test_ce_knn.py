"""mode=ce-knn end to end on a tiny cross-encoder: the CUR index on disk, its updates, budgets, filters, API."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("torch", reason="the dense extra is not installed")

from conftest import BagOfWordsEncoder  # noqa: E402

from jiansuo.engine import Engine  # noqa: E402
from jiansuo.ingest import read_path  # noqa: E402
from jiansuo.model import Document, SearchRequest  # noqa: E402
from jiansuo.rerank import ce_knn  # noqa: E402
from jiansuo.rerank.ce_knn import (  # noqa: E402
    CeKnnUnavailable,
    one_sided_model,
    sentence_queries,
    title_queries,
)
from jiansuo.retrieve.query import parse_query  # noqa: E402
from jiansuo.train.pairs import document_text  # noqa: E402

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def tiny_segment(tiny_base, tmp_path_factory):
    """The tiny model with the segment-cosine head, which also gives the cross-encoder's own text vectors."""
    folder = tmp_path_factory.mktemp("tiny-segment")
    shutil.copytree(tiny_base, folder, dirs_exist_ok=True)
    (folder / "jiansuo.json").write_text(json.dumps({"head": "segment-cosine", "max_tokens": 64}))
    return folder


@pytest.fixture
def knn_engine(tmp_path, fixtures, tiny_segment):
    """The posts and blog fixtures with a (fake, bag-of-words) dense index, so the CUR index has item vectors."""
    engine = Engine(tmp_path / "store", encoder="bow64", reranker=tiny_segment)
    engine.embedding.loaded = BagOfWordsEncoder()
    engine.add(d for d in read_path(fixtures / "posts.jsonl") if hasattr(d, "id"))
    engine.add(d for d in read_path(fixtures / "blog") if hasattr(d, "id"))
    engine.refresh()
    ce_knn.build(engine, title_queries(engine, 4), distill_steps=5)
    yield engine
    engine.close()


def exact_order(engine, query: str) -> list[str]:
    documents = list(engine.store.documents())
    scores = engine.reranker.score(query, [document_text(d) for d in documents])
    return [documents[i].id for i in np.argsort(-scores, kind="stable")]


def assert_vectors_match(engine):
    cur = engine.cur
    assert np.allclose(cur.vectors["dense"], engine.dense.document_vectors(cur.doc_ids))
    texts = [document_text(engine.get(d)) for d in cur.doc_ids]
    one_sided = one_sided_model(cur, engine.reranker)
    assert one_sided is not engine.reranker  # the distilled copy
    assert np.allclose(cur.vectors["cross"], one_sided.segment_vectors(texts, side=1), atol=1e-5)


def test_distillation_makes_the_one_sided_vectors_rank_as_the_pair_scores_do(tiny_segment, fixtures, tmp_path):
    from scipy.stats import spearmanr

    from jiansuo.rerank.cross_encoder import CrossEncoder
    from jiansuo.rerank.distill import distil, load, save

    texts = [document_text(d) for d in read_path(fixtures / "posts.jsonl") if hasattr(d, "id")]
    queries = ["diffusion models", "扩散模型 条件控制", "cross-encoder nearest neighbours", "hubness", "CoSENT loss",
               "matrix factorisation"]
    model = CrossEncoder(tiny_segment)
    # scores the untrained one-sided reading does not already follow (a random model reads pairs and single texts
    # alike), so that fitting them shows
    rows = np.random.default_rng(0).normal(size=(len(queries), len(texts))).astype(np.float32)

    def agreement(one_sided):
        products = one_sided.segment_vectors(queries, side=0) @ one_sided.segment_vectors(texts, side=1).T
        return np.mean([spearmanr(p, r)[0] for p, r in zip(products, rows, strict=True)])

    student = distil(tiny_segment, model.max_tokens, queries, texts, rows, steps=50, learning_rate=3e-3)
    assert agreement(student) > agreement(model) + 0.3
    before = {n: p.detach().clone() for n, p in model.model.named_parameters()}
    assert all(np.allclose(before[n].numpy(), p.detach().numpy())  # the embeddings stay as they were
               for n, p in student.model.named_parameters() if "embeddings" in n)
    partial = rows.copy()
    partial[:, ::2] = np.nan  # queries scored on some documents only: trained on those, no NaN in the model
    half = distil(tiny_segment, model.max_tokens, queries, texts, partial, steps=50, learning_rate=3e-3)
    assert all(np.isfinite(p.detach().numpy()).all() for p in half.model.parameters())
    assert agreement(half) > agreement(model) + 0.1
    kept = student.segment_vectors(texts, 1)
    assert np.allclose(distil(tiny_segment, model.max_tokens, queries, texts, rows, steps=0, start=student)
                       .segment_vectors(texts, 1), kept, atol=1e-6)  # training goes on from the copy given
    distil(tiny_segment, model.max_tokens, queries, texts, rows, steps=3, learning_rate=3e-3, start=student)
    assert np.allclose(student.segment_vectors(texts, 1), kept, atol=1e-6)  # ... which is left as it was
    save(student, tmp_path / "student.pt")  # only the trained layers; loading puts them on the base model
    loaded = load(tiny_segment, model.max_tokens, tmp_path / "student.pt")
    assert np.allclose(loaded.segment_vectors(texts, 1), student.segment_vectors(texts, 1), atol=1e-6)


def test_the_models_own_vectors_are_unit_and_logit_heads_have_none(tiny_base, tiny_segment):
    from jiansuo.rerank.cross_encoder import CrossEncoder

    model = CrossEncoder(tiny_segment)
    queries, documents = model.segment_vectors(["CUR 分解"], side=0), model.segment_vectors(["CUR 分解", "b"], side=1)
    assert queries.shape == (1, 32) and documents.shape == (2, 32)
    assert np.allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(queries[0], documents[0])  # the same text read as a query or as a document
    assert CrossEncoder(tiny_base).segment_vectors(["a"], side=1) is None


def test_further_distillation_queries_are_scored_on_candidates_only(knn_engine):
    from jiansuo.rerank.ce_knn import distillation_rows

    n = knn_engine.store.count()
    doc_ids = [d.id for d in knn_engine.store.documents()]
    texts = [document_text(knn_engine.get(d)) for d in doc_ids]
    rows = distillation_rows(knn_engine, knn_engine.reranker, ["diffusion", "hubness"], doc_ids, texts, per_query=5)
    assert rows.shape == (2, n) and (~np.isnan(rows)).sum(1).tolist() == [5, 5]
    scored = np.flatnonzero(~np.isnan(rows[1]))
    assert np.allclose(rows[1, scored], knn_engine.reranker.score("hubness", [texts[i] for i in scored]), atol=1e-5)
    reader = one_sided_model(knn_engine.cur, knn_engine.reranker)  # the copy distilled on the anchor rows
    mined = distillation_rows(knn_engine, knn_engine.reranker, ["hubness"], doc_ids, texts, per_query=8,
                              one_sided=reader)
    nearest = np.argsort(-(reader.segment_vectors(texts, 1) @ reader.segment_vectors(["hubness"], 0)[0]))[:6]
    assert not np.isnan(mined[0, nearest]).any()  # three quarters of the candidates: that copy's own top
    anchors = title_queries(knn_engine, 3)
    assert len(title_queries(knn_engine, 2, exclude=set(anchors))) == 2
    assert not set(title_queries(knn_engine, 2, exclude=set(anchors))) & set(anchors)
    params = ce_knn.build(knn_engine, anchors, distill_steps=3, distill_queries=["diffusion"],
                                  further_steps=2)
    assert params["distill_queries"] == 1 and params["distill_calls"] == min(200, n)
    assert (params["distill_steps"], params["further_steps"]) == (3, 2)
    assert "cross" in knn_engine.cur.student_paths


def test_sentence_queries_train_a_second_copy_whose_similarities_join_the_query_row(knn_engine):
    from jiansuo.rerank.ce_knn import query_row
    from jiansuo.rerank.cur import standardised

    sentences = sentence_queries(knn_engine, 2)
    params = ce_knn.build(knn_engine, title_queries(knn_engine, 3), distill_steps=2, distill_queries=["diffusion"],
                                  further_steps=1, generated_queries=sentences, generated_steps=2)
    n = knn_engine.store.count()
    assert (params["copies"], params["generated_queries"], params["generated_steps"]) == (2, len(sentences), 2)
    assert params["generated_calls"] == len(sentences) * min(200, n)
    cur = knn_engine.cur
    assert set(cur.student_paths) == {"cross", "cross-second"} and cur.vectors["cross-second"].shape[0] == n
    first, second = (one_sided_model(cur, knn_engine.reranker, name) for name in ("cross", "cross-second"))
    assert first is not second
    row, passes = query_row(cur, knn_engine.reranker, "hubness")
    own = [cur.vectors[name] @ copy.segment_vectors(["hubness"], 0)[0]
           for name, copy in (("cross", first), ("cross-second", second))]
    assert passes == 2 and np.allclose(row, standardised(own[0]) + standardised(own[1]), atol=1e-4)
    page = knn_engine.search(SearchRequest(query="hubness", mode="ce-knn", budget=6, limit=3))
    assert page.hits and page.timings["cross_encoder_calls"] <= 6
    knn_engine.add([Document(id="new1", title="CUR decomposition", summary="anchor items and anchor queries")])
    knn_engine.refresh()
    assert ce_knn.refresh(knn_engine) == 1
    cur = knn_engine.cur
    column = cur.doc_ids.index("new1")
    text = document_text(knn_engine.get("new1"))
    assert set(cur.student_paths) == {"cross", "cross-second"}  # the update keeps both copies and both vector sets
    assert np.allclose(cur.vectors["cross-second"][column],
                       one_sided_model(cur, knn_engine.reranker, "cross-second").segment_vectors([text], 1)[0],
                       atol=1e-5)


def test_the_index_holds_anchor_rows_for_every_document(knn_engine):
    cur = knn_engine.cur
    n = knn_engine.store.count()
    assert cur.rows.shape == (4, n) and sorted(cur.doc_ids) == sorted(d.id for d in knn_engine.store.documents())
    assert cur.params["build_calls"] == 4 * n and (cur.folder / "params.json").exists()
    expected = knn_engine.reranker.score(cur.anchor_queries[0], [document_text(knn_engine.get(d)) for d in cur.doc_ids])
    assert np.allclose(cur.rows[0], expected, atol=1e-5)
    assert_vectors_match(knn_engine)


def test_with_the_whole_corpus_as_budget_it_is_the_exact_top_k(knn_engine):
    n = knn_engine.store.count()
    page = knn_engine.search(SearchRequest(query="相似度 检索 models", mode="ce-knn", budget=n, limit=3))
    assert [h.doc_id for h in page.hits] == exact_order(knn_engine, "相似度 检索 models")[:3]
    assert page.timings["cross_encoder_calls"] == n and page.total == n


def test_a_blended_model_lists_what_rerank_lists_when_the_budget_is_the_corpus(knn_engine):
    """A model tuned to blend its score with the retrieval score is served blended by ce-knn too: scoring every
    document, it lists what rerank of the whole retrieved list does (and not the model's own order)."""
    model, n, query = knn_engine.reranker, knn_engine.store.count(), "相似度 检索 models"
    model.blend = 0.5
    try:
        page = knn_engine.search(SearchRequest(query=query, mode="ce-knn", budget=n, limit=5))
        reranked = knn_engine.search(SearchRequest(query=query, rerank=n, limit=5))
    finally:
        model.blend = 1.0
    listed = [h.doc_id for h in page.hits]
    assert listed == [h.doc_id for h in reranked.hits]
    assert listed != exact_order(knn_engine, query)[:5]


def test_sorted_by_date_it_lists_what_hybrid_lists_with_no_model_calls(knn_engine):
    request = SearchRequest(query="models", mode="ce-knn", budget=6, sort="date", limit=10)
    page = knn_engine.search(request)
    hybrid = knn_engine.search(replace(request, mode="hybrid"))
    days = [h.document.date for h in page.hits if h.document and h.document.date]
    assert [h.doc_id for h in page.hits] == [h.doc_id for h in hybrid.hits] and days == sorted(days, reverse=True)
    assert "cross_encoder_calls" not in page.timings and len(page.hits) > 1


def test_a_budget_caps_the_model_calls(knn_engine):
    page = knn_engine.search(SearchRequest(query="cross-encoder", mode="ce-knn", budget=3, limit=2))
    assert page.timings["cross_encoder_calls"] <= 3 and len(page.hits) == 2


def test_filters_and_exclusions_hold(knn_engine):
    everything = {d.id: d for d in knn_engine.store.documents()}
    category = next(c for d in everything.values() for c in d.categories)
    page = knn_engine.search(SearchRequest(query="models", mode="ce-knn", categories=category, budget=50))
    assert page.hits and all(category in everything[h.doc_id].categories for h in page.hits)
    assert page.total == sum(category in d.categories for d in everything.values())
    excluded = next(w for d in everything.values() for w in d.title.lower().split()
                    if w.isascii() and w.isalpha() and len(w) > 4)
    request = SearchRequest(query=f"models -{excluded}", mode="ce-knn", budget=50)
    parsed = parse_query(request.query)
    allowed = knn_engine.keyword.satisfying(parsed, request, list(everything))
    assert allowed == knn_engine.keyword.satisfying(parsed, request, None)  # None: every indexed document
    assert 0 < len(allowed) < len(everything)
    page = knn_engine.search(request)
    assert page.hits and {h.doc_id for h in page.hits} <= allowed


def test_new_documents_extend_the_rows_and_deleted_ones_leave(knn_engine):
    before = knn_engine.cur
    anchors_before = {m: {size: [before.doc_ids[i] for i in items] for size, items in sets.items()}
                      for m, sets in before.anchor_items.items()}
    knn_engine.add([Document(id="new1", title="CUR decomposition", summary="anchor items and anchor queries")])
    gone = next(iter(knn_engine.cur.doc_ids))
    knn_engine.delete([gone])
    knn_engine.refresh()
    assert ce_knn.refresh(knn_engine) == 2
    cur = knn_engine.cur
    assert "new1" in cur.doc_ids and gone not in cur.doc_ids
    column = cur.doc_ids.index("new1")
    expected = knn_engine.reranker.score(cur.anchor_queries[1], [document_text(knn_engine.get("new1"))])
    assert np.isclose(cur.rows[1, column], expected[0], atol=1e-5)
    assert cur.params["last_update"]["calls"] == 4
    assert_vectors_match(knn_engine)  # still aligned with the columns
    for method, sets in cur.anchor_items.items():  # anchor sets kept (by document), the deleted one replaced
        for size, items in sets.items():
            assert len(set(items)) == len(items) == len(anchors_before[method][size])
            assert all(0 <= i < len(cur.doc_ids) for i in items)
            assert {cur.doc_ids[i] for i in items} >= set(anchors_before[method][size]) - {gone}
    n = knn_engine.store.count()
    page = knn_engine.search(SearchRequest(query="anchor queries", mode="ce-knn", budget=n, limit=n))
    assert {h.doc_id for h in page.hits} == {d.id for d in knn_engine.store.documents()}


def test_an_update_that_only_deletes_keeps_the_vectors_aligned(knn_engine):
    gone = knn_engine.cur.doc_ids[0]
    knn_engine.delete([gone])
    knn_engine.refresh()
    assert ce_knn.refresh(knn_engine) == 1
    assert gone not in knn_engine.cur.doc_ids and knn_engine.cur.params["last_update"]["calls"] == 0
    assert_vectors_match(knn_engine)


def test_without_an_index_it_says_what_to_run(posts_engine, fixtures):
    seq, count = posts_engine.store.seq, posts_engine.store.count()
    with pytest.raises(CeKnnUnavailable, match="jiansuo cur"):
        posts_engine.search(SearchRequest(query="models", mode="ce-knn"))
    assert (posts_engine.store.seq, posts_engine.store.count()) == (seq, count)  # untouched by the refusal
    assert posts_engine.cur is None


def test_api_and_page(knn_engine):
    from fastapi.testclient import TestClient

    from jiansuo.web.app import create_app

    client = TestClient(create_app(knn_engine))
    body = client.get("/api/search", params={"q": "models", "mode": "ce-knn", "budget": "10"}).json()
    assert body["hits"] and body["timings_ms"]["cross_encoder_calls"] <= 10
    assert client.get("/api/search", params={"q": "models", "mode": "ce-knn", "budget": "5"}).status_code == 400
    page = client.get("/", params={"q": "models", "mode": "ce-knn"})
    assert page.status_code == 200 and 'value="ce-knn" selected' in page.text and 'name="budget"' in page.text


def test_the_cli_builds_updates_and_searches(tmp_path, fixtures, tiny_base):
    from test_cli import jiansuo

    store = tmp_path / "store"
    jiansuo("index", fixtures / "posts.jsonl", "--store", store, "--progress", "none")
    refused = jiansuo("search", "models", "--mode", "ce-knn", "--store", store, check=False)
    assert refused.returncode == 2 and "jiansuo cur" in refused.stderr
    built = jiansuo("cur", "--reranker", tiny_base, "--count", 3, "--store", store)
    assert "3 anchor queries x" in built.stderr
    found = jiansuo("search", "models", "--mode", "ce-knn", "--budget", 20, "--json", "--store", store)
    data = json.loads(found.stdout)
    assert data["hits"] and data["timings_ms"]["cross_encoder_calls"] <= 20
    jiansuo("index", fixtures / "blog", "--store", store, "--progress", "none")
    updated = jiansuo("cur", "--store", store)  # reuses the cross-encoder it was built with
    assert "up to date" in updated.stderr


def test_the_cli_distils_on_further_titles_and_sentences(tmp_path, fixtures, tiny_segment):
    from test_cli import jiansuo

    store = tmp_path / "store"
    jiansuo("index", fixtures / "posts.jsonl", "--store", store, "--progress", "none")
    built = jiansuo("cur", "--reranker", tiny_segment, "--count", 2, "--anchor-queries", "titles", "--distill-steps", 2,
                    "--distill-titles", 2, "--distill-sentences", 1, "--further-steps", 1, "--sentence-steps", 1,
                    "--store", store)
    assert "distillation: 2 further queries" in built.stderr and "1 sentence queries" in built.stderr
    params = json.loads(next((store / "indexes" / "cur").glob("v*/params.json")).read_text())
    assert (params["distill_steps"], params["further_steps"], params["copies"]) == (2, 1, 2)


def test_sentence_queries_are_claim_length_sentences_from_after_each_documents_opening(tmp_path):
    engine = Engine(tmp_path / "store")
    engine.add([
        Document("en", title="Hubness", body="Hubness is a known problem of nearest neighbours. RESULTS Centring the "
                 "vectors reduces the skew of k-occurrence by half. Too short here. (n = 12)\nWe show that local "
                 "scaling also lowers the number of hubs in every collection."),
        Document("zh", title="扩散模型", body="扩散模型是一类生成模型。条件控制让扩散模型按照文本提示生成图像。好。"),
        Document("none", title="Only a title", body="One sentence only, which is the opening one."),
    ])
    english = {"Centring the vectors reduces the skew of k-occurrence by half.",
               "We show that local scaling also lowers the number of hubs in every collection."}
    chinese = "条件控制让扩散模型按照文本提示生成图像。"
    for seed in range(4):
        picked = sentence_queries(engine, 10, seed=seed)
        assert len(picked) == 2 and chinese in picked and set(picked) - {chinese} <= english
    assert len(sentence_queries(engine, 1)) == 1
    assert sentence_queries(engine, 10, exclude={chinese}) == [s for s in sentence_queries(engine, 10) if s in english]
    engine.close()
