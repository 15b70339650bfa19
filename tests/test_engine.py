from datetime import date

import pytest

from jiansuo.engine import Engine
from jiansuo.model import Document, SearchRequest


def ids(page):
    return [h.doc_id for h in page.hits]


def test_chinese_query_finds_and_highlights(posts_engine):
    page = posts_engine.search("条件控制")
    assert ids(page)[0] == "p1"
    marked = [s for s, m in page.hits[0].excerpt if m]
    assert "条件控制" in marked  # its two terms side by side: one mark


def test_english_query_with_stemming(posts_engine):
    assert ids(posts_engine.search("electric charge"))[0] == "p4"


def test_mixed_language_query(posts_engine):
    assert ids(posts_engine.search("cross-encoder 交互式 CUR"))[0] == "p2"


def test_latex_is_searchable(posts_engine):
    assert ids(posts_engine.search(r"\mathcal{O}"))[0] == "p2"
    assert "2023-01-05-attention" in ids(posts_engine.search(r"\mathcal{R}_m"))


def test_phrase_and_exclusion(posts_engine):
    assert ids(posts_engine.search('"diffusion models"')) == ["p4"]
    assert ids(posts_engine.search('"models diffusion"')) == []
    assert "p1" not in ids(posts_engine.search("相似度 -CoSENT"))
    assert "p3" not in ids(posts_engine.search("相似度 -CoSENT"))
    assert set(ids(posts_engine.search("相似度"))) >= {"p2", "p3"}


def test_chinese_phrase_uses_characters_not_segmentation(posts_engine):
    # "散模" is no word, so no segmentation produces it, yet the text contains it
    assert ids(posts_engine.search('"扩散模型的无条件"')) == ["p1"]
    assert ids(posts_engine.search('"散模"')) == ["p1"]


def test_field_queries(posts_engine):
    assert ids(posts_engine.search("title:CoSENT")) == ["p3"]
    assert set(ids(posts_engine.search("author:苏剑林"))) == {"p1", "p2", "p3", "2023-01-05-attention"}
    assert ids(posts_engine.search("venue:JMLR")) == ["p5"]
    assert ids(posts_engine.search("tag:矩阵分解")) == ["p2"]
    assert set(ids(posts_engine.search("category:cs.IR"))) == {"p2", "p5"}


def test_and_or(posts_engine):
    assert set(ids(posts_engine.search("hubs AND proximity"))) == {"p5"}
    assert set(ids(posts_engine.search("hubs OR electrostatics"))) == {"p4", "p5"}


def test_filters(posts_engine):
    page = posts_engine.search("", date_from=date(2022, 10, 1), date_to=date(2022, 11, 5))
    assert set(ids(page)) == {"p2", "p4"}
    assert set(ids(posts_engine.search("", categories="cs.LG+cs.IR-cs.AI"))) == {"p2", "p4", "p5"}
    assert set(ids(posts_engine.search("", categories="-cs.IR", limit=20))) == {
        "p1", "p3", "p4", "2023-01-05-attention", "no-front-matter"}
    assert ids(posts_engine.search("", venue="jmlr")) == ["p5"]
    assert ids(posts_engine.search("", tag="检索")) == ["p2"]


def test_sorts_pagination_and_total(posts_engine):
    by_date = posts_engine.search("", sort="date", limit=3)
    assert ids(by_date) == ["2023-01-05-attention", "p3", "p2"] and by_date.total == 7
    assert ids(posts_engine.search("", sort="popularity", limit=2)) == ["p1", "2023-01-05-attention"]
    second = posts_engine.search("", sort="date", limit=3, offset=3)
    assert ids(second) == ["p4", "p1", "p5"] and second.total == 7


def test_incremental_add_update_delete(posts_engine):
    version = posts_engine.indexes["bm25"].version
    posts_engine.add([Document(id="n1", title="量子退火与组合优化", body="quantum annealing")])
    assert posts_engine.refresh() == 1
    assert ids(posts_engine.search("量子退火")) == ["n1"]
    posts_engine.add([Document(id="n1", title="模拟退火", body="simulated annealing")])
    posts_engine.refresh()
    assert ids(posts_engine.search("量子退火")) == ["n1"]  # 退火 still matches
    assert ids(posts_engine.search('"quantum annealing"')) == []
    assert posts_engine.search("annealing").total == 1  # updated, not duplicated
    posts_engine.delete(["n1"])
    posts_engine.refresh()
    assert posts_engine.search("annealing").total == 0
    assert posts_engine.indexes["bm25"].version == version  # no rebuild happened


def test_reingesting_unchanged_documents_changes_nothing(posts_engine):
    doc = posts_engine.get("p1")
    assert posts_engine.add([doc]) == 0
    assert posts_engine.refresh() == 0


def test_rebuild_swaps_to_a_new_version_and_keeps_serving(posts_engine):
    old = posts_engine.indexes["bm25"].version
    posts_engine.rebuild()
    new = posts_engine.indexes["bm25"].version
    assert new != old and new.name > old.name
    assert (new / "params.json").exists()
    assert ids(posts_engine.search("title:CoSENT")) == ["p3"]


def test_an_unfinished_build_is_ignored_and_swept(posts_engine):
    dirs = posts_engine.indexes["bm25"].dirs
    live = dirs.current()
    half = dirs.new_version()  # a build that crashed before params.json
    (half / "junk").write_text("partial")
    (half / ".builder").write_text("999999999")  # the process that was building it is gone
    reopened = Engine(posts_engine.path)
    assert reopened.indexes["bm25"].dirs.current() == live
    assert ids(reopened.search("title:CoSENT")) == ["p3"]
    reopened.rebuild()
    assert not half.exists() or (half / "params.json").exists()


def test_empty_store_searches_return_nothing(tmp_path):
    page = Engine(tmp_path / "empty").search("anything")
    assert page.total == 0 and page.hits == []


@pytest.mark.parametrize("query", ['"', "-", "AND", "OR OR", "title:", 'title:""', "-\"\"", "\\", "*", "()"])
def test_odd_queries_do_not_raise(posts_engine, query):
    posts_engine.search(SearchRequest(query=query))


def test_popularity_decays_with_age(tmp_path):
    from datetime import date

    from jiansuo.model import Document
    from jiansuo.retrieve.popularity import HALF_LIFE_DAYS, popularity_rank

    engine = Engine(tmp_path / "site")
    engine.add([Document(id="old", title="x", reads=100, date=date(2015, 1, 1)),
                Document(id="new", title="x", reads=40, date=date(2024, 1, 1)),
                Document(id="newer", title="x", reads=1, date=date(2024, 6, 1))])
    engine.refresh()
    assert [h.doc_id for h in engine.search("", sort="popularity").hits] == ["new", "old", "newer"]
    # one half-life older needs twice the readers (plus one) to rank the same
    day = date(2024, 1, 1).toordinal()
    assert popularity_rank(2 * 10 + 1, day - HALF_LIFE_DAYS) == popularity_rank(10, day)


def test_reassigned_boosts_apply_to_the_next_search(posts_engine):
    before = {h.doc_id: h.score for h in posts_engine.search("hubness", mode="bm25").hits}
    posts_engine.boosts = {**posts_engine.boosts, "title": 5.0}
    after = {h.doc_id: h.score for h in posts_engine.search("hubness", mode="bm25").hits}
    assert "p5" in before and after["p5"] > before["p5"]
