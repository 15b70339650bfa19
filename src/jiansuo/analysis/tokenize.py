"""Tokenize mixed Chinese/English/LaTeX text into index terms.

Chinese runs are segmented with rjieba (precise mode, HMM off, so a word segments the same way in a
query as in a document), with a user dictionary built from the store: the Chinese author names it
holds, so ``苏剑林`` stays one word instead of 苏/剑/林 (add_user_words; the index keeps its list).
Latin words are lowercased, stop-listed and Porter-stemmed (the Pyserini/BEIR BM25 setting), after the
irregular plurals of research writing become their singulars (``matrices`` -> ``matrix``: Porter leaves
``matric``, and ``vertices``/``indices`` fall together with ``vertical``/``indicate``); LaTeX
commands such as ``\\mathcal`` stay single terms so math does not dissolve into noise. Tantivy receives
the terms joined by spaces and splits them on whitespace.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import rjieba
import Stemmer

from jiansuo.analysis.latex import find_math

# Lucene's EnglishAnalyzer stop set, as used by Pyserini's BM25 baselines.
ENGLISH_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there "
    "these they this to was will with".split()
)
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPLIT = re.compile(
    rf"(?P<cjk>[{_CJK}]+)|(?P<tex>\\[A-Za-z]+)|(?P<word>[0-9A-Za-z\u00c0-\u024f\u0370-\u03ff\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+)"
)
_CJK_CHAR = re.compile(f"[{_CJK}]")
MAX_TERM_CHARS = 64
STEMMERS = ("porter", "english", "none")  # PyStemmer's Porter, Snowball English (Porter2), no stemming
STEMMER = "porter"
# terms of the store's titles in the segmenter's dictionary: off (bench/results/title_words.md, measured with
# `--title-words` on bench/bm25_beir.py and bench/csl_task.py)
TITLE_WORDS = False
_stemmer: Stemmer.Stemmer | None = Stemmer.Stemmer(STEMMER)
IRREGULAR_PLURALS = True  # off only in bench/stemmer.py, to measure what it brings
# Latin and Greek plurals of science and mathematics (and a few English ones) that no suffix stemmer joins to their
# singular. Left out where the plural form is also another common word: bases (base), data, media, ellipses.
_SINGULAR_OF = {
    **{plural: plural[:-4] + "ex" for plural in
       ("vertices", "indices", "simplices", "vortices", "cortices", "apices")},
    **{plural: plural[:-4] + "ix" for plural in ("matrices", "appendices", "helices")},
    **{plural: plural[:-1] + "us" for plural in
       ("radii", "moduli", "loci", "foci", "nuclei", "annuli", "stimuli", "fungi", "bacilli", "tori", "calculi",
        "emboli", "thrombi", "villi", "cacti", "syllabi")},
    **{plural: plural[:-1] + "um" for plural in
       ("spectra", "maxima", "minima", "optima", "extrema", "suprema", "infima", "quanta", "strata", "bacteria",
        "curricula", "momenta", "continua", "errata", "addenda", "symposia")},
    **{plural: plural[:-1] + "on" for plural in
       ("criteria", "phenomena", "polyhedra", "automata", "ganglia", "mitochondria")},
    **{plural: plural[:-2] + "is" for plural in
       ("hypotheses", "analyses", "theses", "syntheses", "parentheses", "diagnoses", "prognoses", "crises", "axes",
        "metastases", "prostheses", "paralyses", "psychoses", "neuroses")},
    **{plural: plural[:-1] for plural in
       ("formulae", "hyperbolae", "parabolae", "vertebrae", "larvae", "antennae", "algae", "nebulae")},
    "lemmata": "lemma", "schemata": "schema", "stomata": "stoma", "genera": "genus", "corpora": "corpus",
    "mice": "mouse", "children": "child", "teeth": "tooth", "feet": "foot",
}


def use_stemmer(name: str) -> None:
    """Switch the English stemmer for this process (benchmarks compare them; the index records which)."""
    global STEMMER, _stemmer
    if name not in STEMMERS:
        raise ValueError(f"stemmer must be one of {', '.join(STEMMERS)}, not {name!r}")
    STEMMER = name
    _stemmer = None if name == "none" else Stemmer.Stemmer(name)
    _latin_term.cache_clear()


_USER_WORD = re.compile(f"[{_CJK}·]{{2,12}}")
_user_words: set[str] = set()
_FUNCTION_CHARACTERS = frozenset("的了与和及或中在是对为将把被从到于以此其之而且等个")


def user_words(names: Iterable[str]) -> set[str]:
    """The Chinese names among `names` (author names of the store): words for the segmenter's dictionary."""
    return {name.strip() for name in names if _USER_WORD.fullmatch(name.strip() or "-")}


