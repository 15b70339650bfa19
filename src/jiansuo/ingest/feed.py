"""Blog exports and feeds: a WordPress export (WXR), an RSS 2.0 or an Atom file; one document per post.

Fields come from each item (title, link, guid or id, pubDate/published, dc:creator/author, categories and tags,
description/summary); the post's HTML (content:encoded, Atom content) becomes Markdown with its formulas as TeX
through the HTML reader. WordPress specifics: only published posts and pages are stored (drafts, private posts,
attachments and menu items are reported, not stored), its paragraphs-by-blank-lines become paragraphs, and
WordPress.com's `$latex …$` and `[latex]…[/latex]` formulas become `$…$`, `[code]` blocks code, and media
shortcodes (`[caption]`, `[gallery]`, …) leave their text. An item that cannot be read is
reported as `file:line: reason` and the rest are read; the XML is parsed without entities or network access.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape as html_escape
from pathlib import Path

import lxml.html
from lxml import etree

from jiansuo.ingest.fields import IngestProblem, accepted
from jiansuo.ingest.html import markdown_of
from jiansuo.model import Document

SUFFIXES = {".xml", ".rss", ".atom"}
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
_WP = re.compile(r"^\{http://wordpress\.org/export/[\d.]+/\}")
_WP_LATEX = re.compile(r"\$latex\s+(.+?)\$|\[latex\](.+?)\[/latex\]", re.S)
_WP_CODE = re.compile(r"\[(code|sourcecode)(?:\s+(?:lang|language)=[\"']?([\w+-]+)[\"']?)?[^\]]*\](.*?)\[/\1\]", re.S)
_WP_SHORTCODE = re.compile(r"\[/?(?:caption|gallery|audio|video|embed|playlist|wp_caption)\b[^\]]*\]")
_PUBLISHED = {"publish", "inherit", ""}
_POST_TYPES = {"post", "page", ""}


def looks_like_feed(path: Path) -> bool:
    """Whether an .xml file is an RSS, Atom or WordPress export (its first 2 KB name one)."""
    with open(path, "rb") as handle:
        head = handle.read(2048).lower()
    return b"<rss" in head or b"<feed" in head or b"wordpress.org/export" in head


def read_feed(path: Path, field_map: dict[str, str] | None = None) -> Iterator[Document | IngestProblem]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=False, huge_tree=False)
    try:
        root = etree.parse(str(path), parser).getroot()
    except etree.XMLSyntaxError as error:
        yield IngestProblem(str(path), error.lineno or 1, f"not well-formed XML ({error.msg}); not stored")
        return
    items = root.findall(f"{ATOM}entry") if root.tag == f"{ATOM}feed" else root.findall("./channel/item")
    if not items and root.tag not in (f"{ATOM}feed", "rss"):
        yield IngestProblem(str(path), 1, f"not an RSS, Atom or WordPress export (root element <{root.tag}>)")
        return
    seen: dict[str, int] = {}
    for item in items:
        line = item.sourceline or 1
        try:
            record = atom_record(item) if item.tag == f"{ATOM}entry" else rss_record(item)
        except _NotAPost as reason:
            yield IngestProblem(str(path), line, f"{reason}; not stored", skipped=False)
            continue
        yield from accepted(record, field_map, str(path), line, seen, "item")


class _NotAPost(Exception):
    pass


def rss_record(item) -> dict:
    """An RSS 2.0 item, with WordPress's export fields when present."""
    wordpress = {_WP.sub("", child.tag): (child.text or "").strip() for child in item
                 if isinstance(child.tag, str) and _WP.match(child.tag)}
    status, kind = wordpress.get("status", ""), wordpress.get("post_type", "")
    if status not in _PUBLISHED or kind not in _POST_TYPES:
        raise _NotAPost(f"a WordPress {kind or 'item'} ({status or 'no status'}), not a published post or page")
    categories: list[str] = []
    tags: list[str] = []
    for category in item.findall("category"):
        label = (category.text or "").strip()
        if label:
            (tags if category.get("domain") == "post_tag" else categories).append(label)
    content = _text(item.find(CONTENT))
    if wordpress:
        content = _wordpress_paragraphs(_wordpress_shortcodes(content))
    link = _text(item.find("link"))
    return {
        "id": wordpress.get("post_id") or _text(item.find("guid")) or link or _text(item.find("title")),
        "title": _text(item.find("title")),
        "url": link,
        "date": wordpress.get("post_date") or _text(item.find("pubDate")),
        "authors": [a for a in (_text(item.find(DC_CREATOR)), _text(item.find("author"))) if a][:1],
        "summary": _html_text(_text(item.find("description"))) if content else "",
        "body": _html_text(content or _text(item.find("description"))),
        "categories": [] if categories == ["Uncategorized"] else categories,
        "tags": tags,
    }


