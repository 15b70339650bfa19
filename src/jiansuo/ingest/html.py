"""HTML blog archives: one page per post, as a static-site generator (Hugo, Jekyll, Hexo) or a saved blog writes it.

The post's fields come from the page's metadata (OpenGraph, `<meta name=…>`, schema.org JSON-LD, `<time>`,
`rel="tag"` links); the body is the article's main content turned back into Markdown with its formulas as TeX,
so the reading pipeline renders them as it renders a Markdown post:
- MathJax sources (`<script type="math/tex">`) and KaTeX or MathML output (their `application/x-tex`
  annotation) become `$…$` / `$$…$$`; TeX left in the text for MathJax (`\\(…\\)`, `$$…$$`) stays as it is;
- headings, paragraphs, lists, quotes, code blocks, links, images, emphasis and tables keep their Markdown form;
- navigation, headers, footers, sidebars, comments, forms and scripts are dropped.
A site's pages about posts (the home page, tag, category, author and paginated lists, a 404 page) are not posts:
they are reported and not stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import lxml.html
from lxml import etree

from jiansuo.ingest.fields import IngestProblem, accepted, decoded
from jiansuo.model import Document

SUFFIXES = {".html", ".htm"}

def _class(name: str) -> str:
    return f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]"


_CONTENT = ("//*[@itemprop='articleBody']", _class("entry-content"), _class("post-content"), _class("post-body"),
            _class("article-content"), _class("markdown-body"), "//article", "//main", "//*[@role='main']",
            "//*[@id='content']", _class("post"), _class("content"))
_DROPPED = {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg", "button",
            "template", "select", "input", "textarea", "object", "embed", "canvas", "video", "audio"}
_DROPPED_MARKS = re.compile(r"\b(comments?|share|sharing|social|related|sidebar|breadcrumbs?|pagination|pager|"
                            r"post-nav|navigation|newsletter|subscribe|advert\w*|MathJax\w*|sr-only)\b", re.I)
_BLOCKS = {"p", "div", "section", "figure", "figcaption", "dl", "dt", "dd", "center", "details", "summary",
           "address", "article", "main"}
_DATE_IN_PATH = re.compile(r"(?:^|/)((?:19|20)\d\d)[/-](\d\d)(?:[/-](\d\d))?(?:/|-|$)")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.I)
_WHITESPACE = re.compile(r"[ \t\r\n\f]+")
_LISTING_PATH = re.compile(r"(?:^|/)(?:(?:tags?|categor(?:y|ies)|authors?)(?:/[^/]+)?|page/\d+)$")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")  # lxml refuses a str that declares an encoding


def read_html(path: Path, root: Path | None = None,
              field_map: dict[str, str] | None = None) -> Iterator[Document | IngestProblem]:
    """A post from one HTML page; its id is the page's path under `root` (the folder being read) without the
    suffix, `…/post/index.html` giving `…/post`."""
    raw = path.read_bytes()
    text = _decoded(raw)
    if text is None:
        yield IngestProblem(str(path), 1, "neither UTF-8 nor the charset its <meta> declares; not stored")
        return
    try:
        page = lxml.html.document_fromstring(_XML_DECLARATION.sub("", text, count=1))
    except (etree.ParserError, ValueError) as error:
        yield IngestProblem(str(path), 1, f"not an HTML page ({error}); not stored")
        return
    doc_id = page_id(path, root)
    listing = listing_reason(page, doc_id)
    if listing:
        yield IngestProblem(str(path), 1, f"{listing}, not a post; not stored", skipped=False)
        return
    record = page_metadata(page)
    record["id"] = doc_id
    if "date" not in record:
        match = _DATE_IN_PATH.search(path.as_posix())
        if match:
            record["date"] = "-".join(part for part in match.groups() if part)
    body = markdown_of(main_content(page))
    title = str(record.get("title", ""))
    first, _, rest = body.partition("\n")
    if title and first.lstrip("# ").strip() == title.strip():
        body = rest.strip()
    if not title and first.startswith("# "):
        record["title"], body = first[2:].strip(), rest.strip()
    if not body.strip() and not record.get("summary"):
        yield IngestProblem(str(path), 1, "no text in the page's main content; not stored")
        return
    record["body"] = body
    yield from accepted(record, field_map, str(path), 1)


def listing_reason(page: lxml.html.HtmlElement, doc_id: str) -> str:
    """Why a page is a site's page about posts rather than a post ("" when it is a post): several <article>s, a
    tag, category, author or paginated list by its path (the generators' own), the home page, a 404 page."""
    articles = len(page.xpath("//article"))
    if articles > 1:
        return f"a listing page ({articles} posts)"
    if _LISTING_PATH.search(doc_id):
        return "a tag, category, author or page list (by its path)"
    kind = page.xpath("string(//meta[@property='og:type']/@content)").strip()
    if doc_id == "index" and (kind == "website" or page.xpath("//a[@rel='next'] | //link[@rel='next']")):
        return "the site's home page"
    if doc_id == "404":
        return "the site's page-not-found page"
    return ""


def page_id(path: Path, root: Path | None) -> str:
    relative = path.relative_to(root) if root is not None and path.is_relative_to(root) else Path(path.name)
    stem = relative.with_suffix("")
    if stem.name == "index" and stem.parent != Path("."):
        stem = stem.parent
    return stem.as_posix()


def page_metadata(page: lxml.html.HtmlElement) -> dict:
    """The post's fields from the page's head and markup, the first source that has each."""
    meta: dict[str, list[str]] = {}
    for element in page.iter("meta"):
        key = (element.get("property") or element.get("name") or element.get("itemprop") or "").strip().lower()
        content = (element.get("content") or "").strip()
        if key and content:
            meta.setdefault(key, []).append(content)
    linked = _json_ld(page)
    record: dict = {}

    def first(*values) -> str:
        return next((v for v in values if v), "")

    record["title"] = first(*meta.get("og:title", []), *meta.get("citation_title", []), linked.get("headline"),
                            _text_of(page, "//article//h1 | //main//h1"), _title_tag(page, meta))
    record["date"] = first(*meta.get("article:published_time", []), *meta.get("citation_publication_date", []),
                           *meta.get("date", []), *meta.get("dc.date", []), *meta.get("datepublished", []),
                           linked.get("datePublished"), _attribute(page, "//time[@datetime]", "datetime"))
    authors = meta.get("citation_author") or meta.get("author") or _json_ld_people(linked.get("author"))
    authors = authors or [a for a in meta.get("article:author", []) if not a.startswith("http")]
    record["authors"] = authors or _texts(page, "//*[@rel='author'] | //*[@itemprop='author']")
    record["summary"] = first(*meta.get("description", []), *meta.get("og:description", []))
    record["url"] = first(_attribute(page, "//link[@rel='canonical']", "href"), *meta.get("og:url", []))
    keywords = meta.get("keywords") or _json_ld_list(linked.get("keywords"))
    tags = meta.get("article:tag") or [t for k in keywords for t in re.split(r"\s*[,，;；]\s*", k)]
    record["tags"] = [t for t in tags or _texts(page, "//a[contains(concat(' ', @rel, ' '), ' tag ')]") if t]
    record["categories"] = meta.get("article:section", [])
    language = (page.get("lang") or "").strip().lower()
    if language[:2] in ("zh", "en"):
        record["language"] = language[:2]
    return {k: v for k, v in record.items() if v not in ("", [], None)}


def main_content(page: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """The element holding the post itself: the most specific known container with text, else <body>."""
    body = page.find("body")
    scope = body if body is not None else page
    for path in _CONTENT:
        for element in scope.xpath(path):
            if _WHITESPACE.sub("", element.text_content()):
                return element
    return scope


def markdown_of(element: lxml.html.HtmlElement) -> str:
    """Markdown (with TeX formulas) for an element's content."""
    _formulas_as_tex(element)
    out: list[str] = []
    _walk(element, out, _Context())
    text = "".join(out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class _Context:
    """Where the walk is: how deep in lists, and whether the innermost list is numbered."""

    def __init__(self, depth: int = 0, ordered: bool = False) -> None:
        self.depth, self.ordered = depth, ordered


def _formulas_as_tex(element: lxml.html.HtmlElement) -> None:
    """Replace MathJax script sources, KaTeX and MathML by their TeX between dollar signs (text nodes)."""
    for script in element.xpath(".//script[starts-with(@type, 'math/tex')]"):
        display = "mode=display" in script.get("type", "")
        _replace(script, f"$${script.text or ''}$$" if display else f"${script.text or ''}$")
    for katex in element.xpath("." + _class("katex")):
        parent = katex.getparent()
        if parent is None:
            continue
        tex = "".join(katex.xpath(".//annotation[@encoding='application/x-tex']/text()")).strip()
        display = "katex-display" in (parent.get("class") or "")
        _replace(parent if display else katex, f"$${tex}$$" if display else f"${tex}$")
    for math in element.xpath(".//*[local-name()='math']"):
        tex = "".join(math.xpath(".//*[local-name()='annotation'][@encoding='application/x-tex']/text()")).strip()
        tex = tex or (math.get("alttext") or "").strip()
        if tex:
            _replace(math, f"$${tex}$$" if math.get("display") == "block" else f"${tex}$")


def _replace(node, text: str) -> None:
    """Put `text` where `node` was (as the previous node's tail) and remove the node."""
    parent = node.getparent()
    if parent is None:
        return
    previous = node.getprevious()
    joined = text + (node.tail or "")
    if previous is not None:
        previous.tail = (previous.tail or "") + joined
    else:
        parent.text = (parent.text or "") + joined
    parent.remove(node)


def _walk(element, out: list[str], context: _Context) -> None:
    _append_text(element.text, out)
    for child in element:
        if isinstance(child.tag, str) and not _dropped(child):  # comments and processing instructions have none
            _element(child, out, context)
        _append_text(child.tail, out)


def _append_text(value: str | None, out: list[str]) -> None:
    text = _WHITESPACE.sub(" ", value) if value else ""
    if text and (not out or out[-1].endswith("\n")):
        text = text.lstrip()  # the indentation of the source's markup, not of the Markdown
    if text:
        out.append(text)


def _element(node, out: list[str], context: _Context) -> None:
    tag = node.tag.lower()
    if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
        out.append(f"\n\n{'#' * int(tag[1])} {_inline(node, context)}\n\n")
    elif tag == "br":
        out.append("  \n")
    elif tag == "pre":
        code = node.find(".//code")
        language = re.search(r"language-([\w+-]+)", (code if code is not None else node).get("class") or "")
        out.append(f"\n\n```{language.group(1) if language else ''}\n{node.text_content().strip(chr(10))}\n```\n\n")
    elif tag == "code":  # a <pre>'s code is taken whole above
        out.append(f"`{node.text_content()}`")
    elif tag in ("ul", "ol"):
        out.append("\n\n")
        inner = _Context(context.depth + 1, tag == "ol")
        for number, item in enumerate((c for c in node if isinstance(c.tag, str) and c.tag.lower() == "li"), 1):
            marker = f"{number}." if inner.ordered else "-"
            out.append(f"{'  ' * context.depth}{marker} {_inline(item, inner).strip()}\n")
        out.append("\n")
    elif tag == "blockquote":
        quoted = "\n".join(f"> {line}" if line else ">" for line in _inline(node, context).strip().splitlines())
        out.append(f"\n\n{quoted}\n\n")
    elif tag == "a":
        label, href = _inline(node, context).strip(), (node.get("href") or "").strip()
        out.append(f"[{label}]({href})" if label and href and not href.startswith("#") else label)
    elif tag == "img":
        source = (node.get("src") or node.get("data-src") or "").strip()
        if source:
            out.append(f"![{_WHITESPACE.sub(' ', node.get('alt') or '').strip()}]({source})")
    elif tag in ("strong", "b"):
        _wrapped(node, out, context, "**")
    elif tag in ("em", "i"):
        _wrapped(node, out, context, "*")
    elif tag == "table":
        out.append(f"\n\n{_table(node, context)}\n\n")
    elif tag == "hr":
        out.append("\n\n")
    elif tag in _BLOCKS:
        out.append("\n\n")
        _walk(node, out, context)
        out.append("\n\n")
    else:
        _walk(node, out, context)


def _wrapped(node, out: list[str], context: _Context, mark: str) -> None:
    inner = _inline(node, context)
    stripped = inner.strip()
    if stripped:
        out.append(f"{inner[: len(inner) - len(inner.lstrip())]}{mark}{stripped}{mark}"
                   f"{inner[len(inner.rstrip()):]}")


def _inline(node, context: _Context) -> str:
    parts: list[str] = []
    _walk(node, parts, context)
    return re.sub(r"\n{3,}", "\n\n", "".join(parts)).strip("\n")


def _table(node, context: _Context) -> str:
    rows = [[_WHITESPACE.sub(" ", _inline(cell, context)).replace("|", "\\|").strip()
             for cell in row if isinstance(cell.tag, str) and cell.tag.lower() in ("td", "th")]
            for row in node.iter("tr")]
    rows = [row for row in rows if row]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in rows]
    lines.insert(1, "|" + "---|" * width)
    return "\n".join(lines)


def _dropped(node) -> bool:
    tag = node.tag.lower() if isinstance(node.tag, str) else ""
    # `hidden` is kept: pages hide text their scripts reveal (tabs, per-platform variants); aria-hidden marks
    # visual duplicates (KaTeX's glyphs, icon fonts)
    if tag in _DROPPED or node.get("aria-hidden") == "true":
        return True
    marks = f"{node.get('class') or ''} {node.get('id') or ''}"
    return bool(marks.strip()) and bool(_DROPPED_MARKS.search(marks))


def _decoded(raw: bytes) -> str | None:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _CHARSET.search(raw[:4096])
    if declared:
        try:
            return raw.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            return None
    found = decoded(raw)
    return found[0] if found else None


def _json_ld(page) -> dict:
    """The first schema.org JSON-LD object that describes an article (or the first one at all)."""
    found: list[dict] = []
    for script in page.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except (json.JSONDecodeError, RecursionError):
            continue
        items = data.get("@graph", [data]) if isinstance(data, dict) else data if isinstance(data, list) else []
        found += [item for item in items if isinstance(item, dict)]
    for item in found:
        kind = item.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if any(str(k).endswith(("Article", "Posting", "ScholarlyArticle")) for k in kinds):
            return item
    return found[0] if found else {}


def _json_ld_people(value: object) -> list[str]:
    people = value if isinstance(value, list) else [value] if value else []
    names = [p.get("name") if isinstance(p, dict) else p for p in people]
    return [str(n).strip() for n in names if isinstance(n, str) and n.strip()]


def _json_ld_list(value: object) -> list[str]:
    values = value if isinstance(value, list) else [value] if value else []
    return [v for v in values if isinstance(v, str)]


def _title_tag(page, meta: dict[str, list[str]]) -> str:
    """<title> without the site's name when it ends with it ("Post - Site", "Post | Site")."""
    title = _WHITESPACE.sub(" ", page.findtext(".//title") or "").strip()
    site = (meta.get("og:site_name") or meta.get("application-name") or [""])[0]
    for separator in (" | ", " - ", " – ", " — ", " · ", " :: "):
        head, sep, tail = title.rpartition(separator)
        if sep and head and site and tail.strip() == site:
            return head.strip()
    return title


def _text_of(page, xpath: str) -> str:
    found = page.xpath(xpath)
    return _WHITESPACE.sub(" ", found[0].text_content()).strip() if found else ""


def _texts(page, xpath: str) -> list[str]:
    return [t for t in (_WHITESPACE.sub(" ", e.text_content()).strip() for e in page.xpath(xpath)) if t]


def _attribute(page, xpath: str, name: str) -> str:
    found = page.xpath(xpath)
    return (found[0].get(name) or "").strip() if found else ""
