"""JSON Lines readers: generic (with a field map), BEIR corpus.jsonl, arXiv metadata snapshot."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from jiansuo.ingest.fields import (
    IngestProblem,
    RecordError,
    document_from_record,
    parse_date,
)
from jiansuo.model import Document

Item = Document | IngestProblem


def read_jsonl(path: Path, field_map: dict[str, str] | None = None,
               convert: Callable[[dict], dict] | None = None) -> Iterator[Item]:
    """One document per line. Bad lines become IngestProblems (file:line: reason); the rest go on."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if convert is not None:
                    record = convert(record)
                document, warnings = document_from_record(record, field_map)
            except json.JSONDecodeError as error:
                yield IngestProblem(str(path), number, f"invalid JSON ({error.msg} at column {error.colno})")
                continue
            except RecordError as error:
                yield IngestProblem(str(path), number, str(error))
                continue
            for warning in warnings:
                yield IngestProblem(str(path), number, warning, skipped=False)
            yield document


def beir_record(record: dict) -> dict:
    """BEIR corpus.jsonl: {_id, title, text, metadata}; the text of a BEIR corpus is an abstract."""
    if not isinstance(record, dict):
        raise RecordError("expected a JSON object")
    metadata = record.get("metadata") or {}
    return {"id": record.get("_id"), "title": record.get("title", ""),
            "summary": record.get("text", ""), **(metadata if isinstance(metadata, dict) else {})}


def arxiv_record(record: dict) -> dict:
    """The Kaggle/Cornell arXiv snapshot: the first version's date is the submission date."""
    if not isinstance(record, dict):
        raise RecordError("expected a JSON object")
    versions = record.get("versions") or []
    submitted = parse_date(versions[0].get("created", "")) if versions else None
    arxiv_id = str(record.get("id") or "").strip()
    converted = {
        "id": arxiv_id,
        "title": _unwrap(record.get("title")),
        "authors": _unwrap(record.get("authors")),
        "date": submitted.isoformat() if submitted else record.get("update_date"),
        "summary": _unwrap(record.get("abstract")),
        "url": f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else "",
        "categories": record.get("categories") or "",
        "venue": record.get("journal-ref") or "",
        "language": "en",
    }
    for key in ("doi", "comments", "submitter", "report-no", "license"):
        if record.get(key):
            converted[key] = record[key]
    return converted


def looks_like(record: dict) -> str:
    """Guess the JSONL flavour from one record: 'beir', 'arxiv' or 'jsonl'."""
    if "_id" in record and "text" in record:
        return "beir"
    if "abstract" in record and ("versions" in record or "submitter" in record):
        return "arxiv"
    return "jsonl"


def _unwrap(value: object) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip()
