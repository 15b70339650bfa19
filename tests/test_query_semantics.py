"""What the search box means, on real documents: the research blog (kexue) and the LibreOffice help (zh).

Each test builds a real index on disk from ../shared/data and skips when that data is absent.
"""

import pytest
from conftest import shared_data

from jiansuo.engine import Engine
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.model import Document

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def blog(tmp_path_factory):
    path = shared_data("kexue") / "kexue.jsonl"
    engine = Engine(tmp_path_factory.mktemp("kexue"))
    engine.add(d for d in read_path(path, "jsonl") if not isinstance(d, IngestProblem))
    engine.add([  # documents by other authors, one of which mentions the three characters apart
        Document(id="other-1", title="林中散步", authors=["王林"], body="苏州的剑术与林间小路。", language="zh",
                 categories=["Physical sciences"]),
        Document(id="other-2", title="Special relativity for engineers", authors=["A. Author"],
                 body="A theory of space and time.", language="en", categories=["Physical sciences", "Physics"]),
        Document(id="other-3", title="Notes on diffusion models", body="Score matching, step by step.",
                 language="en"),
    ])
    engine.refresh()
    yield engine
    engine.close()


def total(engine, query, **options):
    return engine.search(query, mode="bm25", limit=100, **options).total


def ids(engine, query, **options):
    return [h.doc_id for h in engine.search(query, mode="bm25", limit=100, **options).hits]


def test_or_joins_phrases_into_their_union(blog):
    alone = set(ids(blog, '"扩散模型"')) | set(ids(blog, '"优化器"'))
    assert total(blog, '"扩散模型" OR "优化器"') == len(alone) > max(total(blog, '"扩散模型"'), total(blog, '"优化器"'))
    assert set(ids(blog, '"扩散模型" OR "优化器"')) == alone


def test_or_joins_field_clauses(blog):
    either = set(ids(blog, "title:Lion OR title:Tiger"))
    assert either == set(ids(blog, "title:Lion")) | set(ids(blog, "title:Tiger")) and either


def test_a_filter_in_the_box_keeps_the_words_required_to_match(blog):
    english = set(ids(blog, "lang:en"))
    found = set(ids(blog, "theory lang:en"))
    assert "other-2" in found and found < english  # not every English document
    assert found == english & set(ids(blog, "theory"))
    assert english == {"other-2", "other-3"}  # every kexue post is Chinese, its formulas' letters aside


def test_labels_with_spaces_filter_from_the_box_the_url_and_label_links(blog):
    assert ids(blog, 'category:"Physical sciences"') == ["other-1", "other-2"] or \
        set(ids(blog, 'category:"Physical sciences"')) == {"other-1", "other-2"}
    assert set(ids(blog, "", categories="Physical sciences")) == {"other-1", "other-2"}
    assert ids(blog, "", categories="Physical sciences-Physics") == ["other-1"]


def test_author_names_are_whole_words(blog):
    assert "other-1" not in ids(blog, "苏剑林")  # 苏/剑/林 apart in its body, by another author
    assert total(blog, "author:苏剑林") == 312 and total(blog, "author:王林") == 1


def test_an_exact_title_ranks_first(blog):
    title = "Lion/Tiger优化器训练下的Embedding异常和对策"
    document = next(d for d in blog.store.documents() if d.title == title)
    assert ids(blog, title)[0] == document.id
    assert ids(blog, title.lower().replace("/", " "))[0] == document.id  # case and punctuation aside


def test_exact_chinese_help_title_ranks_first(tmp_path):
    path = shared_data("lo-help") / "zh" / "corpus.jsonl"
    engine = Engine(tmp_path / "lo")
    engine.add(d for d in read_path(path, "beir") if not isinstance(d, IngestProblem))
    engine.refresh()
    top = engine.search("筛选数据透视表", mode="bm25", limit=8).hits
    assert top[0].document.title == "筛选数据透视表"


def test_accents_are_folded_so_a_plain_keyboard_finds_erdos_and_balazs(tmp_path):
    """The real arXiv snapshot: its TeX accents become characters at ingest; a query typed without them matches."""
    engine = Engine(tmp_path / "arxiv")
    path = shared_data("arxiv") / "kaggle_snapshot_first2000.jsonl"
    engine.add(d for d in read_path(path, "arxiv") if not isinstance(d, IngestProblem))
    engine.refresh()
    for query in ("author:Balazs", "author:Balázs", "author:BALAZS"):  # C. Balázs (TeX in the source), L.G. Balazs
        assert {h.doc_id for h in engine.search(query).hits} == {"0704.0001", "0704.0864"}, query
    plain = {h.doc_id for h in engine.search("Poincare", limit=50).hits}
    accented = {h.doc_id for h in engine.search("Poincaré", limit=50).hits}
    assert plain and plain == accented
    hit = engine.search("Balazs diphoton").hits[0]
    assert hit.doc_id == "0704.0001"
    engine.close()
