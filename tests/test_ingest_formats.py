"""HTML blog pages and BibTeX paper lists: what a researcher's own site or reading list holds."""

import json
from datetime import date

import pytest
from conftest import FIXTURES, shared_data

from jiansuo.ingest import IngestProblem, read_path
from jiansuo.web import render

BLOG = FIXTURES / "blog_html"


def split(items):
    docs = {i.id: i for i in items if not isinstance(i, IngestProblem)}
    problems = [i for i in items if isinstance(i, IngestProblem)]
    return docs, problems


def test_html_posts_take_their_fields_from_the_page_metadata():
    docs, problems = split(list(read_path(BLOG)))
    assert set(docs) == {"gbk", "posts/2023/05/cosent", "posts/2023/05/mathjax", "posts/2019/07/21/plain-post"}
    post = docs["posts/2023/05/cosent"]  # Hugo-style: index.html in the post's folder, OpenGraph metadata
    assert post.title == "CoSENT（三）：作为交互式相似度的损失函数"  # og/h1, not "<title> - site"
    assert (post.authors, post.date, post.tags) == (["苏剑林"], date(2022, 11, 9), ["CoSENT", "语义相似度"])
    assert post.url == "https://example.org/archives/9341" and post.language == "zh"
    ld = docs["posts/2023/05/mathjax"]  # schema.org JSON-LD, and a <title> that ends with the site's name
    assert (ld.title, ld.authors, ld.date, ld.tags) == ("Attention is quadratic", ["Ada Lovelace"],
                                                        date(2021, 3, 4), ["attention"])
    assert docs["posts/2019/07/21/plain-post"].date == date(2019, 7, 21)  # only the path has it
    assert docs["gbk"].title == "测试" and docs["gbk"].body == "中文内容"  # decoded by its <meta charset>
    assert not any(p.skipped for p in problems)  # the site's pages about posts are not errors, and not stored
    not_posts = {p.file.removeprefix(f"{BLOG}/"): p.reason for p in problems}
    assert not_posts == {
        "tags/math/index.html": "a listing page (2 posts), not a post; not stored",
        "categories/ml/index.html": "a tag, category, author or page list (by its path), not a post; not stored",
        "page/2/index.html": "a tag, category, author or page list (by its path), not a post; not stored",
        "index.html": "the site's home page, not a post; not stored",
        "404.html": "the site's page-not-found page, not a post; not stored"}


def test_html_body_is_the_article_as_markdown_without_the_sites_chrome():
    docs, _ = split(list(read_path(BLOG)))
    body = docs["posts/2023/05/cosent"].body
    assert body.startswith("在[《CoSENT（一）》](/archives/8847)中")  # the repeated <h1> title is gone
    for chrome in ("首页", "最新文章", "评论区", "©", "log(1+∑"):  # nav, sidebar, comments, footer, KaTeX's glyphs
        assert chrome not in body
    for markdown in ("## 实验结果", "- ATEC: 50.6", "  - nested", "```python\nloss = cosent(y_true, y_pred)",
                     "| LCQMC | 79.3 |", "> 引用一段话。", "![图 1](/img/fig1.png)", "*通常*", "**20**"):
        assert markdown in body
    plain = docs["posts/2019/07/21/plain-post"].body
    assert plain == "Subtract the mean, then multiply by `W = U \\Lambda^{-1/2}`; see note.\n\n1. first\n2. second"


def test_formulas_in_html_pages_come_back_as_tex_and_render_as_mathml():
    docs, _ = split(list(read_path(BLOG)))
    katex = docs["posts/2023/05/cosent"].body
    assert r"$$\log \left(1 + \sum_{(i,j)\in\Omega} e^{\lambda(s_j - s_i)}\right)$$" in katex
    assert r"$\lambda_{max} > 0$" in katex
    mathjax = docs["posts/2023/05/mathjax"].body
    assert r"$O(n^2 d)$" in mathjax and r"$$\mathrm{softmax}(QK^\top/\sqrt{d})V$$" in mathjax
    assert r"\(a_1 * b_1\)" in mathjax  # TeX the page left for MathJax stays as it was
    for body in (katex, mathjax):
        html = str(render.markdown(body))
        assert html.count("<math") >= 2
        assert "\\lambda" not in _outside_math(html) and "\\sum" not in _outside_math(html)


