"""Markdown blog archives: one file per post, optional YAML front matter between `---` lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml

from jiansuo.ingest.fields import IngestProblem, RecordError, document_from_record
from jiansuo.model import Document


def read_markdown(path: Path, field_map: dict[str, str] | None = None) -> Iterator[Document | IngestProblem]:
    """A post: front matter gives the fields, the rest is the body; the file name is the default id."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        yield IngestProblem(str(path), line, "not UTF-8; the file is not stored")
        return
    record: dict = {}
    body = text
    if text.startswith("---"):
        head, sep, rest = text[3:].partition("\n---")
        if sep:
            try:
                loaded = yaml.safe_load(head)
            except yaml.YAMLError as error:
                line = getattr(getattr(error, "problem_mark", None), "line", 0) + 2
                yield IngestProblem(str(path), line, f"front matter is not valid YAML: {error}")
                return
            if loaded is not None and not isinstance(loaded, dict):
                yield IngestProblem(str(path), 1, "front matter must be a mapping of field: value")
                return
            record = {str(k): _plain(v) for k, v in (loaded or {}).items()}
            body = rest.partition("\n")[2]
    record.setdefault("id", path.stem)
    if "title" not in record:
        first = next((ln for ln in body.splitlines() if ln.strip()), "")
        if first.startswith("#"):
            record["title"] = first.lstrip("#").strip()
    record["body"] = body.strip()
    try:
        document, warnings = document_from_record(record, field_map)
    except RecordError as error:
        yield IngestProblem(str(path), 1, str(error))
        return
    for warning in warnings:
        yield IngestProblem(str(path), 1, warning, skipped=False)
    yield document


def _plain(value: object) -> object:
    """YAML turns dates into date objects; keep everything JSON-friendly."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
