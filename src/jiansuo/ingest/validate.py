"""What a record must be before it is stored: bounded, finite, well-formed text that every index accepts.

A record that breaks a rule raises RecordError; the reader reports it as `file:line: reason` and skips it.
The limits keep one record from poisoning the store, an index commit, a page or the server.
"""

from __future__ import annotations

import math
import re


class RecordError(ValueError):
    """Raised inside a reader for one bad record; the reader turns it into an IngestProblem."""

MAX_ID_CHARS = 512  # tantivy keeps a term under 64 KiB; ids also travel in URLs
MAX_DEPTH = 16  # nesting of lists and objects in one record
MAX_COUNT = 10**15  # reads and stars: far above any real count, far below 2**63 (tantivy's i64)
MAX_CHARS = {"title": 2_000, "summary": 200_000, "body": 5_000_000, "url": 4_000, "venue": 1_000}
MAX_LABEL_CHARS = 500  # a category or tag (a venue, e.g. an arXiv journal-ref, may take MAX_CHARS["venue"])
_ID_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_record(record: object, depth: int = 0, where: str = "a value") -> None:
    """Reject nesting deeper than MAX_DEPTH, lone surrogates and NUL in any string, NaN and infinities."""
    if depth > MAX_DEPTH:
        raise RecordError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(record, dict):
        for key, value in record.items():
            check_record(key, depth + 1, "a key")
            check_record(value, depth + 1, str(key)[:40] if depth == 0 else where)
    elif isinstance(record, list):
        for value in record:
            check_record(value, depth + 1, where)
    elif isinstance(record, str):
        if _SURROGATE.search(record):
            raise RecordError(f"{where} holds a lone surrogate (\\ud800-\\udfff), which is not a character")
        if "\x00" in record:
            raise RecordError(f"{where} holds a NUL character")
    elif isinstance(record, float) and not math.isfinite(record):
        raise RecordError(f"{where} is {record}, not a number a document can hold")


def document_id(value: object) -> str:
    """An id as text: a string or a whole number, at most MAX_ID_CHARS characters, no control characters."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RecordError(f"the id must be a string or a whole number, not {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise RecordError("no document id (looked for 'id', '_id', …; map one with --field id=KEY)")
    if len(text) > MAX_ID_CHARS:
        raise RecordError(f"the id is {len(text)} characters long; at most {MAX_ID_CHARS} are allowed")
    if _ID_FORBIDDEN.search(text):
        raise RecordError("the id holds control characters")
    return text


def bounded_text(name: str, text: str) -> str:
    limit = MAX_CHARS.get(name)
    if limit is not None and len(text) > limit:
        raise RecordError(f"{name} is {len(text):,} characters long; at most {limit:,} are allowed")
    return text


def count(value: object, name: str, warnings: list[str]) -> int:
    """reads / stars: a whole number in [0, MAX_COUNT]; a value that is not a number is a warning (0)."""
    if value in (None, ""):
        return 0
    if isinstance(value, bool):
        warnings.append(f"{name} {value!r} is not a number; set to 0")
        return 0
    try:
        number = float(str(value).replace(",", "")) if not isinstance(value, (int, float)) else value
    except ValueError:
        warnings.append(f"{name} {str(value)[:40]!r} is not a number; set to 0")
        return 0
    if isinstance(number, float) and not math.isfinite(number):
        raise RecordError(f"{name} is {value!r}, not a finite number")
    if number > MAX_COUNT:
        raise RecordError(f"{name} is {number:.3g}; at most {MAX_COUNT:.0e} is allowed")
    return max(0, int(number))


def labels(values: list[str], name: str) -> list[str]:
    limit = MAX_CHARS.get(name, MAX_LABEL_CHARS)
    for value in values:
        if len(value) > limit:
            raise RecordError(f"a {name} label is {len(value)} characters long; at most {limit}")
    return values
