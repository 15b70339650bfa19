"""Our tantivy BM25 against an independent implementation (bm25s, Lucene variant) on the same tokens."""

import random

import bm25s
import numpy as np
import pytest

from jiansuo.analysis import analyze
from jiansuo.engine import Engine
from jiansuo.model import Document, SearchRequest

VOCAB = [f"w{i}" for i in range(300)] + "扩散 模型 检索 矩阵 分解 相似度 损失 函数 条件 控制".split()


def zipf_corpus(count, seed):
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(VOCAB))]
    return [" ".join(rng.choices(VOCAB, weights, k=rng.randint(5, 150))) for _ in range(count)]


def bm25s_scores(texts, query):
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index([analyze(t) for t in texts], show_progress=False)
    # bm25s's Lucene variant drops the constant (k1 + 1) factor of the textbook formula tantivy uses
    return retriever.get_scores(analyze(query)) * (1.2 + 1)


@pytest.fixture(scope="module")
def parity_engine(tmp_path_factory):
    texts = zipf_corpus(400, seed=7)
    engine = Engine(tmp_path_factory.mktemp("parity"), boosts={"cjk": 0.0})
    engine.add(Document(id=str(i), body=t) for i, t in enumerate(texts))
    engine.refresh()
    return engine, texts


@pytest.mark.parametrize("query", ["w3 w17 w150", "扩散 模型", "w0 w1 w2 检索", "w299 相似度"])
def test_scores_and_ranking_match_bm25s(parity_engine, query):
    engine, texts = parity_engine
    reference = bm25s_scores(texts, query)
    page = engine.search(SearchRequest(query=query, limit=50, syntax=False), hydrate=False)
    ours = {int(h.doc_id): h.score for h in page.hits}
    top_ref = list(np.argsort(-reference, kind="stable")[:50])
    # tantivy stores document lengths in one lossy byte (as Lucene does): scores agree to a few percent
    for doc in top_ref[:20]:
        assert ours.get(doc, 0.0) == pytest.approx(reference[doc], rel=0.05)
    overlap = len(set(top_ref[:10]) & set(list(ours)[:10]))
    assert overlap >= 9


def test_sparse_weights_reproduce_tantivys_scores(parity_engine):
    """The document and query sides that the Milvus backend stores give tantivy's own scores (field norms rounded
    as tantivy rounds them), not merely a close ranking."""
    from jiansuo.retrieve.bm25_weights import document_weights, query_weights, term_dimension

    engine, texts = parity_engine
    terms = [analyze(t) for t in texts]
    mean = {"body": sum(map(len, terms)) / len(terms)}
    for query in ("w3 w17 w150", "扩散 模型 w0", "w299 相似度 w299"):
        words = analyze(query)
        frequency = {term_dimension("body", w): sum(w in doc for doc in terms) for w in set(words)}
        side = query_weights({"body": words}, frequency, len(texts), {})
        page = engine.search(SearchRequest(query=query, limit=30, syntax=False), hydrate=False)
        for hit in page.hits:
            vector = document_weights({"body": terms[int(hit.doc_id)]}, mean)
            assert sum(w * vector.get(d, 0.0) for d, w in side.items()) == pytest.approx(hit.score, rel=1e-5)
