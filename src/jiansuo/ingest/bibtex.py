"""BibTeX paper lists (.bib): one document per entry, its citation key the id.

Fields: title, authors ("Last, First" turned to "First Last"), date (year and month, or biblatex's date),
abstract, venue (journal, booktitle, …; an arXiv preprint's is arXiv), url (or the DOI's, the arXiv eprint's, or
a `howpublished` address), keywords as tags, arXiv's
primaryClass as category; everything else is kept in the document's metadata. `@string` macros and `#`
concatenation are expanded; LaTeX accents become characters and protective braces go, while `$…$` math stays
TeX for the reading pipeline. A malformed entry is reported as `file:line: reason` and the next one is read.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from pathlib import Path

from jiansuo.analysis.latex import braced_end
from jiansuo.ingest.fields import IngestProblem, accepted, file_text
from jiansuo.ingest.latex_text import plain_text
from jiansuo.model import Document

SUFFIXES = {".bib", ".bibtex"}
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")
MONTHS = {name[:3].lower(): number for number, name in enumerate(MONTH_NAMES, start=1)}
VENUE_FIELDS = ("journal", "journaltitle", "booktitle", "series", "school", "institution", "publisher",
                "howpublished", "organization")
_KEY = re.compile(r"\s*([^\s,{}()=\"#]*)\s*,")
_FIELD_NAME = re.compile(r"([A-Za-z][\w.:+-]*)\s*=\s*")
_BARE_VALUE = re.compile(r"[^\s,#{}()\"=]+")
_SPACE = re.compile(r"\s*")
_PARENS = re.compile(r"[()]")
_QUOTE_STOP = re.compile(r'\\.|[{"]', re.S)  # an escaped character, a brace group, or the closing quote
_ENTRY_HEAD = re.compile(r"@\s*([A-Za-z]+)\s*([{(])")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.I)
_ENTRY_START = re.compile(r"^[ \t]*@", re.M)


def read_bibtex(path: Path, field_map: dict[str, str] | None = None) -> Iterator[Document | IngestProblem]:
    text, problem = file_text(path)
    if problem:
        yield problem
    seen: dict[str, int] = {}
    for item in parse_entries(text):
        if isinstance(item, _Problem):
            yield IngestProblem(str(path), item.line, item.reason)
        elif item.kind not in ("comment", "preamble", "string"):
            yield from accepted(entry_record(item), field_map, str(path), item.line, seen, "entry")


class Entry:
    def __init__(self, kind: str, key: str, fields: dict[str, str], line: int) -> None:
        self.kind, self.key, self.fields, self.line = kind, key, fields, line


class _Problem:
    def __init__(self, line: int, reason: str) -> None:
        self.line, self.reason = line, reason


class _Malformed(Exception):
    def __init__(self, reason: str, at: int) -> None:
        super().__init__(reason)
        self.reason, self.at = reason, at


def parse_entries(text: str) -> Iterator[Entry | _Problem]:
    """Entries in file order, `@string` macros applied; a malformed entry yields a problem, and reading goes on
    at the next line that starts with `@`."""
    macros = {name[:3].lower(): name for name in MONTH_NAMES}  # BibTeX's predefined month macros
    newlines = [match.start() for match in re.finditer("\n", text)]

    def line_of(position: int) -> int:
        return bisect.bisect_left(newlines, position) + 1

    position = 0
    while True:
        at = text.find("@", position)
        if at < 0:
            return
        line = line_of(at)
        match = _ENTRY_HEAD.match(text, at)
        if not match:
            position = at + 1  # an @ in free text between entries (BibTeX ignores it too)
            continue
        kind = match.group(1).lower()
        if kind == "comment":
            position = _skip_balanced(text, match.end() - 1)
            continue
        try:
            entry, position = _entry(text, match, kind, line, macros)
        except _Malformed as error:
            noticed = line_of(error.at)
            where = f" (noticed on line {noticed})" if noticed != line else ""
            yield _Problem(line, f"@{kind} entry: {error.reason}{where}; not stored")
            next_line = text.find("\n", at)
            resume = _ENTRY_START.search(text, next_line + 1) if next_line >= 0 else None
            position = resume.start() if resume else len(text)
            continue
        if kind == "string":
            macros.update({name.lower(): value for name, value in entry.fields.items()})
        yield entry


def _entry(text: str, match: re.Match, kind: str, line: int, macros: dict[str, str]) -> tuple[Entry, int]:
    close = "}" if match.group(2) == "{" else ")"
    position = match.end()
    key = ""
    if kind not in ("string", "preamble"):
        key_match = _KEY.match(text, position)
        if not key_match or not key_match.group(1):
            raise _Malformed("no citation key before the first comma", position)
        key, position = key_match.group(1), key_match.end()
    if kind == "preamble":
        return Entry(kind, "", {}, line), _skip_balanced(text, match.end() - 1)
    fields: dict[str, str] = {}
    while True:
        position = _skip_space(text, position)
        if position >= len(text):
            raise _Malformed(f"the entry never closes (a missing '{close}')", position)
        if text[position] == close:
            return Entry(kind, key, fields, line), position + 1
        if text[position] == ",":
            position += 1
            continue
        name_match = _FIELD_NAME.match(text, position)
        if not name_match:
            if text[position] == "@":
                raise _Malformed(f"the entry never closes (a missing '{close}' before the next entry)", position)
            raise _Malformed(f"expected 'name = value' at {text[position:position + 20]!r}", position)
        value, position = _value(text, name_match.end(), macros)
        fields[name_match.group(1).lower()] = value


def _value(text: str, position: int, macros: dict[str, str]) -> tuple[str, int]:
    """A field value: {…}, "…", a number or a macro name, joined by #."""
    parts: list[str] = []
    while True:
        position = _skip_space(text, position)
        if position >= len(text):
            raise _Malformed("a field value never ends", position)
        char = text[position]
        if char == "{":
            end = _skip_balanced(text, position)
            parts.append(text[position + 1:end - 1])
            position = end
        elif char == '"':
            end = _quoted_end(text, position)
            parts.append(text[position + 1:end - 1])
            position = end
        else:
            word = _BARE_VALUE.match(text, position)
            if not word:
                raise _Malformed(f"expected a value at {text[position:position + 20]!r}", position)
            token = word.group(0)
            parts.append(token if token.isdigit() else macros.get(token.lower(), token))
            position = word.end()
        position = _skip_space(text, position)
        if position < len(text) and text[position] == "#":
            position += 1
            continue
        return "".join(parts), position


