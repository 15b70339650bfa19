"""Pick the reader for a path (file or folder) and run it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from jiansuo.ingest import bibtex, feed, html, table
from jiansuo.ingest.fields import IngestProblem
from jiansuo.ingest.jsonl import arxiv_record, beir_record, read_jsonl
from jiansuo.ingest.markdown import read_markdown
from jiansuo.model import Document

FORMATS = ("auto", "jsonl", "beir", "arxiv", "markdown", "html", "bibtex", "csv", "feed")
_MARKDOWN = {".md", ".markdown"}
_JSONL = {".jsonl", ".json", ".ndjson"}
_FORMAT_OF_SUFFIX = {**dict.fromkeys(_MARKDOWN, "markdown"), **dict.fromkeys(html.SUFFIXES, "html"),
                     **dict.fromkeys(bibtex.SUFFIXES, "bibtex"), **dict.fromkeys(table.SUFFIXES, "csv"),
                     **dict.fromkeys(feed.SUFFIXES, "feed")}
_SKIPPED_FOLDERS = {"node_modules", "__pycache__"}


def read_path(path: Path | str, fmt: str = "auto", field_map: dict[str, str] | None = None,
              root: Path | None = None) -> Iterator[Document | IngestProblem]:
    """Documents (and problems) from a file, or from every Markdown, HTML, JSONL, BibTeX, CSV and feed file under a
    folder (feeds only where there are no posts or pages: a built site's feed repeats them).

    A folder that holds Markdown posts and HTML pages both is read for its Markdown only: the HTML is then
    usually the site built from it (Jekyll's _site/, Hugo's public/); give the HTML folder itself to read that.
    `root`: the folder an HTML page's id is relative to (the folder being read)."""
    path = Path(path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not path.exists():
        yield IngestProblem(str(path), 0, "no such file or folder")
        return
    if path.is_dir():
        yield from _read_folder(path, fmt, field_map)
        return
    if fmt == "auto":  # JSONL files stay "auto": each record is read as the flavour it looks like
        fmt = _FORMAT_OF_SUFFIX.get(path.suffix.lower(), "auto")
    if fmt == "html":
        yield from html.read_html(path, root, field_map)
    elif fmt == "bibtex":
        yield from bibtex.read_bibtex(path, field_map)
    elif fmt == "csv":
        yield from table.read_table(path, field_map)
    elif fmt == "feed":
        yield from feed.read_feed(path, field_map)
    elif fmt == "auto":
        yield from read_jsonl(path, field_map, detect=True)
    elif fmt == "markdown":
        yield from read_markdown(path, field_map)
    elif fmt == "beir":
        yield from read_jsonl(path, field_map, beir_record)
    elif fmt == "arxiv":
        yield from read_jsonl(path, field_map, arxiv_record)
    else:
        yield from read_jsonl(path, field_map)


def _read_folder(folder: Path, fmt: str, field_map: dict[str, str] | None) -> Iterator[Document | IngestProblem]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and _visible(p.relative_to(folder)))
    readable = (_JSONL | set(_FORMAT_OF_SUFFIX)) - feed.SUFFIXES  # feeds: below, only where no pages are
    chosen = [p for p in files if p.suffix.lower() in readable and p.name != "queries.jsonl"]  # BEIR: corpus only
    pages = [p for p in chosen if p.suffix.lower() in html.SUFFIXES]
    if pages and any(p.suffix.lower() in _MARKDOWN for p in chosen):
        yield IngestProblem(str(folder), 0, f"{len(pages)} HTML pages left unread beside the Markdown posts (the "
                                            "site built from them?); give their folder to read them", skipped=False)
        chosen = [p for p in chosen if p.suffix.lower() not in html.SUFFIXES]
    if not any(p.suffix.lower() in _MARKDOWN | html.SUFFIXES for p in chosen):  # a built site's feeds repeat its posts
        chosen += [p for p in files if p.suffix.lower() in feed.SUFFIXES and feed.looks_like_feed(p)]
    if not chosen:
        seen = sorted({p.suffix.lower() or p.name for p in files})[:8]
        found = f" (found: {', '.join(seen)})" if seen else " (it is empty)"
        readable_kinds = "no Markdown, HTML, JSONL, BibTeX, CSV or feed files in this folder"
        yield IngestProblem(str(folder), 0, readable_kinds + found)
        return
    posts: dict[str, Path] = {}  # Markdown posts' ids: two files named alike in different folders are two posts
    for child in chosen:
        for item in read_path(child, fmt, field_map, root=folder):
            if isinstance(item, Document) and child.suffix.lower() in _MARKDOWN:
                if item.id in posts and posts[item.id] != child:
                    first = posts[item.id].relative_to(folder).as_posix()
                    item.id = child.relative_to(folder).with_suffix("").as_posix()
                    yield IngestProblem(str(child), 1, f"id already taken by {first}; stored as {item.id!r}",
                                        skipped=False)
                posts.setdefault(item.id, child)
            yield item


def _visible(relative: Path) -> bool:
    """Not in a hidden folder (.git, .obsidian) or a dependency folder, and not a hidden file."""
    return not any(part.startswith(".") or part in _SKIPPED_FOLDERS for part in relative.parts)
