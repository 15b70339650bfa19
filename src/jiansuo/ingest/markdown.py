"""Markdown blog archives: one file per post, optional front matter (YAML between `---` lines, or Hugo's TOML
between `+++` lines).

What the generators do with a source is followed: a draft (`draft: true`, Jekyll's `published: false`) and a
Hugo section page (`_index.md`) are not posts; a page bundle's `index.md` takes its folder's name; a Jekyll file
name gives the date (`2023-05-01-title.md`); generator tags in the body become Markdown (site_tags.py)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import yaml

from jiansuo.ingest.fields import IngestProblem, accepted, decoded, encoding_notice, first_bad_line
from jiansuo.ingest.site_tags import expand_site_tags
from jiansuo.model import Document

_JEKYLL_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-.")
_BUNDLE_NAMES = {"index", "readme"}
_FRONT_MATTER = {"---": ("YAML", yaml.safe_load, yaml.YAMLError),
                 "+++": ("TOML", tomllib.loads, tomllib.TOMLDecodeError)}


def read_markdown(path: Path, field_map: dict[str, str] | None = None) -> Iterator[Document | IngestProblem]:
    """A post: front matter gives the fields, the rest is the body; the file name is the default id."""
    if path.name.lower() == "_index.md":
        yield IngestProblem(str(path), 1, "a section's list page (_index.md), not a post; not stored", skipped=False)
        return
    raw = path.read_bytes()
    found = decoded(raw)
    if found is None:
        yield IngestProblem(str(path), first_bad_line(raw), "not UTF-8 (nor UTF-16 or Chinese GB18030); the file is "
                            "not stored")
        return
    text, encoding = found
    notice = encoding_notice(path, encoding)
    if notice:
        yield notice
    record: dict = {}
    body = text
    fence = text[:3]
    if fence in _FRONT_MATTER:
        kind, load, failure = _FRONT_MATTER[fence]
        head, sep, rest = text[3:].partition("\n" + fence)
        if sep:
            try:
                loaded = load(head)
            except failure as error:
                line = getattr(getattr(error, "problem_mark", None), "line", -1) + 2  # YAML marks count from 0
                yield IngestProblem(str(path), line, f"front matter is not valid {kind}: {error}")
                return
            if loaded is not None and not isinstance(loaded, dict):
                yield IngestProblem(str(path), 1, "front matter must be a mapping of field: value")
                return
            record = {str(k): _plain(v) for k, v in (loaded or {}).items()}
            body = rest.partition("\n")[2]
    if record.get("draft") is True or record.get("published") is False:
        yield IngestProblem(str(path), 1, "a draft (draft: true or published: false); not stored", skipped=False)
        return
    if record.get("published") is True:  # Jekyll's flag, not a date
        del record["published"]
    record.setdefault("id", post_id(path))
    jekyll = _JEKYLL_NAME.match(path.stem)
    if jekyll and not any(record.get(key) for key in ("date", "published", "created", "pubdate")):
        record["date"] = jekyll.group(1)
    body = expand_site_tags(body)
    if "title" not in record:
        first = next((ln for ln in body.splitlines() if ln.strip()), "")
        if first.startswith("#"):
            record["title"] = first.lstrip("#").strip()
    record["body"] = body.strip()
    yield from accepted(record, field_map, str(path), 1)


def post_id(path: Path) -> str:
    """The file's name without its suffix; a page bundle's index.md (or README.md) takes its folder's name."""
    if path.stem.lower() in _BUNDLE_NAMES and path.parent.name:
        return path.parent.name
    return path.stem


def _plain(value: object) -> object:
    """YAML turns dates into date objects; keep everything JSON-friendly."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
