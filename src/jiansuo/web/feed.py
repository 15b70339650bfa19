"""Atom feeds of a search: every text is escaped by the XML serializer, every link is http(s) or ours."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, time
from urllib.parse import quote

from jiansuo.analysis.plaintext import MATH_CLOSE, MATH_OPEN
from jiansuo.model import SearchPage
from jiansuo.web.render import safe_url

ATOM = "http://www.w3.org/2005/Atom"


def atom_feed(page: SearchPage, title: str, self_url: str, base_url: str) -> bytes:
    """The page's hits as Atom entries; `base_url` is the site's configured address, never a request's Host."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "title", title)
    _text(feed, "id", self_url)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=_xml_safe(self_url))
    dates = [h.document.date for h in page.hits if h.document and h.document.date]
    _text(feed, "updated", _stamp(max(dates) if dates else None))
    for hit in page.hits:
        document = hit.document
        if document is None:
            continue
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ours = f"{base_url}/doc/{quote(document.id, safe='')}"
        _text(entry, "title", document.title or document.id)
        _text(entry, "id", ours)
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=_xml_safe(safe_url(document.url) or ours))
        _text(entry, "updated", _stamp(document.date))
        for name in document.authors[:10]:
            _text(ET.SubElement(entry, f"{{{ATOM}}}author"), "name", name)
        for category in document.categories:
            ET.SubElement(entry, f"{{{ATOM}}}category", term=_xml_safe(category))
        summary = "".join(text for text, _ in hit.excerpt).replace(MATH_OPEN, "$").replace(MATH_CLOSE, "$")
        _text(entry, "summary", summary)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    element.text = _xml_safe(value)
    return element


def _xml_safe(value: str) -> str:
    """XML 1.0 cannot hold most control characters at all, escaped or not."""
    return "".join(ch for ch in value if ch in "\t\n\r" or (ord(ch) >= 0x20 and ch not in "\ufffe\uffff"
                                                              and not 0xD800 <= ord(ch) <= 0xDFFF))


def _stamp(value) -> str:
    if value is None:
        return "1970-01-01T00:00:00Z"
    return datetime.combine(value, time(0, 0), tzinfo=UTC).isoformat().replace("+00:00", "Z")
