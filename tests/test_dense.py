"""Dense retrieval, fusion and hubness plumbing, with a fake encoder whose vectors are known."""

import numpy as np
import pytest
from conftest import BagOfWordsEncoder

from jiansuo.analysis.passages import passage_source, split_passages
from jiansuo.engine import Engine
from jiansuo.ingest import read_path
from jiansuo.model import Document, Hit, SearchRequest
from jiansuo.retrieve import fusion, hubness
from jiansuo.searching import preference_scores


@pytest.fixture
def dense_engine(tmp_path, fixtures):
    engine = Engine(tmp_path / "store", encoder="bow64")
    engine.embedding.loaded = BagOfWordsEncoder()
    engine.add(d for d in read_path(fixtures / "posts.jsonl") if hasattr(d, "id"))
    engine.refresh()
    return engine


def ids(page):
    return [h.doc_id for h in page.hits]


def test_dense_index_is_built_with_readable_params(dense_engine):
    params = dense_engine.dense.params
    assert params["encoder"] == "bow64" and params["store_seq"] == dense_engine.store.seq
    assert "MaxP" in params["passage_rule"] and dense_engine.dense.num_docs() == 5


def test_modes(dense_engine):
    assert ids(dense_engine.search("hubs proximity", mode="dense"))[0] == "p5"
    assert ids(dense_engine.search("hubs proximity", mode="bm25"))[0] == "p5"
    assert ids(dense_engine.search("hubs proximity"))[0] == "p5"  # hybrid is the default with a dense index


def test_dense_filters_apply_inside_the_search(dense_engine):
    page = dense_engine.search("相似度", mode="dense", categories="cs.IR+cs.CL-cs.CY")
    assert set(ids(page)) <= {"p2", "p5"} and "p2" in ids(page)
    page = dense_engine.search("models", mode="dense", date_from=__import__("datetime").date(2022, 10, 1))
    assert set(ids(page)) <= {"p2", "p3", "p4"}


def test_required_and_excluded_clauses_hold_in_dense_mode(dense_engine):
    assert "p3" not in ids(dense_engine.search("相似度 -CoSENT", mode="dense"))
    assert set(ids(dense_engine.search("title:CoSENT 相似度", mode="hybrid"))) == {"p3"}


def test_incremental_updates_encode_only_new_text(dense_engine):
    encoder = dense_engine.embedding.loaded
    before = encoder.calls
    dense_engine.add([Document(id="n1", title="量子退火", body="quantum annealing for combinatorial optimisation")])
    dense_engine.refresh()
    assert encoder.calls - before == len(split_passages(dense_engine.get("n1")))
    assert ids(dense_engine.search("quantum annealing", mode="dense"))[0] == "n1"
    dense_engine.delete(["n1"])
    dense_engine.refresh()
    assert "n1" not in ids(dense_engine.search("quantum annealing", mode="dense"))
    calls = encoder.calls
    dense_engine.indexes["dense"].rebuild()  # unchanged passages come from the embedding cache
    assert encoder.calls == calls


def test_long_document_scores_by_its_best_passage_and_shows_it(dense_engine):
    filler = [f"第{i}段讨论无关的天气与饮食" for i in range(400)]
    topic = ["Strassen算法加速矩阵乘法", "矩阵乘法的复杂度低于立方", "Strassen把矩阵分块", "分块矩阵乘法递归"] * 3
    body = "。".join(filler[:100] + topic + filler[100:])
    dense_engine.add([Document(id="long", title="长文", body=body)])
    dense_engine.refresh()
    passages = split_passages(dense_engine.get("long"))
    assert 1 < len(passages) <= 16
    page = dense_engine.search("Strassen 矩阵乘法", mode="dense")
    assert ids(page)[0] == "long"
    excerpt = "".join(text for text, _ in page.hits[0].excerpt)
    assert "Strassen" in excerpt


def test_passages_overlap_and_cover_the_source():
    document = Document(id="d", title="T", body=" ".join(f"Sentence number {i} is here." for i in range(200)))
    passages = split_passages(document, limit=100)
    source = passage_source(document)
    assert passages[0].start == 0 and passages[-1].end >= len(source.rstrip()) - 1
    for first, second in zip(passages, passages[1:], strict=False):
        assert second.start < first.end  # overlap
    assert all(p.text.startswith("T\n") for p in passages)


