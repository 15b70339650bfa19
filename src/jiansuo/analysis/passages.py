"""Split long documents into overlapping passages for the dense encoder.

Rule: sentences are packed greedily into passages of at most ~200 model tokens (estimated: a CJK
character ~0.7 token, a Latin word ~1.3), each passage starting with the last ~20% of the previous one,
at most MAX_PASSAGES per document (the rest of a very long post is left to BM25). Every passage is
prefixed with the title, so a passage deep in a post still knows what the post is about.
A document scores as its best passage (MaxP), and that passage is its dense excerpt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jiansuo.model import Document

TOKEN_BUDGET = 200
OVERLAP = 0.2
MAX_PASSAGES = 16
_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*|\n+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class Passage:
    text: str  # what the encoder sees (title + span)
    start: int  # span in passage_source(document)
    end: int


def passage_source(document: Document) -> str:
    """The text passages are cut from: summary then body."""
    return "\n".join(part for part in (document.summary, document.body) if part)


def estimate_tokens(text: str) -> float:
    return 0.7 * len(_CJK.findall(text)) + 1.3 * len(_WORD.findall(text)) + 1


def split_passages(document: Document, budget: int = TOKEN_BUDGET, limit: int = MAX_PASSAGES,
                   overlap: float = OVERLAP) -> list[Passage]:
    source = passage_source(document)
    title = document.title.strip()
    prefix = f"{title}\n" if title else ""
    budget = max(20, budget - int(estimate_tokens(title)))
    spans = _sentences(source, budget)
    if not spans:
        return [Passage(title, 0, 0)] if title else []
    passages: list[Passage] = []
    i = 0
    while i < len(spans) and len(passages) < limit:
        start, tokens, j = spans[i][0], 0.0, i
        while j < len(spans) and (j == i or tokens + spans[j][2] <= budget):
            tokens += spans[j][2]
            j += 1
        end = spans[j - 1][1]
        passages.append(Passage(prefix + source[start:end].strip(), start, end))
        if j >= len(spans):
            break
        back, kept = j, 0.0  # step back so the next passage repeats ~20% of this one
        while back - 1 > i and kept + spans[back - 1][2] <= budget * overlap:
            back -= 1
            kept += spans[back][2]
        i = back
    return passages


def _sentences(text: str, budget: int) -> list[tuple[int, int, float]]:
    """(start, end, estimated tokens) per sentence; over-long sentences are cut into budget-sized pieces."""
    spans: list[tuple[int, int, float]] = []
    cursor = 0
    for match in _SENTENCE_END.finditer(text + "\n"):
        end = match.start()
        if end > cursor and text[cursor:end].strip():
            spans.extend(_cut(text, cursor, end, budget))
        cursor = match.end()
    return spans


def _cut(text: str, start: int, end: int, budget: int) -> list[tuple[int, int, float]]:
    tokens = estimate_tokens(text[start:end])
    if tokens <= budget:
        return [(start, end, tokens)]
    pieces = int(tokens // budget) + 1
    step = max(1, (end - start) // pieces)
    return [(s, min(end, s + step), estimate_tokens(text[s : min(end, s + step)])) for s in range(start, end, step)]
