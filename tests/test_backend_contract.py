"""One contract, two backends: the embedded indexes (tantivy + numpy) and Milvus (Milvus Lite here).

Each behaviour test runs on both (pytest parametrised); the equality tests index the same documents into both
and compare what they return. Dense search uses the 64-dimension bag-of-words encoder of conftest.py, so both
backends hold identical vectors and exact search must agree exactly.
"""

from __future__ import annotations

from datetime import date

import pytest
from conftest import FIXTURES, BagOfWordsEncoder, shared_data

from jiansuo.analysis import analyze
from jiansuo.engine import Engine
from jiansuo.ingest import read_path
from jiansuo.model import Document, SearchRequest
from jiansuo.retrieve.popularity import popularity_rank

BACKENDS = ("local", "milvus")
TOPICS = ["扩散模型 条件控制 生成", "CUR 分解 交叉编码器 检索", "CoSENT 排序 损失 余弦", "旋转位置编码 相对位置",
          "diffusion models classifier guidance", "cross-encoder nearest neighbor search anchors",
          "cosine similarity ranking loss", "rotary position embedding attention"]


def corpus() -> list[Document]:
    """40 dated, labelled documents in Chinese and English (the fixtures plus generated variations)."""
    documents = [d for d in read_path(FIXTURES / "posts.jsonl") if isinstance(d, Document)]
    for i in range(40 - len(documents)):
        topic = TOPICS[i % len(TOPICS)]
        documents.append(Document(
            id=f"gen-{i:02d}", title=f"{topic.split()[0]} 笔记 {i}", body=f"{topic} 第{i}篇。" + " ".join(
                TOPICS[(i + k) % len(TOPICS)] for k in range(1 + i % 3)),
            date=date(2021, 1 + i % 12, 1 + i % 27), categories=[["cs.LG"], ["cs.IR"], ["cs.LG", "cs.IR"],
                                                                    ["cs.CL"]][i % 4],
            venue=["NeurIPS", "SIGIR", ""][i % 3], tags=[["note"], [], ["survey", "note"]][i % 3],
            language="zh" if i % 2 else "en", reads=i * 7))
    return documents


def make_engine(backend: str, folder, milvus_db) -> Engine:
    if backend == "milvus":
        pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
        pytest.importorskip("milvus_lite", reason="the milvus extra is not installed")
    engine = Engine(folder, encoder="bow64", backend=backend,
                    milvus_uri=str(milvus_db) if backend == "milvus" else None)
    engine.embedding.loaded = BagOfWordsEncoder()
    return engine


@pytest.fixture(scope="module")
def milvus_db(tmp_path_factory):
    return tmp_path_factory.mktemp("milvus") / "milvus.db"  # one Milvus Lite per module; a collection per store


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path, milvus_db):
    engine = make_engine(request.param, tmp_path / "store", milvus_db)
    engine.add(corpus())
    engine.refresh()
    yield engine
    engine.close()


def ids(engine: Engine, query: str = "", **options) -> list[str]:
    return [h.doc_id for h in engine.search(query, hydrate=False, **options).hits]


def same_dense_results(first: Engine, second: Engine, query: str) -> None:
    """Identical top 10 by exact search: the same scores rank by rank, the same documents except where two
    documents tie (equal vectors; float32 sums may order them either way)."""
    a, b = (engine.search(query, hydrate=False, mode="dense", limit=11).hits for engine in (first, second))
    assert [round(h.score, 5) for h in a] == [round(h.score, 5) for h in b], query
    for rank, (x, y) in enumerate(zip(a[:10], b[:10], strict=True)):
        tied = any(abs(h.score - x.score) < 1e-5 for j, h in enumerate(a) if j != rank)
        assert x.doc_id == y.doc_id or tied, (query, rank)