def title_words(titles: Iterable[str], min_titles: int = 5) -> set[str]:
    """Chinese terms the corpus' titles keep using that the segmenter would cut: two or three adjacent words
    (3-8 characters together) that appear together in at least `min_titles` titles (数据/透视/表 -> 数据透视表)."""
    counts: Counter[str] = Counter()
    for title in titles:
        seen: set[str] = set()
        for match in _SPLIT.finditer(title):
            if match.lastgroup != "cjk":
                continue
            words = [w for w, _, _ in rjieba.tokenize(match.group(), hmm=False)]
            for size in (2, 3):
                for start in range(len(words) - size + 1):
                    parts = words[start : start + size]
                    joined = "".join(parts)
                    # words of two characters or more; only a last one may be a single (not a function) character
                    if 3 <= len(joined) <= 8 and all(len(p) >= 2 for p in parts[:-1]) and (
                            len(parts[-1]) >= 2 or parts[-1] not in _FUNCTION_CHARACTERS):
                        seen.add(joined)
        counts.update(seen)
    return {word for word, count in counts.items() if count >= min_titles}


def add_user_words(words: Iterable[str]) -> None:
    """Teach the segmenter these words (process-wide, as jieba's dictionary is); known ones are skipped."""
    for word in (simplified(w) for w in words):
        if word not in _user_words:
            rjieba.add_word(word, None, None)
            _user_words.add(word)


TRADITIONAL_FOLDING = True  # off only in bench/traditional_queries.py, to measure what it brings


def simplified(text: str) -> str:
    """Traditional Chinese characters as their simplified forms, one character for one (spans keep their place):
    a query typed in 擴散模型 finds 扩散模型 and the other way round. Only characters that are not simplified
    characters themselves are mapped, so a simplified text never changes (_traditional_only)."""
    return text.translate(_traditional_only()) if TRADITIONAL_FOLDING else text


@lru_cache(maxsize=1)
def _traditional_only() -> dict[int, str]:
    """OpenCC's traditional -> simplified characters (TSCharacters.txt, Apache-2.0, from the
    opencc-python-reimplemented wheel, read as data), less every character its simplified -> traditional table
    lists as simplified or GB 2312 holds (so no character of a simplified text changes), and less the mappings to
    several characters or to itself."""
    from importlib.metadata import distribution

    package = distribution("opencc-python-reimplemented")

    def table(name: str) -> dict[str, list[str]]:
        text = Path(str(package.locate_file(f"opencc/dictionary/{name}"))).read_text(encoding="utf-8")
        return {key: values.split(" ") for key, _, values in (line.partition("\t") for line in text.splitlines())}

    simplified_chars = table("STCharacters.txt")
    return {ord(key): values[0] for key, values in table("TSCharacters.txt").items()
            if len(key) == 1 and len(values[0]) == 1 and key != values[0] and key not in simplified_chars
            and not in_gb2312(key)}


def in_gb2312(char: str) -> bool:
    """Whether a character belongs to GB 2312, the simplified standard set (乾 of 乾坤 and 著 of 著名 do)."""
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Token:
    """A term and the character span it came from in the original text."""

    term: str
    start: int
    end: int


@lru_cache(maxsize=200_000)
def _latin_term(word: str) -> str | None:
    word = unicodedata.normalize("NFKC", word).casefold()
    if not word.isascii():  # accents folded, as Lucene's ASCIIFoldingFilter does: Erdős matches Erdos
        word = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    if word in ENGLISH_STOPWORDS or len(word) > MAX_TERM_CHARS:
        return None
    if IRREGULAR_PLURALS:
        word = _SINGULAR_OF.get(word, word)
    return _stemmer.stemWord(word) if _stemmer is not None else word


def token_spans(text: str) -> list[Token]:
    """All index terms of `text` with their character spans, in order."""
    tokens: list[Token] = []
    for match in _SPLIT.finditer(text):
        kind, start = match.lastgroup, match.start()
        if kind == "cjk":
            for word, begin, end in rjieba.tokenize(simplified(match.group()), hmm=False):
                tokens.append(Token(word, start + begin, start + end))
        elif kind == "tex":
            tokens.append(Token(match.group()[:MAX_TERM_CHARS], start, match.end()))
        else:
            term = _latin_term(match.group())
            if term:
                tokens.append(Token(term, start, match.end()))
    return tokens


def analyze(text: str) -> list[str]:
    """Index terms of `text`, in order (the same function serves documents and queries)."""
    return [token.term for token in token_spans(text)]


def cjk_bigrams(text: str) -> list[str]:
    """Overlapping character bigrams of every CJK run; a lone character stands for itself.

    Indexed in a field of their own so that a Chinese query matches text that contains it even when
    jieba cuts the surrounding document differently from the query.
    """
    grams: list[str] = []
    for match in _SPLIT.finditer(text):
        if match.lastgroup != "cjk":
            continue
        run = simplified(match.group())
        if len(run) == 1:
            grams.append(run)
        grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return grams


def detect_language(text: str) -> str:
    """'zh' when CJK characters make up a fair share of the letters outside formulas, else 'en' (the Latin
    letters of TeX, `\\nabla_{x_t}\\log p(y|x_t)`, say nothing of the language a post is written in)."""
    head = text[:4000]
    spans = find_math(head)
    sample = "".join(head[start:end] for start, end in zip(
        [0, *(s.end for s in spans)], [*(s.start for s in spans), len(head)], strict=True))[:2000]
    cjk = len(_CJK_CHAR.findall(sample))
    latin = sum(ch.isascii() and ch.isalpha() for ch in sample)
    return "zh" if cjk and cjk * 3 >= latin else "en"
