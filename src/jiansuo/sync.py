"""`jiansuo sync`: pull new and changed documents from the sources in the site's configuration.

    [[sync]]
    kind = "rss"                       # an RSS 2.0 or Atom feed (a blog)
    url = "https://blog.example.org/feed.xml"

    [[sync]]
    kind = "folder"                    # Markdown/HTML sources of a static site
    path = "/srv/blog/content/posts"

    [[sync]]
    kind = "oai-pmh"                   # an arXiv-style listing: OAI-PMH ListRecords with resumption tokens
    url = "https://export.arxiv.org/oai2"
    metadata_prefix = "arXiv"          # or "oai_dc"
    set = "cs"                         # optional
    from = "2024-01-01"                # optional; later runs start from the last datestamp seen

Runs are idempotent (documents are stored by id; unchanged ones are not rewritten) and resumable: an OAI-PMH
listing records its resumption token in the store after each page is stored, so a run killed mid-listing goes on
from the next page. Each source's state lives in the store's meta table under `sync:<name>`.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from lxml import etree, html

from jiansuo.engine import Engine
from jiansuo.ingest import read_path
from jiansuo.ingest.fields import journal_name
from jiansuo.model import Document

TIMEOUT_S = 60
USER_AGENT = "jiansuo-sync/0.1"
KINDS = ("rss", "folder", "oai-pmh")
NS = {"atom": "http://www.w3.org/2005/Atom", "content": "http://purl.org/rss/1.0/modules/content/",
      "dc": "http://purl.org/dc/elements/1.1/", "oai": "http://www.openarchives.org/OAI/2.0/",
      "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/", "arXiv": "http://arxiv.org/OAI/arXiv/"}


class SyncError(RuntimeError):
    pass


@dataclass
class SyncReport:
    source: str
    seen: int = 0
    changed: int = 0
    deleted: int = 0
    pages: int = 0


def sync_all(engine: Engine, sources: list[dict], log: Callable[[str], None] = print) -> list[SyncReport]:
    reports = [sync_source(engine, source, log) for source in sources]
    engine.refresh()
    return reports


def source_name(source: dict) -> str:
    return str(source.get("name") or source.get("url") or source.get("path") or source.get("kind"))


def sync_source(engine: Engine, source: dict, log: Callable[[str], None] = print) -> SyncReport:
    kind = source.get("kind")
    if kind not in KINDS:
        raise SyncError(f"sync source {source_name(source)!r}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    report = SyncReport(source_name(source))
    if kind == "rss":
        documents = list(feed_documents(fetch(_required(source, "url"))))
        report.seen, report.pages = len(documents), 1
        report.changed = engine.add(documents)
    elif kind == "folder":
        documents = [d for d in read_path(Path(_required(source, "path"))) if isinstance(d, Document)]
        report.seen, report.changed = len(documents), engine.add(documents)
    else:
        _oai_pmh(engine, source, report, log)
    log(f"{report.source}: {report.seen} seen, {report.changed} new or changed, {report.deleted} deleted")
    return report


def _required(source: dict, key: str) -> str:
    value = source.get(key)
    if not isinstance(value, str) or not value:
        raise SyncError(f"sync source {source_name(source)!r} ({source.get('kind')}): needs {key} = \"...\"")
    return value


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - configured sources
            return response.read()
    except OSError as error:
        raise SyncError(f"{url}: {error}") from error


# -- RSS / Atom ----------------------------------------------------------------------------------
def feed_documents(data: bytes) -> Iterator[Document]:
    """Documents of an RSS 2.0 or Atom feed (the full content when the feed carries it, else the summary)."""
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as error:
        raise SyncError(f"the feed is not XML ({error})") from error
    for item in root.iter("item"):
        link = _text(item, "link")
        yield Document(id=_text(item, "guid") or link, url=link, title=_text(item, "title"),
                       body=_html_text(_text(item, "content:encoded") or _text(item, "description")),
                       date=_date(_text(item, "pubDate") or _text(item, "dc:date")),
                       authors=[a for a in (_text(item, "author") or _text(item, "dc:creator"),) if a],
                       categories=[c.text.strip() for c in item.findall("category") if c.text and c.text.strip()])
    for entry in root.iter(f"{{{NS['atom']}}}entry"):
        link = next((a.get("href", "") for a in entry.findall("atom:link", NS)
                     if a.get("rel", "alternate") == "alternate"), "")
        yield Document(id=_text(entry, "atom:id") or link, url=link, title=_text(entry, "atom:title"),
                       body=_html_text(_text(entry, "atom:content") or _text(entry, "atom:summary")),
                       date=_date(_text(entry, "atom:published") or _text(entry, "atom:updated")),
                       authors=[n.text.strip() for n in entry.findall("atom:author/atom:name", NS) if n.text],
                       categories=[c.get("term", "") for c in entry.findall("atom:category", NS) if c.get("term")])


def _text(element, path: str) -> str:
    found = element.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


def _html_text(markup: str) -> str:
    """Feed HTML as plain text with paragraph breaks (TeX in it is kept as written)."""
    if "<" not in markup:
        return markup
    tree = html.fragment_fromstring(markup, create_parent="div")
    for block in tree.iter("p", "div", "br", "li", "h1", "h2", "h3", "h4", "pre", "blockquote"):
        block.tail = "\n\n" + (block.tail or "")
    return "\n".join(line.strip() for line in tree.text_content().splitlines()).strip()


def _date(text: str) -> date | None:
    if not text:
        return None
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError):
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


# -- OAI-PMH ---------------------------------------------------------------------------------------
def _oai_pmh(engine: Engine, source: dict, report: SyncReport, log: Callable[[str], None]) -> None:
    base = _required(source, "url")
    key = f"sync:{report.source}"
    state = json.loads(engine.store.get_meta(key) or "{}")
    prefix = source.get("metadata_prefix", "arXiv")
    if state.get("token"):
        log(f"{report.source}: resuming the listing at token {state['token']!r}")
        params = {"verb": "ListRecords", "resumptionToken": state["token"]}
    else:
        params = {"verb": "ListRecords", "metadataPrefix": prefix}
        if source.get("set"):
            params["set"] = source["set"]
        start = state.get("from") or source.get("from")
        if start:
            params["from"] = start
    newest = state.get("newest", "")
    while True:
        page = _oai_page(fetch(f"{base}?{urllib.parse.urlencode(params)}"))
        documents = page.documents
        report.changed += engine.add(documents) if documents else 0
        report.deleted += engine.delete(page.deleted) if page.deleted else 0
        report.seen += len(documents) + len(page.deleted)
        report.pages += 1
        newest = max([newest, *page.datestamps])
        # after the page is stored: a run killed from here on resumes with the next page
        engine.store.set_meta(key, json.dumps({"token": page.token, "from": state.get("from"), "newest": newest,
                                               "prefix": prefix, "at": time.time()}))
        if not page.token:
            break
        params = {"verb": "ListRecords", "resumptionToken": page.token}
    engine.store.set_meta(key, json.dumps({"token": None, "from": newest[:10] or state.get("from"),
                                           "newest": newest, "prefix": prefix, "at": time.time()}))


@dataclass
class OaiPage:
    documents: list[Document]
    deleted: list[str]
    datestamps: list[str]
    token: str | None


def _oai_page(data: bytes) -> OaiPage:
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as error:
        raise SyncError(f"the OAI-PMH answer is not XML ({error})") from error
    problem = root.find("oai:error", NS)
    if problem is not None:
        if problem.get("code") == "noRecordsMatch":
            return OaiPage([], [], [], None)
        raise SyncError(f"OAI-PMH error {problem.get('code')}: {(problem.text or '').strip()}")
    documents, deleted, stamps = [], [], []
    for record in root.iterfind(".//oai:record", NS):
        header = record.find("oai:header", NS)
        identifier = _text(header, "oai:identifier")
        stamps.append(_text(header, "oai:datestamp"))
        if header.get("status") == "deleted":
            deleted.append(_short_id(identifier))
            continue
        arxiv = record.find(".//arXiv:arXiv", NS)
        dublin = record.find(".//oai_dc:dc", NS)
        if arxiv is not None:
            documents.append(_arxiv_document(arxiv))
        elif dublin is not None:
            documents.append(_dc_document(identifier, dublin))
    token = root.find(".//oai:resumptionToken", NS)
    return OaiPage(documents, deleted, stamps, (token.text or "").strip() or None if token is not None else None)


def _short_id(identifier: str) -> str:
    return identifier.rsplit(":", 1)[-1] if identifier.startswith("oai:") else identifier


def _arxiv_document(element) -> Document:
    def field(name: str) -> str:
        return " ".join(_text(element, f"arXiv:{name}").split())

    authors = [" ".join(filter(None, (_text(a, "arXiv:forenames"), _text(a, "arXiv:keyname"))))
               for a in element.iterfind("arXiv:authors/arXiv:author", NS)]
    arxiv_id, reference = field("id"), field("journal-ref")
    return Document(id=arxiv_id, title=field("title"), summary=field("abstract"), authors=authors,
                    date=_date(field("created")), url=f"https://arxiv.org/abs/{arxiv_id}",
                    categories=field("categories").split(), venue=journal_name(reference) or "arXiv", language="en",
                    metadata={"journal-ref": reference} if reference else {})


def _dc_document(identifier: str, element) -> Document:
    def values(name: str) -> list[str]:
        return [" ".join((e.text or "").split()) for e in element.iterfind(f"dc:{name}", NS) if e.text]

    links = [v for v in values("identifier") if v.startswith("http")]
    dates = values("date")
    return Document(id=_short_id(identifier), title=" ".join(values("title")),
                    summary="\n".join(values("description")), authors=values("creator"),
                    date=_date(dates[0]) if dates else None, url=links[0] if links else "",
                    categories=values("subject"), language=(values("language") or [""])[0])