def test_rrf_and_weighted_fusion_by_hand():
    a = [Hit("x", 10.0), Hit("y", 5.0), Hit("z", 0.0)]
    b = [Hit("y", 0.9), Hit("w", 0.1)]
    fused = {h.doc_id: h.score for h in fusion.rrf([a, b], k=60)}
    assert fused["y"] == pytest.approx(1 / 62 + 1 / 61) and fused["w"] == pytest.approx(1 / 62)
    weighted = {h.doc_id: h.score for h in fusion.weighted([a, b], [0.5, 0.5])}
    assert weighted == pytest.approx({"x": 0.5, "y": 0.25 + 0.5, "z": 0.0, "w": 0.0})
    no_keywords = fusion.confidence_weighted(a, b, coverage=0.0)
    assert [h.doc_id for h in no_keywords][:1] == ["y"] and {h.doc_id: h.score for h in no_keywords}["x"] == 0
    rare, common = fusion.idf_weights([1, 90], 100)
    assert rare > 4 * common > 0
    assert fusion.weighted_share([False, True], [rare, common]) == pytest.approx(common / (rare + common))
    assert fusion.weighted_share([False, True]) == 0.5 and fusion.weighted_share([]) == 0.0


def test_a_query_in_the_stores_minority_language_needs_every_term_for_full_keyword_weight(tmp_path):
    """Mostly Chinese pages and one English one: an English query half matched by the English page (one of its two
    terms) weighs its keyword list at half; a Chinese query with the same lists weighs it fully."""
    from jiansuo.searching import cross_language, fuse

    engine = Engine(tmp_path / "store")
    engine.add([Document(id="en", title="Query Wizard", body="The query wizard writes a query for you.", language="en"),
                *(Document(id=f"zh{i}", title=f"议程向导 {i}", body="议程向导帮助你写会议议程。", language="zh")
                  for i in range(3))])
    engine.refresh()
    assert engine.store.language_shares() == {"zh": 0.75, "en": 0.25}
    assert cross_language(engine, "Agenda Wizard") and not cross_language(engine, "议程 向导")
    keyword = [Hit("en", 8.0), Hit("zh1", 1.0)]
    dense = [Hit("zh0", 0.6), Hit("en", 0.35), Hit("zh1", 0.3)]
    def first(text: str) -> str:
        return fuse(engine, engine.keyword, keyword, dense, ["agenda", "wizard"], text)[0].doc_id
    assert first("议程 向导") == "en"  # the same lists, the corpus's own language: the keyword hit leads
    assert first("Agenda Wizard") == "zh0"  # English over Chinese pages: the meaning leads


def test_language_shares_are_exact_when_small_sampled_when_large_and_follow_changes(tmp_path):
    from jiansuo.store.documents import DocumentStore

    store = DocumentStore(tmp_path / "store.sqlite")
    store.upsert(Document(id=f"d{i}", title="t", body="b", language="zh" if i % 4 else "en") for i in range(400))
    assert store.language_shares() == {"zh": 0.75, "en": 0.25}
    sampled = store.language_shares(sample=200)
    assert sampled == store.language_shares(sample=200)  # the same sample while the store is unchanged
    assert abs(sampled["en"] - 0.25) < 0.1 and abs(sum(sampled.values()) - 1) < 1e-9
    store.delete([f"d{i}" for i in range(0, 400, 4)])
    assert store.language_shares() == {"zh": 1.0}


def test_hubness_measures_by_hand():
    counts = np.array([0, 0, 0, 6])
    assert hubness.robin_hood(counts) == pytest.approx(0.75)
    assert hubness.robin_hood(np.array([2, 2, 2])) == 0
    assert hubness.skewness(np.array([1, 1, 1, 10])) > 1
    items = np.eye(4, dtype=np.float32)
    hub = np.ones(4, dtype=np.float32) / 2
    items = np.vstack([items, hub])
    queries = np.eye(4, dtype=np.float32) * 0.4 + 0.3
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    before = hubness.report(queries, items, k=1)
    assert before["hubs"][0] == (4, 4)  # the centre is every query's nearest neighbour
    penalty = hubness.csls_penalty(items, queries, k=2)
    after = hubness.report(queries, items, k=1, penalty=penalty)
    assert after["robin_hood"] < before["robin_hood"]


def test_hubness_reduction_can_be_switched_on(dense_engine):
    dense_engine.hubness = True
    assert dense_engine.search("hubs proximity", mode="dense").hits[0].doc_id == "p5"


def test_related_are_the_nearest_in_meaning_with_a_dense_index(dense_engine):
    from jiansuo import searching

    related = dense_engine.related("p2")
    assert [h.doc_id for h in related] == [h.doc_id for h in searching.nearest_documents(dense_engine, "p2", 6)]
    assert len(related) == 4 and "p2" not in [h.doc_id for h in related]  # every other post, by meaning
    assert all(h.document is not None for h in related)
    assert dense_engine.related("nope") == []


