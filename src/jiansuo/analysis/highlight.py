"""Excerpts around the matched query terms, as (text, is_match) segments the page escapes itself."""

from __future__ import annotations

import re

from jiansuo.analysis.tokenize import token_spans

_SPACES = re.compile(r"\s+")

Segment = tuple[str, bool]


def excerpt(text: str, terms: set[str], width: int = 160) -> list[Segment]:
    """The `width`-character window of `text` with the most distinct query terms, terms marked.

    Returns the head of the text, unmarked, when nothing matches.
    """
    if not text:
        return []
    tokens = [t for t in token_spans(text) if t.term in terms] if terms else []
    if not tokens:
        return [(_clip(text, 0, width), False)]
    best_start, best_score = tokens[0].start, -1
    for i, first in enumerate(tokens):
        seen: set[str] = set()
        for token in tokens[i:]:
            if token.end - first.start > width:
                break
            seen.add(token.term)
        if len(seen) > best_score:
            best_start, best_score = first.start, len(seen)
    start = max(0, best_start - width // 4)
    end = min(len(text), start + width)
    segments: list[Segment] = []
    if start > 0:
        segments.append(("…", False))
    cursor = start
    for token in tokens:
        if token.start < start or token.end > end:
            continue
        if token.start > cursor:
            segments.append((text[cursor : token.start], False))
        segments.append((text[token.start : token.end], True))
        cursor = token.end
    segments.append((text[cursor:end], False))
    if end < len(text):
        segments.append(("…", False))
    return [(_SPACES.sub(" ", s), m) for s, m in segments if s]


def _clip(text: str, start: int, width: int) -> str:
    piece = _SPACES.sub(" ", text[start : start + width]).strip()
    return piece + ("…" if len(text) > start + width else "")
