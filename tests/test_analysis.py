from jiansuo.analysis import analyze, cjk_bigrams, detect_language, excerpt


def test_chinese_is_segmented_into_words():
    assert analyze("扩散模型的条件控制") == ["扩散", "模型", "的", "条件", "控制"]


def test_english_is_lowercased_stemmed_and_stop_listed():
    assert analyze("The Diffusion Models of the studies") == ["diffus", "model", "studi"]


def test_mixed_text_and_latex_commands_stay_searchable():
    terms = analyze(r"复杂度是 $\mathcal{O}(N)$ 的 cross-encoder")
    assert r"\mathcal" in terms and "o" in terms and "n" in terms
    assert {"复杂度", "cross", "encod"} <= set(terms)


def test_full_width_letters_normalise():
    assert analyze("ＢＥＲＴ") == analyze("bert")


def test_cjk_bigrams_overlap():
    assert cjk_bigrams("检索 a 扩散模型") == ["检索", "扩散", "散模", "模型"]
    assert cjk_bigrams("一") == ["一"]


def test_language_detection():
    assert detect_language("生成扩散模型漫谈") == "zh"
    assert detect_language("Poisson flow generative models") == "en"
    formula = r"$$\nabla_{x_t}\log p(x_t|y) = \nabla_{x_t}\log p(x_t) + \nabla_{x_t}\log p(y|x_t)$$"
    assert detect_language(f"由分类器引导可知：\n{formula}\n只需训练 $p(y|x_t)$。") == "zh"  # TeX's letters aside
    assert detect_language(f"By Bayes' rule:\n{formula}\n见上。") == "en"


def test_adjacent_matches_are_one_mark():
    segments = excerpt("对生成扩散模型做了介绍：diffusion models", set(analyze("扩散模型 diffusion models")))
    assert ("扩散模型", True) in segments and ("diffusion", True) in segments and ("models", True) in segments


def test_excerpt_marks_terms_and_keeps_spacing():
    text = "We study diffusion models. " * 3 + "Nothing else here. " * 20
    segments = excerpt(text, set(analyze("diffusion")), width=60)
    assert ("diffusion", True) in segments
    joined = "".join(s for s, _ in segments)
    assert "study diffusion models" in joined


def test_title_words_are_recurring_terms_not_function_word_joins():
    from jiansuo.analysis.tokenize import title_words

    titles = ["筛选数据透视表", "删除数据透视表", "更新数据透视表", "数据透视表的布局", "组合数据透视表",
              "文档中的表格", "文档中的图片", "文档中的链接", "文档中的注释", "文档中的字段"]
    found = title_words(titles, min_titles=5)
    assert "数据透视表" in found and not any(w.endswith("中") or "的" in w for w in found)


def test_store_author_names_stay_whole_words():
    from jiansuo.analysis.tokenize import add_user_words, user_words

    assert user_words(["苏剑林", "A. Author", "王林", "x"]) == {"苏剑林", "王林"}
    add_user_words({"苏剑林"})
    assert "苏剑林" in analyze("苏剑林的博客")


def test_traditional_characters_are_searched_as_simplified_ones(tmp_path):
    from jiansuo.analysis.tokenize import simplified
    from jiansuo.engine import Engine
    from jiansuo.model import Document

    assert simplified("擴散模型的條件控制") == "扩散模型的条件控制"
    assert simplified("著名的乾坤之说") == "著名的乾坤之说"  # simplified characters (GB 2312) never change
    engine = Engine(tmp_path / "store")
    engine.add([Document(id="s", title="扩散模型漫谈", body="条件控制生成结果"),
                Document(id="t", title="擴散模型漫談", body="條件控制生成結果"),
                Document(id="x", title="线性注意力", body="无关的内容")])
    engine.refresh()
    for query in ("扩散模型 条件控制", "擴散模型 條件控制"):
        page = engine.search(query, mode="bm25")
        assert {h.doc_id for h in page.hits} == {"s", "t"}, query
        traditional = next(h for h in page.hits if h.doc_id == "t")
        assert "條件控制" in [text for text, match in traditional.excerpt if match]  # highlighted as written
    # a title typed in either script is both documents' exact title
    assert {h.doc_id for h in engine.search("擴散模型漫談", mode="bm25").hits[:2]} == {"s", "t"}
    engine.close()


def test_irregular_plurals_of_research_writing_meet_their_singulars(tmp_path):
    from jiansuo.engine import Engine
    from jiansuo.model import Document

    assert analyze("random matrix") == analyze("random matrices")
    assert analyze("vertices of polyhedra") == analyze("vertex of polyhedron")
    assert analyze("vertices") != analyze("vertical") and analyze("indices") != analyze("indicates")
    engine = Engine(tmp_path / "store")
    engine.add([Document(id="rmt", title="A local limit theorem", body="Products of positive random matrices."),
                Document(id="vertical", title="Vertical transmission", body="Indicates a random walk.")])
    engine.refresh()
    page = engine.search("random matrix", mode="bm25")
    assert [h.doc_id for h in page.hits][0] == "rmt"
    assert "matrices" in [text for text, match in page.hits[0].excerpt if match]
    assert [h.doc_id for h in engine.search("vertices", mode="bm25").hits] == []
    engine.close()