def test_related_without_a_dense_index_share_the_weightiest_words(posts_engine):
    from jiansuo import searching

    plain = [h.doc_id for h in posts_engine.related("p2")]
    assert plain and plain == [h.doc_id for h in searching.sharing_words(posts_engine, posts_engine.get("p2"), 6)]
    assert searching.nearest_documents(posts_engine, "p2", 6) == []


def test_request_mode_defaults_to_bm25_without_a_dense_index(posts_engine):
    from jiansuo.searching import ModeUnavailable

    assert posts_engine.dense is None
    assert ids(posts_engine.search(SearchRequest(query="CUR")))[0] == "p2"
    for mode in ("dense", "hybrid"):  # asked for by name: refused with the reason, never answered by BM25
        with pytest.raises(ModeUnavailable, match="dense index"):
            posts_engine.search(SearchRequest(query="CUR", mode=mode))


def test_dense_totals_do_not_change_as_you_page(dense_engine):
    totals = {dense_engine.search("models", mode="dense", limit=2, offset=offset).total for offset in (0, 2, 4)}
    assert totals == {5}
    assert dense_engine.search("models -CoSENT", mode="dense", limit=2).total == 4


def test_hubness_command_reports_on_a_real_store(dense_engine):
    import json
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "jiansuo.cli", "hubness", "--k", "2", "--json", "--store",
                             str(dense_engine.path)], capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout)
    assert report["documents"] == 5 and {"plain", "csls"} <= set(report)
    assert sum(count for _, count in report["plain"]["hubs"]) == 5 * 2


def test_warm_up_encodes_once_and_leaves_no_query_behind(dense_engine, tmp_path):
    encoder, encoded = dense_engine.embedding.loaded, []
    encode_queries = encoder.encode_queries
    encoder.encode_queries = lambda texts: encoded.extend(texts) or encode_queries(texts)
    dense_engine.warm_up()
    assert encoded == ["warm up"] and not dense_engine.embedding.recent_queries
    assert ids(dense_engine.search("hubs proximity"))[0] == "p5"
    Engine(tmp_path / "no-index").warm_up()  # nothing indexed yet: nothing to warm, no error


def test_an_update_inserts_into_the_hnsw_graph_and_a_stale_one_is_rebuilt(tmp_path, fixtures, monkeypatch):
    from jiansuo.retrieve import dense as dense_module

    monkeypatch.setattr(dense_module, "EXACT_MAX_PASSAGES", 2)  # the posts fixture is then "large": HNSW
    engine = Engine(tmp_path / "store", encoder="bow64")
    engine.embedding.loaded = BagOfWordsEncoder()
    engine.add(d for d in read_path(fixtures / "posts.jsonl") if hasattr(d, "id"))
    engine.refresh()

    def graph_labels() -> set[int]:
        assert engine.dense._hnsw is not None
        return set(engine.dense._hnsw.get_ids_list())

    built = graph_labels()
    assert built == set(np.flatnonzero(engine.dense.passage_doc >= 0).tolist())
    selective = {"mode": "dense", "categories": "cs.CY"}  # fewer eligible passages than the depth asked for
    through_graph = ids(engine.search("相似度", **selective))
    engine.dense._hnsw, graph = None, engine.dense._hnsw
    assert through_graph and through_graph == ids(engine.search("相似度", **selective))  # as the exact scan finds them
    engine.dense._hnsw = graph
    assert ids(engine.search("hubs proximity", mode="dense"))[0] == "p5"
    engine.add([Document(id="n1", title="量子退火", body="quantum annealing for combinatorial optimisation")])
    engine.delete(["p5"])
    engine.refresh()
    labels = graph_labels()
    assert built < labels  # the old graph, deleted passages marked, new ones inserted: not rebuilt
    assert ids(engine.search("quantum annealing", mode="dense"))[0] == "n1"
    assert "p5" not in ids(engine.search("hubs proximity", mode="dense", limit=50))
    engine.delete(["p1", "p2"])  # now over a quarter of the graph is deleted passages
    engine.refresh()
    assert graph_labels() == set(np.flatnonzero(engine.dense.passage_doc >= 0).tolist())


