"""Mapping loose source records onto Document fields, shared by every reader."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TypeGuard

from jiansuo.analysis import detect_language
from jiansuo.analysis.identifiers import ARXIV
from jiansuo.analysis.tokenize import in_gb2312
from jiansuo.ingest import validate
from jiansuo.ingest.validate import RecordError
from jiansuo.model import Document

__all__ = ["IngestProblem", "RecordError", "accepted", "arxiv_defaults", "decoded", "document_from_record",
           "encoding_notice", "file_text", "journal_name", "parse_date", "parse_field_map"]

# Our field -> source keys tried in order when the user gives no mapping.
DEFAULT_SOURCES: dict[str, tuple[str, ...]] = {
    "id": ("id", "_id", "doc_id", "docid", "slug"),
    "title": ("title", "name"),
    "authors": ("authors", "author", "creator", "by"),
    "date": ("date", "published", "created", "pubdate", "update_date", "year"),
    "summary": ("summary", "abstract", "description", "excerpt"),
    "body": ("body", "text", "content", "markdown", "extract"),
    "url": ("url", "link", "href"),
    "categories": ("categories", "category", "discipline"),
    "tags": ("tags", "keywords", "topic"),
    "venue": ("venue", "journal", "journal-ref", "source"),
    "language": ("language", "lang"),
    "reads": ("reads", "views", "read_count"),
    "stars": ("stars", "likes", "citations"),
}


_YEAR_MIN, _YEAR_MAX = 1000, 2999


@dataclass(frozen=True)
class IngestProblem:
    """A record that could not be taken as it was. `skipped`: the record was not indexed at all."""

    file: str
    line: int
    reason: str
    skipped: bool = True

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


def accepted(record: object, field_map: dict[str, str] | None, where: str, line: int,
             seen: dict[str, int] | None = None, unit: str = "record") -> Iterator[Document | IngestProblem]:
    """The document of one record read at `where`:`line`, after its warnings; a record that breaks a rule, or whose
    id already came on an earlier line of the same file (`seen`, updated here), is a problem instead."""
    try:
        document, warnings = document_from_record(record, field_map)  # type: ignore[arg-type]
    except RecordError as error:
        yield IngestProblem(where, line, str(error))
        return
    if seen is not None:
        if document.id in seen:
            yield IngestProblem(where, line, f"id {document.id[:80]!r} already appeared on line {seen[document.id]}; "
                                             f"this {unit} is not stored")
            return
        seen[document.id] = line
    for warning in warnings:
        yield IngestProblem(where, line, warning, skipped=False)
    yield document


_JOURNAL = re.compile(r"(.*?[A-Za-z&.)\]])[\s,:;]*\d+(?![\dA-Za-z])")


def journal_name(reference: str) -> str:
    """The journal of an arXiv journal-ref, its volume, pages and year left out: `Phys. Rev. D 76:064010,2007`
    and `Phys.Rev.D76:064010,2007` are both Phys.Rev.D, so a venue facet groups papers. A reference with no
    volume number to cut at (`in: Proc. 2nd Workshop`) stays whole."""
    reference = " ".join(reference.split())
    match = _JOURNAL.match(reference)
    name = match.group(1).strip(" ,;:") if match else reference
    name = re.sub(r"\.\s+(?=[A-Z])", ".", name)
    return name if sum(char.isalpha() for char in name) >= 2 else reference


def decoded(raw: bytes) -> tuple[str, str] | None:
    """A file's text and the encoding it was read in: UTF-8 (a BOM skipped); UTF-16 after its BOM (what Windows
    saves as "Unicode"); GB18030, of which GBK and GB2312 are parts (what Chinese Windows and older Chinese sites
    save), when the bytes decode as that and nearly every character they give is a common one (GB2312), which
    Latin-1 accents read as GB18030 are not. None when none of these fits."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            return None
    try:
        return raw.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        return None
    wide = [char for char in set(text) if ord(char) > 0x7F]
    return (text, "GB18030") if sum(map(in_gb2312, wide)) >= 0.9 * len(wide) else None


def first_bad_line(raw: bytes) -> int:
    """The line of the first byte that is not UTF-8."""
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return raw[: error.start].count(b"\n") + 1
    return 1


def file_text(path: Path) -> tuple[str, IngestProblem | None]:
    """A text file's content (`decoded`), with a notice when it is not UTF-8; bytes no encoding there fits are
    read as Latin-1 (which reads any bytes) with a warning naming the first line that is not UTF-8."""
    raw = path.read_bytes()
    found = decoded(raw)
    if found is None:
        return raw.decode("latin-1"), IngestProblem(str(path), first_bad_line(raw),
                                                    "not UTF-8; the file is read as Latin-1", skipped=False)
    text, encoding = found
    return text, encoding_notice(path, encoding)


def encoding_notice(path: Path, encoding: str) -> IngestProblem | None:
    """What a file read in another encoding than UTF-8 says about it (nothing for UTF-8)."""
    if encoding == "UTF-8":
        return None
    return IngestProblem(str(path), 1, f"not UTF-8; the file is read as {encoding}", skipped=False)


