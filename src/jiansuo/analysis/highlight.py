"""Excerpts around the matched query terms, as (text, is_match) segments the page escapes itself.

The text is a plain-text rendering (jiansuo.analysis.plaintext): a formula stands whole between MATH_OPEN
and MATH_CLOSE, and a window never starts or ends inside one. Windows start at a sentence start where one
is near and end at a sentence end where one is near. The work is linear in the text's length, and only the
first MAX_SCAN_CHARS characters are searched for matches.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter

from jiansuo.analysis.plaintext import MATH
from jiansuo.analysis.tokenize import token_spans

MAX_SCAN_CHARS = 100_000
_SPACES = re.compile(r"\s+")
_SENTENCE_START = re.compile(r"(?<=[。！？；.!?;\n])\s*")

Segment = tuple[str, bool]


def excerpt(text: str, terms: set[str], width: int = 160) -> list[Segment]:
    """The `width`-character window of `text` with the most distinct query terms, terms marked.

    Returns the head of the text, unmarked, when nothing matches.
    """
    if not text:
        return []
    scanned = text[:MAX_SCAN_CHARS]
    formulas = [(m.start(), m.end()) for m in MATH.finditer(scanned)]
    tokens = [t for t in token_spans(scanned) if t.term in terms and not _inside(formulas, t.start)] if terms else []
    keep_until = 0
    if not tokens:
        start = 0
    else:
        first = _best_window(tokens, width)
        last = first
        while last + 1 < len(tokens) and tokens[last + 1].end - tokens[first].start <= width:
            last += 1
        keep_until = tokens[last].end  # the window's matches stay in view, whatever the lead-in
        start = max(_sentence_start(scanned, tokens[first].start, width // 4), keep_until - width)
    start, end = _window(text, formulas, start, width, keep_until)
    segments: list[Segment] = []
    if start > 0:
        segments.append(("…", False))
    cursor = start
    for token in tokens:
        if token.start < start or token.end > end:
            continue
        if token.start > cursor:
            segments.append((text[cursor : token.start], False))
        if token.start == cursor and segments and segments[-1][1]:  # 扩散|模型: one mark, not two side by side
            segments[-1] = (segments[-1][0] + text[token.start : token.end], True)
        else:
            segments.append((text[token.start : token.end], True))
        cursor = token.end
    segments.append((text[cursor:end], False))
    if end < len(text):
        segments.append(("…", False))
    return [(_SPACES.sub(" ", s), m) for s, m in segments if s]


def excerpt_at(text: str, position: int, width: int = 160) -> list[Segment]:
    """An unmarked excerpt of `text` from the sentence around `position`."""
    if not text:
        return []
    formulas = [(m.start(), m.end()) for m in MATH.finditer(text[:MAX_SCAN_CHARS])]
    start = _sentence_start(text, min(position, len(text)), width // 2)
    start, end = _window(text, formulas, start, width)
    pieces = [("…", False)] if start > 0 else []
    pieces.append((_SPACES.sub(" ", text[start:end]), False))
    if end < len(text):
        pieces.append(("…", False))
    return pieces


def _best_window(tokens: list, width: int) -> int:
    """Index of the first token of the window (a sliding window over the matches) with most distinct terms."""
    counts: Counter[str] = Counter()
    best, best_score, right = 0, -1, 0
    for left, first in enumerate(tokens):
        while right < len(tokens) and tokens[right].end - first.start <= width:
            counts[tokens[right].term] += 1
            right += 1
        if len(counts) > best_score:
            best, best_score = left, len(counts)
        if right > left:
            counts[first.term] -= 1
            if not counts[first.term]:
                del counts[first.term]
        else:
            right = left + 1
    return best


def _sentence_start(text: str, match_start: int, reach: int) -> int:
    """The start of the sentence holding `match_start` if it is within `reach` characters, else a word start."""
    low = max(0, match_start - reach)
    starts = [m.end() for m in _SENTENCE_START.finditer(text, low, match_start)]
    if starts:
        return starts[-1]
    if low == 0:
        return 0
    space = text.find(" ", low, match_start)
    return space + 1 if space >= 0 else low


def _window(text: str, formulas: list[tuple[int, int]], start: int, width: int,
            keep_until: int = 0) -> tuple[int, int]:
    """[start, end) moved off any formula it would cut, the end at a sentence end when one is near (never
    before `keep_until`)."""
    start = _outside(formulas, start, prefer_end=False)
    end = min(len(text), max(start + width, keep_until))
    if end < len(text):
        stop = max(text.rfind(mark, max(start + width // 2, keep_until), end) for mark in "。！？；.!?;\n")
        end = stop + 1 if stop >= 0 else end
    inside = _containing(formulas, end)
    if inside is not None:
        formula_start, formula_end = inside
        end = formula_end if formula_end - start <= width * 1.5 else formula_start
    return start, max(end, start)


def _inside(formulas: list[tuple[int, int]], position: int) -> bool:
    return _containing(formulas, position) is not None


def _containing(formulas: list[tuple[int, int]], position: int) -> tuple[int, int] | None:
    index = bisect.bisect_right(formulas, (position, len(formulas) + 10**12)) - 1
    if index >= 0 and formulas[index][0] < position < formulas[index][1]:
        return formulas[index]
    return None


def _outside(formulas: list[tuple[int, int]], position: int, prefer_end: bool) -> int:
    inside = _containing(formulas, position)
    if inside is None:
        return position
    return inside[1] if prefer_end else inside[0]