def test_a_search_holds_numpy_blas_to_one_thread_and_lets_it_go_after(dense_engine):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas = threadpoolctl.ThreadpoolController().select(internal_api="openblas")

    def threads() -> list[int]:
        return [info["num_threads"] for info in blas.info() if "numpy" in info["filepath"]]

    if max(threads(), default=1) < 2:  # (scipy's own OpenBLAS may be loaded too; searches do not use it)
        pytest.skip("numpy's BLAS is not a multi-threaded OpenBLAS here: nothing to hold")
    before, during = threads(), []
    encoder = dense_engine.embedding.loaded
    encode_queries = encoder.encode_queries
    encoder.encode_queries = lambda texts: during.append(threads()) or encode_queries(texts)
    assert ids(dense_engine.search("hubs proximity", mode="hybrid"))[0] == "p5"
    assert during == [[1]]  # the query was encoded while numpy's OpenBLAS ran on one thread
    assert threads() == before


def test_hybrid_says_when_no_document_matches_the_words(dense_engine):
    absent = dense_engine.search("qwzxv", mode="hybrid")
    assert absent.hits and absent.by_meaning_only  # listed by meaning, and the page says so
    present = dense_engine.search("扩散模型", mode="hybrid")
    assert present.hits and not present.by_meaning_only
    assert not dense_engine.search("qwzxv", mode="dense").by_meaning_only  # asked for meaning: nothing to say


def test_preference_reorders_a_list_towards_the_starred_documents(dense_engine):
    plain = [h.doc_id for h in dense_engine.search("", sort="date").hits]
    for method in ("centroid", "classifier"):
        scores = preference_scores(dense_engine, plain, ["p5"], method)
        assert plain[int(scores.argmax())] == "p5"
    liked = [h.doc_id for h in dense_engine.search("", sort="preference", prefer=("p5",)).hits]
    assert liked[0] == "p5" and sorted(liked) == sorted(plain) and liked != plain
    assert [h.doc_id for h in dense_engine.search("", sort="preference").hits] == plain  # no stars: as listed


def test_preference_without_a_dense_index_uses_keyword_vectors(posts_engine):
    plain = [h.doc_id for h in posts_engine.search("", sort="date").hits]
    liked = [h.doc_id for h in posts_engine.search("", sort="preference", prefer=("p3",)).hits]
    assert liked[0] == "p3" and set(liked) == set(plain)


def test_an_interrupted_dense_build_leaves_no_version_and_resumes_from_the_cache(tmp_path):
    """Ctrl-C during encoding: no half-built version goes live, and the rerun encodes only what was not cached."""
    documents = [Document(id=f"d{i}", title=f"文档 {i}", body=f"第{i}篇 " + "检索 排序 " * (i % 7 + 1))
                 for i in range(700)]
    engine = Engine(tmp_path / "store", encoder="bow64")
    engine.embedding.loaded = encoder = BagOfWordsEncoder()
    engine.add(documents)
    engine.indexes["bm25"].refresh()
    done = []

    def interrupt(count: int) -> None:
        done.append(count)
        if sum(done) >= 512:  # two batches of 256 documents encoded, then the user presses Ctrl-C
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.refresh_dense(interrupt)
    assert engine.local_dense is None  # nothing half-built is live
    first = encoder.calls
    assert first > 0
    restarted = Engine(tmp_path / "store", encoder="bow64")
    restarted.embedding.loaded = BagOfWordsEncoder()
    restarted.refresh()
    total = sum(len(split_passages(d)) for d in documents)
    assert restarted.embedding.loaded.calls == total - first  # only the passages the first run had not encoded
    assert restarted.local_dense.num_docs() == 700
    assert not [v for v in (tmp_path / "store" / "indexes" / "dense").glob("v*") if not (v / "params.json").exists()]


def test_a_hybrid_list_says_how_many_of_its_documents_hold_the_words(dense_engine):
    from starlette.testclient import TestClient

    from jiansuo.web.app import create_app

    query = "conditional generation"
    hybrid, keyword = dense_engine.search(query, mode="hybrid"), dense_engine.search(query, mode="bm25")
    assert hybrid.total > keyword.total == hybrid.matching_words >= 1  # the rest are related by meaning only
    assert keyword.matching_words is None  # every listed document holds the words
    facets = dense_engine.facets(SearchRequest(query=query, mode="hybrid"))
    assert sum(count for _, count in facets["month"]) == hybrid.matching_words  # what the facets count
    with TestClient(create_app(dense_engine)) as client:
        page = client.get("/", params={"q": query, "mode": "hybrid", "lang": "en"}).text
        data = client.get("/api/search", params={"q": query, "mode": "hybrid"}).json()
    assert f"{hybrid.total} results · {hybrid.matching_words} contain the words" in page
    assert data["matching_words"] == hybrid.matching_words