def test_the_backend_choice_is_kept_with_the_store(engine, tmp_path):
    reopened = Engine(tmp_path / "store", create=False)
    reopened.embedding.loaded = BagOfWordsEncoder()
    assert reopened.backend_kind == engine.backend_kind
    assert ids(reopened, "扩散模型", mode="bm25") == ids(engine, "扩散模型", mode="bm25")
    assert reopened.stats()["backend"]["kind"] == engine.backend_kind


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_filters_apply_inside_every_mode(engine, mode):
    documents = {d.id: d for d in corpus()}
    found = ids(engine, "检索 retrieval 扩散", mode=mode, date_from=date(2021, 3, 1), date_to=date(2021, 8, 31),
                limit=50)
    assert found and all(date(2021, 3, 1) <= documents[i].date <= date(2021, 8, 31) for i in found)
    found = ids(engine, "检索 扩散 cosine", mode=mode, categories="cs.LG -cs.IR", limit=50)  # difference
    assert found and all("cs.LG" in documents[i].categories and "cs.IR" not in documents[i].categories
                         for i in found)
    found = ids(engine, "检索 扩散 cosine", mode=mode, venue="neurips", tag="NOTE", limit=50)  # case-blind
    assert found and all(documents[i].venue == "NeurIPS" and "note" in documents[i].tags for i in found)


def test_query_syntax_requires_excludes_and_matches_phrases(engine):
    documents = {d.id: d for d in corpus()}
    text = {i: f"{d.title} {d.summary} {d.body}" for i, d in documents.items()}
    required = ids(engine, '"位置" 检索', mode="bm25", limit=50)  # a quoted word is required
    assert required and all("位置" in text[i] for i in required)
    excluded = ids(engine, "检索 -扩散", mode="bm25", limit=50)
    assert excluded and all("扩散" not in text[i] for i in excluded)
    phrase = ids(engine, '"classifier guidance"', mode="bm25", limit=50)
    assert phrase and all("classifier guidance" in text[i].casefold() for i in phrase)
    either = set(ids(engine, '"rotary position" OR "nearest neighbor"', mode="bm25", limit=50))
    assert either == {i for i, t in text.items() if "rotary position" in t.casefold()
                      or "nearest neighbor" in t.casefold()}


def test_a_query_that_is_a_papers_identifier_lists_that_paper_first(engine):
    engine.add([Document(id="yadav2022anncur", title="Efficient k-NN search for cross-encoders",
                         url="https://arxiv.org/abs/2210.12579", body="CUR decomposition of the score matrix."),
                Document(id="sbert", title="Sentence embeddings", body="Siamese networks.",
                         metadata={"doi": "10.18653/v1/D19-1410"})])
    engine.refresh()
    for query in ("2210.12579", "arXiv:2210.12579v2", "https://arxiv.org/abs/2210.12579", "yadav2022anncur"):
        for mode in ("bm25", "hybrid"):
            assert ids(engine, query, mode=mode)[:1] == ["yadav2022anncur"], (query, mode)
    for query in ("10.18653/v1/D19-1410", "doi:10.18653/v1/d19-1410", "https://doi.org/10.18653/v1/D19-1410"):
        assert ids(engine, query, mode="bm25")[:1] == ["sbert"], query


def test_paging_totals_are_stable_and_pages_join_up(engine):
    for mode in ("bm25", "hybrid"):
        first = engine.search("检索 扩散 位置", hydrate=False, mode=mode, limit=5)
        second = engine.search("检索 扩散 位置", hydrate=False, mode=mode, limit=5, offset=5)
        whole = engine.search("检索 扩散 位置", hydrate=False, mode=mode, limit=10)
        assert first.total == second.total == whole.total > 10
        assert [h.doc_id for h in first.hits + second.hits] == [h.doc_id for h in whole.hits]