def _outside_math(html: str) -> str:
    import re
    return re.sub(r"<math.*?</math>", "", html, flags=re.S)


def test_a_folder_of_markdown_sources_and_their_built_html_reads_the_markdown_only(tmp_path):
    (tmp_path / "_posts").mkdir()
    (tmp_path / "_posts" / "hello.md").write_text("---\ntitle: Hello\n---\nText.\n", encoding="utf-8")
    (tmp_path / "_site").mkdir()
    (tmp_path / "_site" / "hello.html").write_text("<html><body><article>Text.</article></body></html>")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "notes.md").write_text("not a post")
    docs, problems = split(list(read_path(tmp_path)))
    assert set(docs) == {"hello"}
    assert len(problems) == 1 and not problems[0].skipped and "1 HTML pages left unread" in problems[0].reason
    docs, _ = split(list(read_path(tmp_path / "_site")))
    assert set(docs) == {"hello"} and docs["hello"].body == "Text."


def test_a_folder_with_nothing_readable_says_what_it_found(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    _, problems = split(list(read_path(tmp_path)))
    assert len(problems) == 1 and problems[0].skipped
    assert "no Markdown, HTML, JSONL, BibTeX, CSV or feed files" in problems[0].reason
    assert ".png, .txt" in problems[0].reason


def test_bibtex_entries_become_papers():
    docs, problems = split(list(read_path(FIXTURES / "papers.bib")))
    assert list(docs) == ["reimers2019sbert", "erdos1959", "yadav2022anncur", "su2023"]
    sbert = docs["reimers2019sbert"]
    assert sbert.title == "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks"  # braces gone
    assert sbert.authors == ["Nils Reimers", "Iryna Gurevych"] and sbert.date == date(2019, 11, 1)
    assert sbert.venue == "Proceedings of the Annual Meeting of the ACL (EMNLP)"  # @string and # concatenation
    assert sbert.url == "https://doi.org/10.18653/v1/D19-1410" and sbert.tags == ["sentence embeddings", "siamese"]
    assert "$O(n^2)$" in sbert.summary and sbert.metadata["entry_type"] == "inproceedings"
    erdos = docs["erdos1959"]
    assert erdos.authors == ["Paul Erdős", "Alfréd Rényi"]  # accents; "and others" is et al.
    assert erdos.title == "On Random Graphs I" and erdos.metadata["pages"] == "290–297"
    anncur = docs["yadav2022anncur"]
    assert anncur.url == "https://arxiv.org/abs/2210.12579" and anncur.categories == ["cs.IR"]
    su = docs["su2023"]
    assert (su.date, su.language, su.url) == (date(2023, 5, 1), "zh", "https://kexue.fm/archives/9341_x")
    assert [(p.line, p.skipped) for p in problems] == [(28, True), (39, True)]
    assert "never closes" in problems[0].reason and "noticed on line 32" in problems[0].reason
    assert "already appeared on line 3" in problems[1].reason


def test_bibtex_preprint_venues_and_web_links_as_scholar_and_blogs_write_them(tmp_path):
    path = tmp_path / "scholar.bib"
    path.write_text("""@article{su2021, title = {{RoFormer}}, journal = {arXiv preprint arXiv:2104.09864}, year = 2021}
@article{dblp, title = {ANNCUR}, journal = {CoRR}, volume = {abs/2210.12579}, eprinttype = {arXiv},
  eprint = {2210.12579}, year = 2022}
@misc{blog, title = {CoSENT（一）}, howpublished = {\\url{https://spaces.ac.cn/archives/8847}}, year = 2022}
@misc{page, title = {A page}, howpublished = {Online}, url = {https://example.org/p}}
""")
    docs, problems = split(list(read_path(path)))
    assert not problems
    assert (docs["su2021"].venue, docs["su2021"].url) == ("arXiv", "https://arxiv.org/abs/2104.09864")
    assert (docs["dblp"].venue, docs["dblp"].url) == ("arXiv", "https://arxiv.org/abs/2210.12579")
    assert (docs["blog"].venue, docs["blog"].url) == ("", "https://spaces.ac.cn/archives/8847")
    assert (docs["page"].venue, docs["page"].url) == ("Online", "https://example.org/p")


def test_a_bibtex_file_that_is_not_utf8_is_read_as_latin1_with_a_warning(tmp_path):
    path = tmp_path / "old.bib"
    path.write_bytes("@article{k1,\n title = {Caf\u00e9 theory},\n year = 1999}\n".encode("latin-1"))
    docs, problems = split(list(read_path(path)))
    assert docs["k1"].title == "Café theory"
    assert [(p.line, p.skipped) for p in problems] == [(2, False)] and "Latin-1" in problems[0].reason


def test_chinese_gbk_and_utf16_files_are_read_with_a_notice_and_other_bytes_are_named(tmp_path):
    post = "---\ntitle: 扩散模型笔记\ndate: 2012-05-01\n---\n条件控制的生成，见 $p(y|x)$。\n"
    (tmp_path / "gbk.md").write_bytes(post.encode("gbk"))
    (tmp_path / "notepad.md").write_bytes(post.replace("扩散", "流").encode("utf-16"))
    (tmp_path / "french.md").write_bytes("# Café\n\nrésumé très déjà".encode("latin-1"))
    (tmp_path / "old.bib").write_bytes("@article{k2,\n title = {检索模型},\n year = 2008}\n".encode("gbk"))
    docs, problems = split(list(read_path(tmp_path)))
    assert docs["gbk"].title == "扩散模型笔记" and "条件控制" in docs["gbk"].body and docs["gbk"].language == "zh"
    assert docs["notepad"].title == "流模型笔记" and docs["k2"].title == "检索模型" and "french" not in docs
    reasons = {p.file.rsplit("/", 1)[-1]: (p.reason, p.skipped) for p in problems}
    assert reasons["gbk.md"] == ("not UTF-8; the file is read as GB18030", False)
    assert reasons["notepad.md"] == ("not UTF-8; the file is read as UTF-16", False)
    assert reasons["old.bib"] == ("not UTF-8; the file is read as GB18030", False)
    assert reasons["french.md"][1] and "not stored" in reasons["french.md"][0]


def test_markdown_sources_of_hugo_and_jekyll_sites_read_as_their_generators_build_them(tmp_path):
    posts = tmp_path / "content" / "posts"
    for folder in ("bundle", "2023", "2024"):
        (posts / folder).mkdir(parents=True)
    (tmp_path / "_posts").mkdir()
    (posts / "bundle" / "index.md").write_text(
        '+++\ntitle = "Whitening 白化"\ndate = 2023-05-01T10:00:00+08:00\ntags = ["bert", "白化"]\n+++\n'
        'Intro {{< figure src="fig.png" caption="The spectrum" >}} and [the old post]({{< ref "old.md" >}}).\n\n'
        "{{< katex >}}\n$$W = U\\Lambda^{-1/2}$$\n{{< /katex >}}\n\n"
        "{{% notice info %}}Careful with $\\frac{{a}}{b}$.{{% /notice %}}\n", encoding="utf-8")
    (posts / "_index.md").write_text("---\ntitle: Posts\n---\n")
    (posts / "draft.md").write_text("---\ntitle: Not yet\ndraft: true\n---\nsecret\n")
    (posts / "2023" / "notes.md").write_text("---\ntitle: Notes 2023\n---\nA\n")
    (posts / "2024" / "notes.md").write_text("---\ntitle: Notes 2024\n---\nB\n")
    (tmp_path / "_posts" / "2021-02-03-jekyll-post.md").write_text(
        "---\ntitle: Jekyll post\npublished: true\n---\n{% include toc.html %}\n"
        '![x]({{ "/assets/a.png" | relative_url }}) on {{ site.title }}\n'
        "{% highlight python %}\nprint(1)\n{% endhighlight %}\n{% raw %}{{ kept }}{% endraw %}\n")
    docs, problems = split(list(read_path(tmp_path)))
    assert set(docs) == {"bundle", "notes", "content/posts/2024/notes", "2021-02-03-jekyll-post"}
    bundle = docs["bundle"]  # a page bundle's index.md is named by its folder; TOML front matter
    assert (bundle.title, bundle.date, bundle.tags) == ("Whitening 白化", date(2023, 5, 1), ["bert", "白化"])
    assert bundle.body == ("Intro ![The spectrum](fig.png) and [the old post](old.md).\n\n\n"
                           "$$W = U\\Lambda^{-1/2}$$\n\n\nCareful with $\\frac{{a}}{b}$.")
    jekyll = docs["2021-02-03-jekyll-post"]
    assert jekyll.date == date(2021, 2, 3)  # from the file name; `published: true` is a flag, not a date
    assert jekyll.body == "![x](/assets/a.png) on \n```python\nprint(1)\n```\n{{ kept }}"
    assert (docs["notes"].title, docs["content/posts/2024/notes"].title) == ("Notes 2023", "Notes 2024")
    reasons = {p.file.rsplit("/", 1)[-1]: p.reason for p in problems}
    assert not any(p.skipped for p in problems)  # none of these is an error
    assert "list page" in reasons["_index.md"] and "draft" in reasons["draft.md"]
    taken = "id already taken by content/posts/2023/notes.md; stored as 'content/posts/2024/notes'"
    assert reasons["notes.md"] == taken


def test_a_reference_managers_csv_export_becomes_papers():
    docs, problems = split(list(read_path(FIXTURES / "zotero.csv")))
    assert list(docs) == ["ABCD1234", "EFGH5678", "https://kexue.fm/archives/8847"]  # no key: the URL is the id
    sbert = docs["ABCD1234"]
    assert sbert.authors == ["Nils Reimers", "Iryna Gurevych"] and sbert.date_label() == "2019"
    assert (sbert.venue, sbert.url) == ("Proceedings of EMNLP", "https://doi.org/10.18653/v1/D19-1410")
    assert sbert.tags == ["sentence embeddings", "siamese"] and sbert.summary.startswith("BERT and RoBERTa")
    assert docs["EFGH5678"].authors == ["Miloš Radovanović", "Alexandros Nanopoulos", "Mirjana Ivanović"]
    assert docs["https://kexue.fm/archives/8847"].language == "zh"
    assert [(p.line, p.skipped) for p in problems] == [(4, True)] and "3 cells where the header has 10" in \
        problems[0].reason


@pytest.mark.slow
def test_the_real_arxiv_csv_reads_whole():
    path = shared_data("arxiv") / "arxiv_2505_math_sample.csv"
    docs, problems = split(list(read_path(path)))
    assert not problems and len(docs) == 3397
    first = docs["2505.24868"]  # list literals in cells are lists
    assert first.authors == ["Kalle Alaluusua", "Konstantin Avrachenkov", "B. R. Vinay Kumar", "Lasse Leskelä"]
    assert first.tags == ["math.ST", "stat.ML"] and first.title.startswith("Consistent line clustering")
    assert (first.url, first.date_label(), first.venue) == ("https://arxiv.org/abs/2505.24868", "2025-05", "arXiv")


def test_a_paper_list_keyed_by_arxiv_ids_gets_their_links_months_and_venue(tmp_path):
    path = tmp_path / "papers.csv"
    path.write_text("arxiv_id,title,year,venue\n2505.24868v2,New style,,\nhep-th/9901001,Old style,,\n"
                    "1706.03762,Attention,2017,NeurIPS\n0703.1234,Before the new scheme,,\n"
                    "notes/2301001,A slug,,\n", encoding="utf-8")
    docs, problems = split(list(read_path(path)))
    assert not problems
    seen = {doc_id: (d.url, d.date_label(), d.venue) for doc_id, d in docs.items()}
    assert seen == {"2505.24868v2": ("https://arxiv.org/abs/2505.24868v2", "2025-05", "arXiv"),
                    "hep-th/9901001": ("https://arxiv.org/abs/hep-th/9901001", "1999-01", "arXiv"),
                    "1706.03762": ("https://arxiv.org/abs/1706.03762", "2017", "NeurIPS"),  # the list's own fields
                    "0703.1234": ("", "", ""), "notes/2301001": ("", "", "")}


def test_arxiv_records_lose_their_tex_accents_and_affiliations(tmp_path):
    path = tmp_path / "snapshot.jsonl"
    record = {"id": "0704.0999", "versions": [{"created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
              "authors": "A. Greilich (1), R. Tom\\`as, Bro\\v{n}a Brejov\\'a, and Franz G\\\"ahler "
                         "((1) Universit\\\"at Dortmund, Germany)",
              "title": "Spin coherence in {\\O}bro's  $\\mathbb{Z}_2$\n  lattices",
              "abstract": "  Poincar\\'e maps for $\\{0,1\\}^n$ strings.\n"}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    docs, problems = split(list(read_path(path, "arxiv")))
    paper = docs["0704.0999"]
    assert not problems and paper.authors == ["A. Greilich", "R. Tomàs", "Broňa Brejová", "Franz Gähler"]
    assert paper.title == "Spin coherence in Øbro's $\\mathbb{Z}_2$ lattices"  # math kept as TeX
    assert paper.summary == "Poincaré maps for $\\{0,1\\}^n$ strings."


@pytest.mark.parametrize("reference, journal", [
    ("Phys.Rev.D76:064010,2007", "Phys.Rev.D"), ("Phys. Rev. D 76:064010,2007", "Phys.Rev.D"),
    ("A&A, 445, 735, 2006", "A&A"), ("JHEP 0706:024,2007", "JHEP"), ("Astrophys.J.663:1201-1206,2007", "Astrophys.J."),
    ("in: Proc. 2nd Workshop on Things", "in: Proc. 2nd Workshop on Things")])  # no volume to cut at: whole
def test_an_arxiv_journal_ref_is_the_venue_of_its_journal_and_stays_whole_in_metadata(tmp_path, reference, journal):
    path = tmp_path / "snapshot.jsonl"
    record = {"id": "0704.0001", "versions": [{"created": "Mon, 2 Apr 2007 19:18:42 GMT"}], "authors": "A. B",
              "title": "T", "abstract": "A.", "journal-ref": reference}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    paper = split(list(read_path(path, "arxiv")))[0]["0704.0001"]
    assert (paper.venue, paper.metadata["journal-ref"]) == (journal, reference)


@pytest.mark.slow
def test_no_author_of_the_real_arxiv_snapshot_keeps_tex_or_an_affiliation():
    docs, _ = split(list(read_path(shared_data("arxiv") / "kaggle_snapshot_first2000.jsonl", "arxiv")))
    assert len(docs) == 2000
    names = [name for paper in docs.values() for name in paper.authors]
    assert not [n for n in names if "\\" in n or "(" in n or ")" in n or n.startswith("and ")]
    assert docs["0704.0001"].authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]


def test_a_wordpress_export_and_an_atom_feed_become_posts():
    docs, problems = split(list(read_path(FIXTURES / "feeds")))
    assert set(docs) == {"42", "https://kexue.fm/archives/9341"}
    wp = docs["42"]
    assert (wp.title, wp.authors, wp.date, wp.categories, wp.tags) == (
        "Hubness in nearest neighbours", ["Miloš"], date(2010, 5, 3), ["Machine learning"], ["kNN"])
    assert wp.body == ("Some points are the neighbours of many: the $k$-occurrence $N_k(x)$ is skewed.\n\n"
                       "A second paragraph with $\\sum_i N_k(x_i) = kn$ and [a link](/2010/04/knn/).\n\n"
                       "![hubs](/wp-content/hubs.png) Hubs in 50 dimensions\n\n"  # [caption] gone, its text kept
                       "```python\ncounts = np.bincount(knn.ravel())  # a < b\n\nprint(counts.max())\n```")
    atom = docs["https://kexue.fm/archives/9341"]
    assert atom.body == "损失为 $\\log(1+\\sum e^{\\lambda(s_j-s_i)})$。"
    assert atom.summary == "CoSENT 也能用于交互式模型。"
    assert (atom.authors, atom.date, atom.tags) == (["苏剑林"], date(2022, 11, 9), ["CoSENT"])
    assert [(p.line, p.skipped) for p in problems] == [(27, False), (34, False)]  # a draft, an attachment
    assert "(draft)" in problems[0].reason and "attachment" in problems[1].reason


def test_a_feed_never_reads_local_files_through_entities_and_a_built_sites_feed_is_not_read_twice(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    hostile = tmp_path / "hostile" / "feed.xml"
    hostile.parent.mkdir()
    hostile.write_text(f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>'
                       "<rss><channel><item><title>t</title><guid>g1</guid><description>&x;</description></item>"
                       "</channel></rss>")
    docs, _ = split(list(read_path(hostile)))
    assert set(docs) == {"g1"} and "TOP-SECRET" not in docs["g1"].body + docs["g1"].title
    site = tmp_path / "public"
    (site / "post").mkdir(parents=True)
    (site / "post" / "index.html").write_text("<html><body><article><p>The post.</p></article></body></html>")
    (site / "index.xml").write_text((FIXTURES / "feeds" / "atom.xml").read_text(encoding="utf-8"), encoding="utf-8")
    docs, _ = split(list(read_path(site)))
    assert set(docs) == {"post"}