def _skip_balanced(text: str, start: int) -> int:
    """The position after the brace or parenthesis group opening at `start` (a backslash escapes one character)."""
    end = braced_end(text, start) if text[start] == "{" else _paren_end(text, start)
    if end is None:
        raise _Malformed(f"a '{text[start]}' is never closed", start)
    return end


def _paren_end(text: str, start: int) -> int | None:
    depth = 0
    for match in _PARENS.finditer(text, start):
        depth += 1 if match.group() == "(" else -1
        if depth == 0:
            return match.end()
    return None


def _quoted_end(text: str, start: int) -> int:
    """The position after the `"` that closes the quoted value opening at `start` (braces inside it nest)."""
    position = start + 1
    while (stop := _QUOTE_STOP.search(text, position)) is not None:
        if stop.group() == '"':
            return stop.end()
        end = braced_end(text, stop.start()) if stop.group() == "{" else stop.end()
        if end is None:
            break
        position = end
    raise _Malformed('a quoted value never ends (a missing ")', start)


def _skip_space(text: str, position: int) -> int:
    return _SPACE.match(text, position).end()  # type: ignore[union-attr]  # \s* always matches


def entry_record(entry: Entry) -> dict:
    """The loose record document_from_record maps onto a Document."""
    fields = {name: value for name, value in entry.fields.items() if value.strip()}
    record: dict = {"id": entry.key, "entry_type": entry.kind}
    record["title"] = plain_text(fields.pop("title", ""))
    people = fields.pop("author", "") or fields.pop("editor", "")
    record["authors"] = [name for name in (person_name(p) for p in _split_authors(people)) if name]
    record["date"] = _date(fields)
    record["summary"] = plain_text(fields.pop("abstract", ""))
    link = _LINK.fullmatch(fields.get("howpublished", "").strip())
    if link:  # `howpublished = {\url{…}}`: where a blog post or web page lives, not a venue
        fields.pop("howpublished")
    venue = plain_text(next((fields.pop(name) for name in VENUE_FIELDS if name in fields), ""))
    preprint = _ARXIV_VENUE.fullmatch(venue)
    if preprint:  # Google Scholar's `journal = {arXiv preprint arXiv:2104.09864}`: one venue, arXiv
        venue = "arXiv"
        if preprint.group(1) and not fields.get("eprint", "").strip():
            fields.update(eprint=preprint.group(1), archiveprefix="arXiv")
    record["venue"] = venue
    record["url"] = _url(fields) or (plain_url(link.group(1) or link.group(2)) if link else "")
    record["tags"] = [plain_text(t) for t in re.split(r"\s*[,;]\s*", fields.pop("keywords", "")) if t.strip()]
    category = fields.pop("primaryclass", "")
    record["categories"] = [category.strip()] if category.strip() else []
    language = fields.pop("langid", "") or fields.pop("language", "")
    if language.strip().lower()[:2] in ("zh", "en") or language.strip().lower() in ("chinese", "english"):
        record["language"] = "zh" if language.strip().lower().startswith(("zh", "chinese")) else "en"
    record.update({name: plain_text(value) for name, value in fields.items()})
    return {k: v for k, v in record.items() if v not in ("", [], None)}