def test_sort_by_date_and_by_popularity(engine):
    documents = {d.id: d for d in corpus()}
    for mode in ("bm25", "hybrid"):
        found = ids(engine, "扩散", mode=mode, sort="date", limit=20)
        days = [documents[i].date for i in found]
        assert len(found) >= 10 and days == sorted(days, reverse=True)
    listed = ids(engine, "", sort="date", limit=40)  # the home page: everything, newest first
    assert len(listed) == 40 and [documents[i].date or date.min for i in listed] == sorted(
        (d.date or date.min for d in documents.values()), reverse=True)
    popular = ids(engine, "笔记", mode="bm25", sort="popularity", limit=10)
    ranks = [popularity_rank(documents[i].reads, documents[i].date.toordinal()) for i in popular]
    assert len(popular) == 10 and ranks == sorted(ranks, reverse=True)


def test_a_title_holding_every_word_of_the_query_is_lifted_alike_on_both_backends(tmp_path, milvus_db):
    """数据透视表 筛选: the page titled 筛选数据透视表 leads, though the longer word's matches in two shorter pages
    outweigh its own without the title_all boost; both backends give the same scores."""
    documents = [Document(id="update", title="更新数据透视表", body="更新数据透视表的数据。数据透视表 数据透视表"),
                 Document(id="delete", title="删除数据透视表", body="删除数据透视表。数据透视表"),
                 Document(id="filter", title="筛选数据透视表", body="筛选数据透视表：" + "选择 字段 条件 确定 " * 8),
                 *[Document(id=f"f{i}", title=f"筛选 {i}", body="筛选 自动筛选 标准筛选") for i in range(5)]]
    scores = {}
    for backend in BACKENDS:
        engine = make_engine(backend, tmp_path / backend, milvus_db)
        engine.add(documents)
        engine.refresh()
        hits = engine.search("数据透视表 筛选", mode="bm25", hydrate=False, limit=3).hits
        scores[backend] = [(h.doc_id, h.score) for h in hits]
        assert [h.doc_id for h in hits] == ["filter", "update", "delete"], backend
        engine.boosts = {**engine.boosts, "title_all": 0.0}
        assert ids(engine, "数据透视表 筛选", mode="bm25", limit=3) == ["update", "delete", "filter"], backend
    assert [s for _, s in scores["local"]] == pytest.approx([s for _, s in scores["milvus"]], rel=1e-4)


def test_a_sorted_list_holds_every_match_beyond_the_semantic_depth(engine):
    """More than the 100 documents hybrid search fuses, the newest stored last: the home page still lists the
    newest first, and a query sorted by date pages through all its keyword matches, none twice."""
    engine.add(Document(id=f"later-{i:03d}", title=f"扩散模型 补记 {i}", body="扩散模型 条件控制 笔记",
                        date=date(2019, 1, 1) if i < 130 else date(2026, 1, 1 + i - 130)) for i in range(135))
    engine.refresh()
    newest = [f"later-{i:03d}" for i in range(134, 129, -1)]
    assert ids(engine, "", sort="date", limit=5) == newest
    assert ids(engine, "扩散模型", sort="date", limit=5) == newest
    matches = set(ids(engine, '"扩散模型"', mode="bm25", limit=500))
    paged = [i for offset in range(0, 200, 20) for i in ids(engine, "扩散模型", sort="date", limit=20, offset=offset)]
    assert len(paged) == len(set(paged)) == len(matches) > 135 and set(paged) == matches
    assert engine.search("扩散模型", hydrate=False, sort="date").total == len(paged)


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_sorted_list_requires_every_word(engine, mode):
    """Ranked, a document with one word of several may follow the good ones; sorted by date it would lead."""
    engine.add([Document(id="half", title="模型 压缩", body="模型 剪枝 the", date=date(2030, 1, 1))])
    engine.refresh()
    assert "half" in ids(engine, "扩散模型", mode=mode, limit=100)
    by_date = ids(engine, "扩散模型 the", mode=mode, sort="date", limit=100)
    phrase = ids(engine, '"扩散模型"', mode="bm25", sort="date", limit=100)
    assert by_date and "half" not in by_date and by_date == phrase
    assert ids(engine, "模型 剪枝", mode=mode, sort="date", limit=1) == ["half"]


