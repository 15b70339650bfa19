"""Parse the search-box syntax into clauses any backend can translate.

Syntax: words; ``"a phrase"``; ``-word`` / ``-"phrase"`` to exclude; ``title:`` ``author:`` ``venue:``
``tag:`` ``category:`` ``lang:`` with a word or a quoted phrase (``category:"Physical sciences"``);
``AND`` / ``OR`` between clauses.
Plain words are optional (ranked by BM25) unless joined by AND; phrases and field clauses are required;
``A OR B`` binds the clauses on its two sides into one required group (at least one must match);
exclusions must not match. In a list sorted by date or popularity plain words are required too
(`ParsedQuery.every_word_required`). Label clauses (category, tag, venue, lang) filter without scoring and leave
the rest of the query as it was. Anything unparseable degrades to plain words, never to an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field

from jiansuo.analysis import analyze

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
    any_of: list[Clause] = dataclass_field(default_factory=list)  # an OR group: at least one of these matches

    @property
    def is_keyword(self) -> bool:
        if self.any_of:
            return all(member.is_keyword for member in self.any_of)
        return self.field in KEYWORD_FIELDS.values()


@dataclass
class ParsedQuery:
    clauses: list[Clause] = dataclass_field(default_factory=list)

    @property
    def positive(self) -> list[Clause]:
        return [c for c in self.clauses if c.occur != MUST_NOT]

    @property
    def words(self) -> str:
        """The text the query searches for by meaning or by title: its clauses less exclusions and label filters."""
        return " ".join(c.text for c in self.positive if not c.is_keyword).strip()

    def every_word_required(self) -> ParsedQuery:
        """The query with each optional word required, as a phrase of its terms (a word with no searchable
        term, such as a stop word, dropped). A list sorted by date or popularity holds this: there no ranking
        puts the documents that match one word of several (模型 of 扩散模型) below those that match them all."""
        return ParsedQuery([replace(c, occur=MUST, phrase=True) if c.occur == SHOULD else c
                            for c in self.clauses if c.occur != SHOULD or analyze(c.text)])


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
    """AND makes its neighbours required; OR joins its neighbours (chains too) into one required group."""
    items: list[Clause | str] = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            items.append(item)
            continue
        before = raw[i - 1] if i > 0 else None
        after = raw[i + 1] if i + 1 < len(raw) else None
        if item.occur == SHOULD and "AND" in (before, after):
            item.occur = MUST
        items.append(item)
    clauses: list[Clause] = []
    pending_or = False
    for item in items:
        if item == "OR":
            pending_or = bool(clauses) and clauses[-1].occur != MUST_NOT
            continue
        if isinstance(item, str):
            pending_or = False
            continue
        if pending_or and item.occur != MUST_NOT:
            clauses[-1] = _either(clauses[-1], item)
        else:
            clauses.append(item)
        pending_or = False
    return clauses


def _either(left: Clause, right: Clause) -> Clause:
    members = (left.any_of or [left]) + [right]
    for member in members:
        member.occur = SHOULD
    return Clause(" ".join(m.text for m in members), MUST, None, False, members)


def category_expression(expression: str, known: set[str] | None = None) -> tuple[list[str], list[str]]:
    """``cs.AI+cs.LG-cs.CY`` -> (["cs.AI", "cs.LG"], ["cs.CY"]): union of the first, minus the second.

    ``+``, ``,`` and spaces join names (a URL turns ``+`` into a space), ``-`` subtracts. With `known`
    names given, names may hold hyphens (``hep-ph``: a ``-`` right after a known name is the operator, any
    other belongs to the name) and spaces (``Physical sciences``: words joined while they begin a known name).
    """
    folded = {name.casefold() for name in known} if known is not None else None
    prefixes: set[str] = set()
    for name in folded or ():
        words = name.split()
        prefixes.update(" ".join(words[:i]) for i in range(1, len(words) + 1))
    include: list[str] = []
    exclude: list[str] = []
    sign, name = "+", ""
    pieces = [p for p in re.split(r"([+\-,]|\s+)", (expression or "").strip()) if p]
    for index, piece in enumerate(pieces):
        if piece.isspace():
            following = pieces[index + 1] if index + 1 < len(pieces) else ""
            if name and following and f"{name} {following}".casefold() in prefixes:
                name += " "
                continue
            piece = "+"
        if piece in ("+", ",", "-"):
            if piece == "-" and name and folded is not None and name.casefold() not in folded:
                name += "-"
                continue
            if name:
                (exclude if sign == "-" else include).append(name)
            elif piece != "-" and sign == "-":
                continue  # "-+x": keep the pending minus
            sign = "-" if piece == "-" else "+"
            name = ""
        else:
            name += piece
    if name:
        (exclude if sign == "-" else include).append(name)
    return include, exclude
