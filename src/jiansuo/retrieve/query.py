"""Parse the search-box syntax into clauses any backend can translate.

Syntax: words; ``"a phrase"``; ``-word`` / ``-"phrase"`` to exclude; ``title:`` ``author:`` ``venue:``
``tag:`` ``category:`` with a word or a quoted phrase; ``AND`` / ``OR`` between clauses.
Plain words are optional (ranked by BM25) unless joined by AND; phrases and field clauses are required;
exclusions must not match. Anything unparseable degrades to plain words, never to an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TEXT_FIELDS = {"title": "title", "author": "authors", "authors": "authors", "summary": "summary",
               "abstract": "summary", "body": "body"}
KEYWORD_FIELDS = {"venue": "venue", "tag": "tags", "tags": "tags", "category": "categories",
                  "categories": "categories", "cat": "categories", "lang": "language",
                  "language": "language"}

SHOULD, MUST, MUST_NOT = "should", "must", "must_not"

_TOKEN = re.compile(r'(?P<neg>-)?(?:(?P<field>[A-Za-z]+):)?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))')


@dataclass
class Clause:
    """One piece of a query: text to match in `field` (None = all text fields)."""

    text: str
    occur: str = SHOULD
    field: str | None = None
    phrase: bool = False

    @property
    def is_keyword(self) -> bool:
        return self.field in KEYWORD_FIELDS.values()


@dataclass
class ParsedQuery:
    clauses: list[Clause] = field(default_factory=list)

    @property
    def positive(self) -> list[Clause]:
        return [c for c in self.clauses if c.occur != MUST_NOT]


def parse_query(text: str) -> ParsedQuery:
    """Split the query string into clauses (never raises)."""
    raw: list[Clause | str] = []
    for match in _TOKEN.finditer(text or ""):
        word, phrase, field_name = match.group("word"), match.group("phrase"), match.group("field")
        if word in ("AND", "OR", "&&", "||") and not match.group("neg") and not field_name:
            raw.append("AND" if word in ("AND", "&&") else "OR")
            continue
        value = phrase if phrase is not None else word
        target = None
        if field_name:
            target = TEXT_FIELDS.get(field_name.lower()) or KEYWORD_FIELDS.get(field_name.lower())
            if target is None:  # "x:y" that is no field of ours: keep it as text
                value = f"{field_name}:{value}"
        if not value or not value.strip():
            continue
        occur = MUST_NOT if match.group("neg") else SHOULD
        if occur == SHOULD and (phrase is not None or target is not None):
            occur = MUST
        raw.append(Clause(value.strip(), occur, target, phrase is not None))
    return ParsedQuery(_apply_operators(raw))


def plain_query(text: str) -> ParsedQuery:
    """The whole text as one optional bag of words, no syntax (for evaluation queries)."""
    return ParsedQuery([Clause(text.strip())] if text and text.strip() else [])


def _apply_operators(raw: list[Clause | str]) -> list[Clause]:
    clauses: list[Clause] = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            continue
        before = raw[i - 1] if i > 0 else None
        after = raw[i + 1] if i + 1 < len(raw) else None
        if item.occur == SHOULD and "AND" in (before, after):
            item.occur = MUST
        clauses.append(item)
    return clauses


def category_expression(expression: str, known: set[str] | None = None) -> tuple[list[str], list[str]]:
    """``cs.AI+cs.LG-cs.CY`` -> (["cs.AI", "cs.LG"], ["cs.CY"]): union of the first, minus the second.

    Category names may hold hyphens themselves (``hep-ph``); with `known` names given, a ``-`` right
    after a known name is the operator and any other ``-`` belongs to the name.
    """
    include: list[str] = []
    exclude: list[str] = []
    sign, name = "+", ""
    for piece in re.split(r"([+\-,\s])", expression or ""):
        if piece in ("+", ",", " ", "-"):
            joins_name = piece == "-" and name and known is not None and name not in known
            if joins_name:
                name += "-"
                continue
            if name:
                (exclude if sign == "-" else include).append(name)
            sign = piece if piece in "+-" else ("+" if piece else sign)
            if piece in (",", " ") and not name:
                continue
            name = ""
        elif piece:
            name += piece
    if name:
        (exclude if sign == "-" else include).append(name)
    return include, exclude
