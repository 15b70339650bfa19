"""Turn untrusted document text into safe HTML: escaped text, highlighted excerpts, MathML, Markdown.

Formulas are found before Markdown sees the text (jiansuo.analysis.latex) and stand in it as placeholders,
so Markdown can neither mangle them (`_` into italics) nor cut them. Everything that leaves here is either
escaped by markupsafe, rendered by markdown-it with raw HTML off, or MathML built as an element tree and
serialised (jiansuo.web.mathml), so no document can inject markup.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from jiansuo.analysis.latex import Numbering
from jiansuo.analysis.plaintext import (
    MATH,
    MATH_CLOSE,
    MATH_OPEN,
    PLACEHOLDER,
    Formulas,
    looks_like_markdown,
    prepared,
)
from jiansuo.web.mathml import formula_html

EXCERPT_FORMULA_CHARS = 120  # longer formulas are elided from excerpts, not shown cut
_TAG_OR_TEXT = re.compile(r"(<[^>]*>)")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def text_with_math(text: str) -> Markup:
    """Plain text (a title, a summary) with its formulas rendered as MathML."""
    if not text:
        return Markup("")
    placeheld, formulas = prepared(text)
    return Markup(_with_formulas(str(escape(placeheld)), formulas, Numbering()))


def highlighted(segments: list[tuple[str, bool]]) -> Markup:
    """Excerpt segments -> escaped HTML with <mark> around matches and formulas rendered.

    Segments come from jiansuo.analysis.highlight: formulas stand whole between MATH_OPEN and MATH_CLOSE,
    and a formula wins over highlighting inside it.
    """
    out: list[str] = []
    for text, is_match in segments:
        position = 0
        for match in MATH.finditer(text):
            out.append(_marked(text[position : match.start()], is_match))
            out.append(excerpt_formula(match.group(1)))
            position = match.end()
        out.append(_marked(text[position:], is_match))
    return Markup("".join(out))


def excerpt_formula(tex: str) -> str:
    if len(tex) > EXCERPT_FORMULA_CHARS:
        return '<span class="formula-elided" title="formula">[⋯]</span>'
    return formula_html(tex, display=False)


def excerpt_text(segments: list[tuple[str, bool]]) -> list[dict]:
    """Excerpt segments for the JSON API: formulas written back as `$…$`."""
    return [{"text": text.replace(MATH_OPEN, "$").replace(MATH_CLOSE, "$"), "match": is_match}
            for text, is_match in segments]


def _marked(text: str, is_match: bool) -> str:
    if not text:
        return ""
    piece = str(escape(text))
    return f"<mark>{piece}</mark>" if is_match else piece


def safe_url(url: str) -> str | None:
    """Only http(s) and site-relative links survive; `javascript:` and friends become None."""
    url = (url or "").strip()
    if not url:
        return None
    if url.startswith("/") and not url.startswith("//") and not url.startswith("/\\"):
        return None if _CONTROL.search(url) else url
    parts = urlsplit(url)
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def resolve_url(url: str, base: str) -> str | None:
    """A link of a document resolved against the document's own address, then checked by safe_url."""
    url = (url or "").strip()
    if url.startswith("#"):
        return url
    absolute_base = safe_url(base) if base and not base.startswith("/") else None
    if absolute_base and not urlsplit(url).scheme:
        url = urljoin(absolute_base, url)
    return safe_url(url)


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False})
    setattr(md, "validateLink", lambda url: True)  # noqa: B010 - links are checked (and resolved) by _links
    md.enable("table")
    return md


_MD = _markdown()


def markdown(text: str, base_url: str = "") -> Markup:
    """A document body as HTML: Markdown (raw HTML off) or plain text with its line breaks, formulas as
    MathML with equation numbers, links and images resolved against `base_url`, unsafe ones dropped."""
    placeheld, formulas = prepared(text)
    numbering = Numbering.of(formulas.spans)
    if looks_like_markdown(placeheld):
        tokens = _MD.parse(placeheld)
        _links(tokens, base_url)
        rendered = _MD.renderer.render(tokens, _MD.options, {})
    else:
        rendered = "".join(f"<p>{'<br>'.join(str(escape(line)) for line in paragraph.split(chr(10)))}</p>\n"
                           for paragraph in re.split(r"\n\s*\n", placeheld.strip()) if paragraph.strip())
    return Markup(_with_formulas(rendered, formulas, numbering))


def _links(tokens: list, base_url: str) -> None:
    """Resolve each link's href and image's src against the document's address; drop the unsafe ones."""
    for token in tokens:
        for child in token.children or []:
            attribute = {"link_open": "href", "image": "src"}.get(child.type)
            if attribute is None:
                continue
            url = resolve_url(child.attrGet(attribute) or "", base_url)
            if url is None:
                child.attrs.pop(attribute, None)
                continue
            child.attrSet(attribute, url)
            if child.type == "image":
                child.attrSet("loading", "lazy")
            elif not url.startswith(("/", "#")):
                child.attrSet("rel", "noopener noreferrer")


def _with_formulas(rendered: str, formulas: Formulas, numbering: Numbering) -> str:
    """Placeholders -> formulas: MathML in text, the TeX itself inside a tag (an image's alt text)."""
    out: list[str] = []
    for part in _TAG_OR_TEXT.split(rendered):
        if part.startswith("<"):
            out.append(PLACEHOLDER.sub(lambda m: str(escape(formulas.spans[int(m.group(1))].tex)), part))
        else:
            out.append(PLACEHOLDER.sub(lambda m: _formula(formulas, numbering, int(m.group(1))), part))
    return "".join(out)


def _formula(formulas: Formulas, numbering: Numbering, index: int) -> str:
    span = formulas.spans[index]
    if not span.tex.strip():
        return ""
    return formula_html(span.tex, span.display, numbering.numbers.get(index, ""), numbering.labels)