def test_deletes_and_updates_reach_every_mode(engine):
    target = ids(engine, "旋转位置编码", mode="bm25")[0]
    engine.delete([target])
    engine.refresh()
    for mode in ("bm25", "dense", "hybrid"):
        assert target not in ids(engine, "旋转位置编码 相对位置", mode=mode, limit=50)
    changed = Document(id="gen-00", title="蒸馏 笔记", body="知识蒸馏 教师 学生 模型 distillation teacher student",
                       date=date(2025, 1, 1), categories=["cs.LG"])
    engine.add([changed])
    engine.refresh()
    assert ids(engine, "distillation teacher", mode="bm25")[0] == "gen-00"
    assert ids(engine, "distillation teacher student", mode="dense")[0] == "gen-00"
    assert "gen-00" not in ids(engine, '"diffusion models"', mode="bm25", limit=50)
    assert engine.keyword.indexed_seq == engine.store.seq


def test_facets_and_nearest_days(engine):
    facets = engine.facets(SearchRequest(query=""))
    counts = dict(facets["category"])
    documents = corpus()
    assert counts["cs.LG"] == sum("cs.LG" in d.categories for d in documents)
    assert dict(facets["venue"])["SIGIR"] == sum(d.venue == "SIGIR" for d in documents)
    engine.add([Document(id="year-only", title="A paper from a list", date=date(1959, 1, 1),
                         metadata={"date_precision": "year"})])
    engine.refresh()
    months = dict(engine.facets(SearchRequest(query=""))["month"])
    assert months["1959"] == 1 and "1959-01" not in months  # a year-only date counts as its year
    earlier, later = engine.nearest_days(date(2021, 6, 15))
    days = sorted({d.date for d in documents if d.date})
    assert earlier == max(d for d in days if d < date(2021, 6, 15))
    assert later == min(d for d in days if d > date(2021, 6, 15))