def parse_field_map(pairs: list[str] | None) -> dict[str, str]:
    """``["title=name", "body=content"]`` -> {"title": "name", "body": "content"}."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        ours, sep, theirs = pair.partition("=")
        if not sep or ours.strip() not in DEFAULT_SOURCES or not theirs.strip():
            known = ", ".join(DEFAULT_SOURCES)
            raise ValueError(f"--field expects OURS=SOURCE_KEY with OURS one of {known}; got {pair!r}")
        mapping[ours.strip()] = theirs.strip()
    return mapping


def document_from_record(record: dict, field_map: dict[str, str] | None = None) -> tuple[Document, list[str]]:
    """Build a Document from a dict; returns it with warnings about fields that were dropped."""
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    validate.check_record(record)
    field_map = field_map or {}
    used: set[str] = set()
    values: dict[str, object] = {}
    for ours, sources in DEFAULT_SOURCES.items():
        keys = (field_map[ours],) if ours in field_map else sources
        for key in keys:
            if record.get(key) not in (None, "", []):
                values[ours] = record[key]
                used.add(key)
                break
    doc_id = validate.document_id(values.get("id", ""))
    for field, value in arxiv_defaults(doc_id).items():
        values.setdefault(field, value)
    warnings: list[str] = []
    parsed_date = None
    precision = ""
    if "date" in values:
        parsed_date = parse_date(values["date"])
        precision = date_precision(values["date"])
        if parsed_date is None:
            warnings.append(f"date {values['date']!r} not understood; indexed without a date")
    title, summary, body = (validate.bounded_text(k, _text(values.get(k))) for k in ("title", "summary", "body"))
    document = Document(
        id=doc_id,
        title=title,
        authors=split_people(values.get("authors")),
        date=parsed_date,
        summary=summary,
        body=body,
        url=validate.bounded_text("url", _text(values.get("url"))),
        categories=validate.labels(split_labels(values.get("categories")), "category"),
        tags=validate.labels(split_labels(values.get("tags")), "tag"),
        venue=validate.labels([_text(values.get("venue"))], "venue")[0],
        language=_text(values.get("language")) or detect_language(f"{title}\n{summary}\n{body}"),
        reads=validate.count(values.get("reads"), "reads", warnings),
        stars=validate.count(values.get("stars"), "stars", warnings),
        metadata={k: v for k, v in record.items() if k not in used and v not in (None, "", [], {})},
    )
    if parsed_date is not None and precision:
        document.metadata["date_precision"] = precision
    return document, warnings


def arxiv_defaults(doc_id: str) -> dict[str, str]:
    """What an arXiv identifier says of a paper whose record does not: its abstract page, the month it was first
    submitted (the identifier's YYMM) and its venue, arXiv. Nothing for an id of another shape."""
    match = ARXIV.fullmatch(doc_id)
    if not match:
        return {}
    bare = match.group(1)  # 2505.24868, or hep-th/9901001 (old style: YYMM after the archive)
    old_style = "/" in bare
    yymm = bare.split("/")[1][:4] if old_style else bare[:4]
    year, month = int(yymm[:2]), int(yymm[2:])
    year += 1900 if old_style and year >= 91 else 2000
    in_use = year <= 2007 if old_style else (year, month) >= (2007, 4)  # the new scheme began in April 2007
    if not (1 <= month <= 12 and in_use):
        return {}
    return {"url": f"https://arxiv.org/abs/{doc_id}", "date": f"{year}-{month:02d}", "venue": "arXiv"}


def date_precision(value: object) -> str:
    """"year" or "month" for a date given without its month or day (2019, "2019", "2019-11"), else ""."""
    text = str(value).strip()
    if _whole_year(value) or re.fullmatch(r"\d{4}", text):
        return "year"
    return "month" if re.fullmatch(r"\d{4}[-/.]\d{1,2}", text) else ""


def _whole_year(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and _YEAR_MIN <= value <= _YEAR_MAX


def parse_date(value: object) -> date | None:
    """ISO dates, partial dates (2022, 2022-11), a whole-number year, RFC 2822 and Unix timestamps."""
    if _whole_year(value):
        return date(value, 1, 1)  # a year, not seconds after 1970
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(float(value)).date()
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    match = re.match(r"^(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?(?:[T\s].*)?$", text)
    if match:
        year, month, day = int(match[1]), int(match[2] or 1), int(match[3] or 1)
        try:
            return date(year, month, day)
        except ValueError:
            return None
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        return None


def split_people(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [_text(v) for v in value if _text(v)]
    text = re.sub(r"\s+", " ", str(value)).strip()
    return [p.strip() for p in re.split(r",\s*(?:and\s+)?|\s+and\s+|;\s*|、|，", text) if p.strip()]


def split_labels(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [_text(v) for v in value if _text(v)]
    return [p for p in re.split(r"[\s,;，、]+", str(value)) if p]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    return str(value).strip()
