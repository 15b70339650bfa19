"""Keywords per document: our analyzer's words and recurring phrases, weighted by TF-IDF."""

import pytest

from jiansuo.analysis.keywords import keywords


def test_characteristic_words_and_phrases_win_over_common_and_stop_words():
    text = ("我们提出局部敏感哈希的新方法。局部敏感哈希把相似向量映射到同一个桶。"
            "We study locality sensitive hashing; locality sensitive hashing is fast. The method is simple. "
            r"Then $\boldsymbol{x}$ and \mathcal{O}(n) 2023 42.")
    common = {("方法",), ("we",), ("the",), ("simpl",), ("method",)}

    def df(terms):
        return 900 if terms in common else 3

    found = keywords("局部敏感哈希", text, df, 1000)
    shown = [k.text for k in found]
    assert shown[0] == "局部敏感哈希"
    assert "locality sensitive hashing" in shown
    assert not {"我们", "方法", "The", "the", "2023", "42"} & set(shown)
    assert not any(s.startswith("\\") for s in shown)
    assert "局部" not in shown and "敏感" not in shown  # the phrase stands for its words
    assert [k.weight for k in found] == sorted((k.weight for k in found), reverse=True)


def test_keywords_of_stored_documents_link_to_searches(posts_engine):
    document = posts_engine.get("p2")
    found = posts_engine.keywords(document)
    assert found and all(k.weight > 0 for k in found)
    assert posts_engine.keywords(document) is found  # kept per document version


def test_keywords_on_the_document_page_and_in_the_api(client_for_posts):
    page = client_for_posts.get("/doc/p2").text
    assert 'class="keyword" href="/?q=' in page
    data = client_for_posts.get("/api/doc/p2").json()
    assert data["keywords"] and all(isinstance(k, str) for k in data["keywords"])
    hits = client_for_posts.get("/api/search", params={"q": "CUR"}).json()["hits"]
    assert hits[0]["keywords"]


def test_related_documents_show_the_keywords_they_share(client_for_posts, posts_engine):
    page = client_for_posts.get("/doc/p2").text
    related = page.split('<aside class="related">')[1]
    assert '<span class="shared">' in related and 'class="keyword"' in related


def test_keywords_are_kept_for_other_processes_and_renewed_when_the_document_changes(posts_engine, monkeypatch):
    import jiansuo.analysis.keywords
    from jiansuo.engine import Engine

    document = posts_engine.get("p2")
    first = [k.text for k in posts_engine.keywords(document)]
    other = Engine(posts_engine.path)  # another worker, or after a restart

    def not_again(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(jiansuo.analysis.keywords, "keywords", not_again)
    assert [k.text for k in other.keywords(document)] == first
    changed = document.__class__(**{**document.__dict__, "title": document.title + " 新标题"})
    with pytest.raises(AssertionError, match="computed again"):
        other.keywords(changed)


def test_keywords_come_from_the_prose_not_the_code_blocks_while_search_still_finds_code(tmp_path):
    from jiansuo.engine import Engine
    from jiansuo.model import Document

    code = "```python\nfor step in tqdm(range(n)):\n    pbar = tqdm(jnp.eye(n))\n    jnp.matmul(pbar, pbar)\n```\n"
    prose = "Muon 用矩阵符号函数更新参数，谱范数意义下的最速下降。"
    post = Document(id="muon", title="Muon 优化器", body=f"{prose}\n\n{code}")
    engine = Engine(tmp_path / "store")
    engine.add([post, Document(id="other", title="线性注意力", body="无关的内容")])
    engine.refresh()
    shown = [k.text for k in engine.keywords(engine.get("muon"))]
    assert "Muon" in shown and not {"tqdm", "jnp", "pbar", "matmul"} & set(shown)
    assert [h.doc_id for h in engine.search("tqdm", mode="bm25").hits] == ["muon"]
    engine.close()
