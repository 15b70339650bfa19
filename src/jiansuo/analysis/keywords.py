"""The most characteristic terms of a document: TF-IDF over our own analyzer's words, phrases where they win.

Candidates are the words the index sees (jieba words for Chinese, stemmed English words), shown in the form
the text uses, minus stop words, numbers, single characters and LaTeX. Two or three adjacent candidates that
recur in the document form a phrase candidate (``平方和 优化`` -> 平方和优化, ``neural network``); a phrase
replaces its words when it scores at least as well as the best of them. Weight: (1 + log tf) · log(N / df),
title words counted twice.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from jiansuo.analysis.plaintext import MATH
from jiansuo.analysis.tokenize import ENGLISH_STOPWORDS, Token, token_spans

KEYWORDS_PER_DOCUMENT = 10
MAX_CHARS = 20_000  # keywords come from the first part of a very long text
CHINESE_STOPWORDS = frozenset(
    "我们 你们 他们 它们 这个 那个 这些 那些 一个 一种 一些 可以 可能 进行 通过 使用 利用 以及 其中 因此 所以 "
    "但是 如果 那么 就是 也是 还是 而且 并且 或者 以下 以上 之间 之后 之前 时候 没有 不是 这样 这种 那样 "
    "其实 当然 然后 于是 由于 对于 关于 根据 为了 虽然 不过 而是 的话 自己 这里 那里 什么 怎么 如何 为什么 "
    "问题 方法 结果 研究 分析 提出 表明 基于 本文 文章 一下 一般 比较 非常 已经 需要 得到 来说 同时 以及 "
    "具有 采用 相关 主要 不同 重要 作为 存在 其他 这就 就是说 也就是 本节".split())
EXTRA_ENGLISH_STOPWORDS = frozenset(
    "we our us you your he she his her its from have has had were been being which who whom what when where "
    "how why also can could would should may might must do does did done than more most less very so such "
    "about above after again all any both each few other some only own same too just over under between "
    "into through during before while use used using based show shows shown paper propos result results "
    "method methods studi approach new one two three first second et al".split())
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NUMBER = re.compile(r"^[\d.]+$")


@dataclass(frozen=True)
class Keyword:
    text: str  # as the document writes it
    terms: tuple[str, ...]  # index terms (one for a word, 2-3 for a phrase)
    weight: float


def candidate(token: Token, surface: str) -> bool:
    term = token.term
    if term.startswith("\\") or _NUMBER.match(term) or term in CHINESE_STOPWORDS:
        return False
    if _CJK.match(term):
        return len(term) >= 2
    return len(surface) >= 3 and surface.casefold() not in ENGLISH_STOPWORDS | EXTRA_ENGLISH_STOPWORDS \
        and term not in EXTRA_ENGLISH_STOPWORDS


def keywords(title: str, text: str, document_frequency: Callable[[tuple[str, ...]], int], documents: int,
             count: int = KEYWORDS_PER_DOCUMENT) -> list[Keyword]:
    """The `count` highest-weighted keywords of a document (title, and text as plain text).

    `document_frequency(terms)` is how many documents of the corpus hold those index terms (in that order, for a
    phrase); `documents` is the corpus size.
    """
    sources = [(title, 2), (MATH.sub(" ", text[:MAX_CHARS]), 1)]
    frequency: Counter[tuple[str, ...]] = Counter()
    surfaces: dict[tuple[str, ...], Counter[str]] = {}
    for source, weight in sources:
        for run in _adjacent_runs(source):
            for size in (1, 2, 3):
                for start in range(len(run) - size + 1):
                    window = run[start : start + size]
                    terms = tuple(t.term for t, _ in window)
                    frequency[terms] += weight
                    surface = _join(source, window)
                    surfaces.setdefault(terms, Counter())[surface] += 1
    scored: dict[tuple[str, ...], float] = {}
    for terms, tf in frequency.items():
        if len(terms) > 1 and tf < 2:
            continue  # a phrase must recur to be one
        df = document_frequency(terms)
        if df <= 0:
            continue
        scored[terms] = (1 + math.log(tf)) * math.log((documents + 1) / df)
    chosen: list[Keyword] = []
    covered: set[str] = set()
    for terms in _phrases_first(scored):
        if set(terms) <= covered:  # its words are already shown, alone or in a phrase
            continue
        chosen.append(Keyword(surfaces[terms].most_common(1)[0][0], terms, round(scored[terms], 4)))
        covered.update(terms)
        if len(chosen) == count:
            break
    return chosen


def _phrases_first(scored: dict[tuple[str, ...], float]) -> Iterable[tuple[str, ...]]:
    """Candidates by weight, a phrase kept only where it scores at least as well as its best word."""
    kept = {}
    for terms, weight in scored.items():
        if len(terms) > 1 and weight < max(scored.get((t,), 0.0) for t in terms):
            continue
        kept[terms] = weight
    return sorted(kept, key=lambda t: (-kept[t], -len(t), t))


def _adjacent_runs(text: str) -> list[list[tuple[Token, str]]]:
    """Runs of candidate tokens with nothing but a space between neighbours (no punctuation, no stop word)."""
    runs: list[list[tuple[Token, str]]] = []
    current: list[tuple[Token, str]] = []
    previous_end = -10
    for token in token_spans(text):
        surface = text[token.start : token.end]
        if not candidate(token, surface):
            previous_end = -10
            if current:
                runs.append(current)
            current = []
            continue
        gap = text[previous_end : token.start] if previous_end >= 0 else "x"
        if current and gap not in ("", " "):
            runs.append(current)
            current = []
        current.append((token, surface))
        previous_end = token.end
    if current:
        runs.append(current)
    return runs


def _join(text: str, window: list[tuple[Token, str]]) -> str:
    return text[window[0][0].start : window[-1][0].end]
