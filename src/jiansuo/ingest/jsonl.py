"""JSON Lines readers: generic (with a field map), BEIR corpus.jsonl, arXiv metadata snapshot."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from jiansuo.ingest.fields import IngestProblem, RecordError, accepted, journal_name, parse_date
from jiansuo.ingest.latex_text import accents, plain_text
from jiansuo.model import Document

Item = Document | IngestProblem


def read_jsonl(path: Path, field_map: dict[str, str] | None = None,
               convert: Callable[[dict], dict] | None = None, detect: bool = False) -> Iterator[Item]:
    """One document per line. Bad lines become IngestProblems (file:line: reason); the rest go on.

    Lines end at LF only (a raw CR is JSON whitespace, not a new record); a UTF-8 BOM is skipped; a line that
    is not UTF-8 is reported, never altered. `detect`: each record is read as the flavour it looks like
    (BEIR, arXiv or plain), not the whole file as its first record's. An id seen earlier in the file is
    reported and skipped (the first one stays).
    """
    yield from read_jsonl_lines(_lines(path), str(path), field_map, convert, detect)


def read_jsonl_lines(lines: Iterable[bytes], name: str, field_map: dict[str, str] | None = None,
                     convert: Callable[[dict], dict] | None = None, detect: bool = False) -> Iterator[Item]:
    """read_jsonl over lines already in memory (an HTTP request body); problems name `name`."""
    path = name
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            yield IngestProblem(str(path), number, f"not UTF-8 (byte {error.start + 1} of the line); not stored")
            continue
        try:
            record = json.loads(line, parse_constant=_refuse_constant)
            if detect and isinstance(record, dict):
                convert = _CONVERTERS[looks_like(record)]
            if convert is not None:
                record = convert(record)
        except json.JSONDecodeError as error:
            yield IngestProblem(str(path), number, f"invalid JSON ({error.msg} at column {error.colno})")
            continue
        except RecursionError:
            yield IngestProblem(str(path), number, "JSON nested too deeply")
            continue
        except RecordError as error:
            yield IngestProblem(str(path), number, str(error))
            continue
        yield from accepted(record, field_map, str(path), number, seen, "line")


def body_lines(body: bytes) -> list[bytes]:
    """An HTTP body as JSON lines: NDJSON as it is; a JSON array, one line per element (a body that is one
    JSON object is one line). Raises RecordError for an array that is not valid JSON."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    if body.lstrip()[:1] == b"[":
        try:
            records = json.loads(body, parse_constant=_refuse_constant)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise RecordError(f"the body is not a valid JSON array ({error})") from None
        return [json.dumps(record, ensure_ascii=False).encode("utf-8") for record in records]
    if body.lstrip()[:1] == b"{" and b"\n" in body.strip():
        try:  # one pretty-printed object rather than NDJSON
            return [json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")]
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            pass
    return body.split(b"\n")


def _lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        first = True
        for line in handle:  # binary mode splits on LF only
            if first and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            first = False
            yield line


def _refuse_constant(name: str) -> float:
    raise RecordError(f"{name} is not a number a document can hold")


def beir_record(record: dict) -> dict:
    """BEIR corpus.jsonl: {_id, title, text, metadata}; the text of a BEIR corpus is an abstract."""
    if not isinstance(record, dict):
        raise RecordError("expected a JSON object")
    metadata = record.get("metadata") or {}
    return {"id": record.get("_id"), "title": record.get("title", ""),
            "summary": record.get("text", ""), **(metadata if isinstance(metadata, dict) else {})}


def arxiv_record(record: dict) -> dict:
    """The Kaggle/Cornell arXiv snapshot: the first version's date is the submission date; the TeX accents of
    titles, authors and abstracts become characters, and affiliations leave the author list."""
    if not isinstance(record, dict):
        raise RecordError("expected a JSON object")
    versions = record.get("versions") or []
    submitted = parse_date(versions[0].get("created", "")) if versions else None
    arxiv_id = str(record.get("id") or "").strip()
    converted = {
        "id": arxiv_id,
        "title": plain_text(_unwrap(record.get("title"))),
        "authors": plain_text(_without_affiliations(_unwrap(record.get("authors")))),
        "date": submitted.isoformat() if submitted else record.get("update_date"),
        "summary": accents(_unwrap(record.get("abstract"))),
        "url": f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else "",
        "categories": record.get("categories") or "",
        "venue": journal_name(str(record.get("journal-ref") or "")),
        "language": "en",
    }
    for key in ("journal-ref", "doi", "comments", "submitter", "report-no", "license"):
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


def _without_affiliations(authors: str) -> str:
    """arXiv author lists put affiliations in parentheses, nested for numbered ones ("A (1), B (2) ((1) Univ X,
    (2) Univ Y)"); their commas are not between authors."""
    kept: list[str] = []
    depth = 0
    for char in authors:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            kept.append(char)
    return re.sub(r"\s+,", ",", re.sub(r"\s{2,}", " ", "".join(kept))).strip(" ,")


def _unwrap(value: object) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip()


_CONVERTERS: dict[str, Callable[[dict], dict] | None] = {"beir": beir_record, "arxiv": arxiv_record, "jsonl": None}
