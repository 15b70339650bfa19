"""Pick the reader for a path (file or folder) and run it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from jiansuo.ingest.fields import IngestProblem
from jiansuo.ingest.jsonl import arxiv_record, beir_record, read_jsonl
from jiansuo.ingest.markdown import read_markdown
from jiansuo.model import Document

FORMATS = ("auto", "jsonl", "beir", "arxiv", "markdown")
_MARKDOWN = {".md", ".markdown"}
_JSONL = {".jsonl", ".json", ".ndjson"}


def read_path(path: Path | str, fmt: str = "auto",
              field_map: dict[str, str] | None = None) -> Iterator[Document | IngestProblem]:
    """Documents (and problems) from a file, or from every .md/.jsonl file under a folder."""
    path = Path(path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not path.exists():
        yield IngestProblem(str(path), 0, "no such file or folder")
        return
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if child.suffix.lower() in _MARKDOWN | _JSONL and not child.name.startswith("."):
                if child.name in ("queries.jsonl",):  # a BEIR folder: only its corpus is documents
                    continue
                yield from read_path(child, fmt, field_map)
        return
    if fmt == "auto" and path.suffix.lower() in _MARKDOWN:
        fmt = "markdown"
    if fmt == "auto":
        yield from read_jsonl(path, field_map, detect=True)
    elif fmt == "markdown":
        yield from read_markdown(path, field_map)
    elif fmt == "beir":
        yield from read_jsonl(path, field_map, beir_record)
    elif fmt == "arxiv":
        yield from read_jsonl(path, field_map, arxiv_record)
    else:
        yield from read_jsonl(path, field_map)
