"""Formulas, Markdown, links and excerpts as a reader sees them (jiansuo.web.render, analysis.latex/plaintext)."""

import json
import re
import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("latex2mathml", reason="the web extra is not installed")

from conftest import FIXTURES, shared_data  # noqa: E402

from jiansuo.analysis.highlight import excerpt  # noqa: E402
from jiansuo.analysis.latex import find_math, is_html2text_escaped, unescape_tex  # noqa: E402
from jiansuo.analysis.plaintext import MATH_CLOSE, MATH_OPEN, plain_text  # noqa: E402
from jiansuo.web import render  # noqa: E402
from jiansuo.web.mathml import tex_to_mathml  # noqa: E402

BLOG = json.loads((FIXTURES / "research_blog.jsonl").read_text(encoding="utf-8"))


def visible(html: str) -> str:
    """Page text outside MathML."""
    return re.sub(r"<[^>]+>", "", re.sub(r"<math.*?</math>", "", html, flags=re.S))


def test_every_delimiter_and_environment_is_found():
    text = (r"a $x$ b \(y^2\) c $$z$$ d \[w^2\] e \begin{equation}u\end{equation} f \begin{align*}p&=q\end{align*}"
            " `$code$` g")
    spans = find_math(text, escaped=False)
    assert [(s.tex, s.display) for s in spans] == [
        ("x", False), ("y^2", False), ("z", True), ("w^2", True),
        (r"\begin{equation}u\end{equation}", True), (r"\begin{align*}p&=q\end{align*}", True)]


def test_prices_and_escaped_brackets_are_not_math():
    assert find_math("it costs $5 and $10 today", escaped=False) == []
    assert [s.tex for s in find_math("$1/n$ and $2(HB - X)$", escaped=False)] == ["1/n", "2(HB - X)"]
    assert find_math(r"[MASK\]] and \[M\] tokens", escaped=False) == []


def test_html2text_doubled_backslashes_are_undone_inside_math():
    assert is_html2text_escaped(BLOG["body"])
    assert unescape_tex(r"a \\\\[5pt] b \\{x\\} c \\\ d") == r"a \\[5pt] b \{x\} c \\ d"
    aligned = [s for s in find_math(BLOG["body"]) if "aligned" in s.tex][0]
    assert r"\\[5pt]" in aligned.tex and r"\\\\" not in aligned.tex


def test_aligned_display_math_is_a_numbered_mathml_table():
    html = str(render.markdown(BLOG["body"], BLOG["url"]))
    assert html.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block"') == 2
    assert "<mtable" in html and "<mi>&amp;</mi>" not in html  # rows and columns, not a literal `&`
    assert '<span class="eqno">(1)</span>' in html and '<span class="eqno">(2)</span>' in html
    assert "<mtext>(1)</mtext>" in html  # \eqref{eq:update} -> (1)
    text = visible(html)
    assert "\\" not in text and "$" not in text and "<em>" not in html.split("的下划线")[0][-200:]


@pytest.mark.parametrize("tex, spaced", [
    (r"\nabla_{x_t}\log p", '<mo lspace="0.1667em" rspace="0.1667em">log</mo>'),  # not "logp"
    (r"\log(x)", '<mo lspace="0" rspace="0">log</mo>'), (r"\log_2 x", '<mo lspace="0" rspace="0.1667em">log</mo>'),
    (r"x\sin y", '<mo lspace="0.1667em" rspace="0.1667em">sin</mo>')])
def test_operator_names_take_tex_spacing(tex, spaced):
    assert spaced in tex_to_mathml(tex)


def test_a_one_letter_mathrm_stays_upright():  # the d of dx, the i of e^{i pi}
    assert '<mi mathvariant="normal">d</mi>' in tex_to_mathml(r"\int f(x)\,\mathrm{d}x")
    assert '<mi mathvariant="normal">i</mi>' in tex_to_mathml(r"e^{\mathrm{i}\pi}")


def test_macros_tags_and_unknown_commands_render():
    body = (r"定义$\newcommand{\msign}{\mathop{\text{msign}}}$，于是$\msign(\boldsymbol{M})$与$\tr(A)$。"
            "\n\n" r"\begin{equation}x = 1\tag{*}\end{equation}")
    html = str(render.markdown(body))
    assert "msign" in html and "\\msign" not in visible(html) and ">tr</mo>" in html
    assert '<span class="eqno">(*)</span>' in html


def test_a_formula_that_cannot_render_is_a_clean_code_box():
    html = str(render.markdown(r"图：$$\require{AMScd}\begin{CD} A @>f>> B \end{CD}$$"))
    assert '<code class="tex">' in html and "<math" not in html


