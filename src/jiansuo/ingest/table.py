"""CSV and TSV paper lists: a header row, then one document per row (a Zotero or Google Scholar export, a
spreadsheet, a dataset's metadata table).

Columns are matched by name, case, spaces and underscores aside: the JSONL names (title, authors, date, abstract,
url, …) and the names reference managers export ("Abstract Note", "Publication Title", "Publication Year",
"Manual Tags", "Key", "DOI"). A cell that holds a list literal (`['a', 'b']`) is that list; Zotero's
"Last, First; Last, First" authors become "First Last" names. The id is the id/key column, else the DOI, else the
URL, else the title. A bad row is reported as `file:line: reason` and the rest are read.
"""

from __future__ import annotations

import ast
import csv
import re
from collections.abc import Iterator
from pathlib import Path

from jiansuo.ingest.fields import IngestProblem, accepted, file_text
from jiansuo.model import Document

SUFFIXES = {".csv", ".tsv"}
ALIASES = {  # a normalised column name -> the record key document_from_record looks for
    "author": "authors", "key": "id", "index": "id", "arxiv_id": "id", "paper_id": "id",
    "abstract_note": "summary", "publication_title": "venue", "conference": "venue", "booktitle": "venue",
    "publication_year": "year", "manual_tags": "tags", "automatic_tags": "tags", "author_keywords": "tags",
}
_LIST_LITERAL = re.compile(r"^\[.*\]$", re.S)


def read_table(path: Path, field_map: dict[str, str] | None = None) -> Iterator[Document | IngestProblem]:
    text, problem = file_text(path)
    if problem:
        yield problem
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    keys = [_key(name) for name in header]
    seen: dict[str, int] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield IngestProblem(str(path), reader.line_num, f"not a CSV row ({error})")
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield IngestProblem(str(path), line, f"{len(row)} cells where the header has {len(header)}; not stored")
            continue
        yield from accepted(row_record(keys, row), field_map, str(path), line, seen, "row")


def row_record(keys: list[str], row: list[str]) -> dict:
    record: dict = {}
    for key, cell in zip(keys, row, strict=True):
        value: object = cell.strip()
        if not value or key in record:
            continue
        if _LIST_LITERAL.match(cell.strip()):
            try:
                parsed = ast.literal_eval(cell.strip())
                value = [str(v) for v in parsed] if isinstance(parsed, (list, tuple)) else value
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                pass
        record[key] = value
    if isinstance(record.get("authors"), str) and ";" in record["authors"]:
        record["authors"] = [_first_last(name) for name in record["authors"].split(";") if name.strip()]
    if isinstance(record.get("tags"), str) and ";" in record["tags"]:
        record["tags"] = [tag.strip() for tag in record["tags"].split(";") if tag.strip()]
    if not record.get("url") and record.get("doi"):
        record["url"] = "https://doi.org/" + str(record["doi"]).removeprefix("https://doi.org/")
    if "id" not in record:
        for fallback in ("doi", "url", "title"):
            if record.get(fallback):
                record["id"] = record[fallback]
                break
    return record


def _key(name: str) -> str:
    normalised = re.sub(r"[\s_-]+", "_", name.strip().lower())
    return ALIASES.get(normalised, normalised)


def _first_last(name: str) -> str:
    last, comma, first = name.strip().partition(",")
    return f"{first.strip()} {last.strip()}" if comma else name.strip()