def atom_record(entry) -> dict:
    link = next((e.get("href", "") for e in entry.findall(f"{ATOM}link")
                 if e.get("rel", "alternate") == "alternate"), "")
    content = entry.find(f"{ATOM}content")
    summary = entry.find(f"{ATOM}summary")
    body = _atom_html(content) if content is not None else _atom_html(summary)
    return {
        "id": _text(entry.find(f"{ATOM}id")) or link or _text(entry.find(f"{ATOM}title")),
        "title": _html_text(_text(entry.find(f"{ATOM}title"))) if _is_html(entry.find(f"{ATOM}title"))
        else _text(entry.find(f"{ATOM}title")),
        "url": link,
        "date": _text(entry.find(f"{ATOM}published")) or _text(entry.find(f"{ATOM}updated")),
        "authors": [_text(a.find(f"{ATOM}name")) for a in entry.findall(f"{ATOM}author") if a.find(f"{ATOM}name")
                    is not None],
        "summary": _atom_html(summary) if content is not None and summary is not None else "",
        "body": body,
        "tags": [c.get("term", "") for c in entry.findall(f"{ATOM}category") if c.get("term")],
    }


def _atom_html(element) -> str:
    if element is None:
        return ""
    kind = element.get("type", "text")
    if kind == "xhtml":
        inner = "".join(etree.tostring(child, encoding="unicode") for child in element)
        return _html_text((element.text or "") + inner)
    return _html_text(element.text or "") if kind == "html" else (element.text or "").strip()


def _is_html(element) -> bool:
    return element is not None and element.get("type") in ("html", "xhtml")


def _html_text(markup: str) -> str:
    """Markdown (formulas as TeX) of an HTML fragment; text without markup comes back as it is."""
    if not markup.strip():
        return ""
    if "<" not in markup and "&" not in markup:
        return markup.strip()
    return markdown_of(lxml.html.fragment_fromstring(markup, create_parent="div"))


def _wordpress_shortcodes(content: str) -> str:
    """WordPress.com's formulas as TeX, its code blocks as <pre>, its media shortcodes gone (their text stays)."""
    content = _WP_LATEX.sub(lambda m: f"${(m.group(1) or m.group(2)).strip()}$", content)
    content = _WP_CODE.sub(lambda m: f'<pre><code class="language-{m.group(2) or ""}">{html_escape(m.group(3))}'
                                     "</code></pre>", content)
    return _WP_SHORTCODE.sub("", content)


def _wordpress_paragraphs(content: str) -> str:
    """WordPress stores posts with blank lines between paragraphs and adds the <p>s when it shows them."""
    if re.search(r"<p[\s>]", content, re.I) or "\n\n" not in content:
        return content
    pieces = re.split(r"(<pre[\s>].*?</pre>)", content, flags=re.S | re.I)  # code keeps its blank lines
    return "".join(piece if index % 2 else "".join(f"<p>{block.strip()}</p>" for block in
                                                   re.split(r"\n\s*\n", piece) if block.strip())
                   for index, piece in enumerate(pieces))


def _text(element) -> str:
    return (element.text or "").strip() if element is not None else ""