def test_hostile_tex_stays_inert():
    for tex in (r"\text{</math><img src=x onerror=alert(1)>}", r"\href{javascript:alert(1)}{x}",
                r"\style{x:expression(alert(1))}{y}"):
        root = ET.fromstring(tex_to_mathml(tex) or "<math/>")
        for element in root.iter():
            assert element.tag.startswith("{http://www.w3.org/1998/Math/MathML}") or element.tag == "math"
            assert not any(k.lower().startswith("on") or k == "href" for k in element.attrib)


def test_links_and_images_resolve_against_the_document_url():
    html = str(render.markdown("[prev](/archives/7) ![fig](/usr/uploads/a.png) [x](javascript:alert(1))",
                               "https://blog.example.org/archives/42"))
    assert 'href="https://blog.example.org/archives/7"' in html
    assert 'src="https://blog.example.org/usr/uploads/a.png"' in html
    assert "javascript:" not in html


def test_plain_text_bodies_keep_their_line_breaks():
    html = str(render.markdown("first line\nsecond line\n\nnew paragraph with a_b and 2*3*4 * 5"))
    assert "first line<br>second line" in html and "<em>" not in html and "2*3*4 * 5" in html
    assert "<em>stars</em>" in str(render.markdown("first line\nsecond line with *stars*"))  # only Markdown has those


@pytest.mark.parametrize("url, ok", [
    ("/doc/1", True), ("https://a.org/x", True), ("HTTPS://a.org", True), ("/?q=a%5Cb", True),
    ("//evil.example", False), ("/\\evil.example", False), ("\\\\evil.example", False),
    ("/\t/evil.example", False), ("/\n/evil.example", False), ("/\r/evil.example", False),  # WHATWG drops tab/LF/CR
    (" //evil.example", False), ("\x01//evil.example", False), ("java\tscript:alert(1)", False),
    ("javascript:alert(1)", False), ("JaVaScRiPt:alert(1)", False), ("data:text/html,x", False),
    ("https:evil.example", False), ("https:/\\evil.example", False)])
def test_safe_url(url, ok):
    assert (render.safe_url(url) is not None) is ok


def test_plain_text_drops_markdown_and_keeps_formulas_whole():
    text = plain_text(BLOG["body"])
    assert "](" not in text and "##" not in text and "**" not in text and "|---" not in text
    assert "《第一篇》" in text and "步长与梯度模长" in text
    assert text.count(MATH_OPEN) == text.count(MATH_CLOSE) >= 6


@pytest.mark.parametrize("text, plain", [
    ("A note about *CoSENT* loss: $x$.", "A note about CoSENT loss: \ue000x\ue001."),  # emphasis its only sign
    ("关于*对比学习*的笔记", "关于对比学习的笔记"), ("the _quiescent_ nebulae", "the quiescent nebulae"),
    ("2*3*4 and snake_case_name", "2*3*4 and snake_case_name"), ("p < 0.05* and 3 * 4", "p < 0.05* and 3 * 4")])
def test_plain_text_drops_lone_emphasis_and_keeps_other_stars(text, plain):
    assert plain_text(text) == plain


def test_excerpt_never_cuts_a_formula():
    text = plain_text(BLOG["body"])
    for width in range(20, 200, 7):
        for segment, _ in excerpt(text, {"模长", "步长"}, width):
            assert segment.count(MATH_OPEN) == segment.count(MATH_CLOSE)


def test_excerpt_window_has_the_most_distinct_terms_among_many_matches():
    # a long text repeating one term, with the one window that holds all three terms far inside it
    # (linear time on such texts is measured in bench/reliability.py: an 800 kB document in 35 ms)
    text = "lorem " * 10_000 + "ipsum dolor lorem " + "lorem " * 10_000  # within the 100k characters scanned
    segments = excerpt(text, {"lorem", "ipsum", "dolor"}, 60)
    assert {piece for piece, match in segments if match} == {"lorem", "ipsum", "dolor"}


@pytest.mark.slow
def test_excerpts_of_real_posts_show_no_markdown_or_raw_tex():
    from jiansuo.ingest import IngestProblem, read_path
    from jiansuo.searching import best_excerpt

    path = shared_data("kexue") / "kexue.jsonl"
    documents = [d for d in read_path(path, "jsonl") if not isinstance(d, IngestProblem)]
    assert len(documents) == 312
    for document in documents:
        for terms in ({"模型"}, {"梯度", "优化"}, set()):
            html = str(render.highlighted(best_excerpt(document, terms)))
            text = visible(html)
            assert not re.search(r"\]\(|^#{1,6} |\*\*|!\[", text), (document.id, text)
            assert not re.search(r"\\[A-Za-z]{2,}", re.sub(r'<code class="tex">.*?</code>', "", text)), (
                document.id, text)


def test_excerpts_carry_the_documents_equation_numbers():
    text = plain_text(BLOG["body"])
    assert MATH_OPEN + r"\text{(1)}" + MATH_CLOSE in text and "eqref" not in text