def test_a_store_restarted_mid_update_catches_up(engine, tmp_path, monkeypatch):
    """Documents stored but only partly indexed when the process died: the next refresh completes the index."""
    new = [Document(id=f"late-{i}", title=f"量子 退火 {i}", body="量子退火 优化 quantum annealing",
                    date=date(2024, 2, 1 + i)) for i in range(8)]
    engine.add(new)
    backend = engine.keyword
    real_apply = type(backend).apply

    def dies_halfway(self, changes, *args, **kwargs):
        changes = list(changes)
        real_apply(self, changes[:3], *args, **kwargs)  # part of the batch reaches the index …
        raise KeyboardInterrupt  # … then the process is killed before it records the rest

    monkeypatch.setattr(type(backend), "apply", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        if engine.backend_kind == "milvus":
            engine.refresh()
        else:
            backend.apply(list(engine.store.changes_since(backend.indexed_seq)))
    monkeypatch.setattr(type(backend), "apply", real_apply)
    restarted = Engine(tmp_path / "store")
    restarted.embedding.loaded = BagOfWordsEncoder()
    restarted.refresh()
    assert sorted(ids(restarted, "quantum annealing", mode="bm25", limit=20)) == sorted(d.id for d in new)
    assert sorted(ids(restarted, "量子退火 quantum annealing", mode="dense", limit=8)) == sorted(d.id for d in new)


def both_backends(tmp_path, milvus_db, documents) -> tuple[Engine, Engine]:
    """An embedded engine and a Milvus one, each holding `documents` and indexed."""
    local = make_engine("local", tmp_path / "local", milvus_db)
    remote = make_engine("milvus", tmp_path / "remote", milvus_db)
    for engine in (local, remote):
        engine.add(documents)
        engine.refresh()
    return local, remote


def test_both_backends_return_the_same_results(tmp_path, milvus_db):
    local, remote = both_backends(tmp_path, milvus_db, corpus())
    for query in [*TOPICS, "检索", "位置 -旋转", '"nearest neighbor"']:
        bm25 = ids(local, query, mode="bm25"), ids(remote, query, mode="bm25")
        assert len(set(bm25[0]) & set(bm25[1])) >= min(9, len(bm25[0])), (query, bm25)
        same_dense_results(local, remote, query)
        assert local.search(query, mode="bm25").total == remote.search(query, mode="bm25").total


def test_scores_stay_those_of_tantivy_after_updates_that_move_mean_lengths(tmp_path, milvus_db):
    """Milvus rows carry BM25 weights fixed at write time: once long new documents move a field's mean length
    past the threshold, the backend re-weights every row, so the scores stay exactly tantivy's."""
    local = make_engine("local", tmp_path / "local", milvus_db)
    remote = make_engine("milvus", tmp_path / "remote", milvus_db)
    longer = [Document(id=f"long-{i}", title=f"diffusion survey {i}", body=" ".join([TOPICS[i % 8]] * 30))
              for i in range(12)]
    for batch in (corpus(), longer):
        for engine in (local, remote):
            engine.add(batch)
            engine.refresh()
        for query in ("diffusion models guidance", "旋转位置编码", "ranking loss"):
            first, second = (engine.search(query, mode="bm25", hydrate=False).hits for engine in (local, remote))
            assert [h.score for h in first] == pytest.approx([h.score for h in second], rel=1e-4), query


def test_document_frequencies_agree(tmp_path, milvus_db):
    """What keywords weigh terms by: single terms from the kept counts on Milvus, tantivy's own on the embedded side."""
    local, remote = both_backends(tmp_path, milvus_db, corpus())
    found = []
    for text in ["扩散", "diffusion", "rotary", "检索", "nowhere", "cosine similarity"]:
        terms = tuple(analyze(text))
        found.append(local.keyword.document_frequency(terms))
        assert remote.keyword.document_frequency(terms) == found[-1], text
    assert min(found[:4]) > 0 and found[4] == 0


def test_a_document_scores_all_its_fields_beyond_one_fields_top_list(tmp_path, milvus_db):
    """150 documents match "alpha" more strongly in the body than the two with it in their titles, so those two
    lie outside the body's top 100; their body matches must still count, as in tantivy: "z-both" (title and body)
    ranks above "a-title" (title only; first on a tie)."""
    documents = [Document(id=f"body-{i:03d}", title=f"filler {i}", body="alpha " * 5 + f"text {i}")
                 for i in range(150)]
    documents += [Document(id="a-title", title="alpha", body="gamma " * 60),
                  Document(id="z-both", title="alpha", body="alpha " + "gamma " * 59)]
    for backend in BACKENDS:
        engine = make_engine(backend, tmp_path / backend, milvus_db)
        engine.add(documents)
        engine.refresh()
        ranked = ids(engine, "alpha", mode="bm25", limit=2)
        assert ranked == ["z-both", "a-title"], (backend, ranked)


@pytest.mark.slow
def test_both_backends_agree_on_real_research_posts(tmp_path, milvus_db):
    """312 real posts (Chinese, LaTeX), 60 queries cut from their titles: the same BM25 scores (to float32
    precision) down the top 10, so the same documents above the 10th score, and the same documents where fewer
    than 10 match."""
    source = shared_data("kexue") / "kexue.jsonl"
    documents = [d for d in read_path(source) if isinstance(d, Document)]
    local, remote = both_backends(tmp_path, milvus_db, documents)
    queries = [d.title[: 4 + i % 6] for i, d in enumerate(documents[::5])][:60]
    full = 0
    for query in queries:
        first, second = (engine.search(query, mode="bm25").hits for engine in (local, remote))
        assert [h.score for h in first] == pytest.approx([h.score for h in second], rel=1e-4), query
        if len(first) < 10:
            assert {h.doc_id for h in first} == {h.doc_id for h in second}, query
        else:
            full += 1
            above = {h.doc_id for h in first if h.score > first[-1].score * (1 + 1e-4)}
            assert above <= {h.doc_id for h in second}, query
    assert full >= 40
    for query in queries[:20]:
        same_dense_results(local, remote, query)