def _date(fields: dict[str, str]) -> str:
    if "date" in fields:
        return fields.pop("date").strip()
    year = fields.pop("year", "").strip()
    month_text = fields.pop("month", "").strip().lower()
    if not re.fullmatch(r"\d{4}", year):
        return year
    month = int(month_text) if month_text.isdigit() else MONTHS.get(month_text[:3], 0)
    return f"{year}-{month:02d}" if 1 <= month <= 12 else year


_LINK = re.compile(r"\\url\s*\{\s*(https?://[^\s{}]+)\s*\}|(https?://\S+)")
_ARXIV_VENUE = re.compile(r"(?:arxiv(?:\s+preprint|\s+e-prints)?|corr)"
                          r"(?:\s*,?\s*(?:arxiv:|abs/|:)\s*(\d{4}\.\d{4,5}|[a-z-]+/\d{7}))?(?:v\d+)?\.?", re.I)


def _url(fields: dict[str, str]) -> str:
    if fields.get("url", "").strip():
        return plain_url(fields.pop("url"))
    doi = fields.get("doi", "").strip()
    if doi:
        return "https://doi.org/" + _DOI_PREFIX.sub("", doi)
    archive = (fields.get("archiveprefix", "") or fields.get("eprinttype", "")).strip().lower()
    eprint = fields.get("eprint", "").strip()
    if eprint and archive == "arxiv":
        return f"https://arxiv.org/abs/{eprint}"
    return ""


def plain_url(value: str) -> str:
    return re.sub(r"\\([_%#&~])", r"\1", value.strip())


def _split_authors(value: str) -> list[str]:
    """Names joined by ' and ' outside braces ({Barnes and Noble} stays one name)."""
    names: list[str] = []
    depth = start = 0
    for match in re.finditer(r"[{}]|\s+and\s+", value, re.I):
        token = match.group(0)
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif depth == 0:
            names.append(value[start:match.start()])
            start = match.end()
    names.append(value[start:])
    return [n.strip() for n in names if n.strip()]


def person_name(name: str) -> str:
    """'Last, First' / 'Last, Jr, First' -> 'First Last (Jr)'; 'others' (et al.) -> ''."""
    if name.strip().lower() == "others":
        return ""
    parts = [plain_text(p) for p in _split_top_level(name, ",")]
    if len(parts) == 2:
        return f"{parts[1]} {parts[0]}".strip()
    if len(parts) == 3:
        return f"{parts[2]} {parts[0]} {parts[1]}".strip()
    return " ".join(parts)


def _split_top_level(value: str, separator: str) -> list[str]:
    parts: list[str] = []
    depth = start = 0
    for position, char in enumerate(value):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(value[start:position])
            start = position + 1
    parts.append(value[start:])
    return [p.strip() for p in parts if p.strip()]
