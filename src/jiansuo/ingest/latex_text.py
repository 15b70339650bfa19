"""LaTeX in metadata fields (BibTeX values, arXiv titles and author lists) as reading text.

Accents become characters (`{\\"o}`, `\\'e`, `\\v{s}`), `\\ss`-style letters theirs; `plain_text` also drops protective
braces and style commands and writes `~`, `--`, `---` as their characters. Math between dollar signs is kept as
TeX for the reading pipeline, which renders it.
"""

from __future__ import annotations

import re
import unicodedata

_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
            ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
            "r": "\u030a", "d": "\u0323", "b": "\u0331"}
_LETTERS = {"ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "aa": "å", "AA": "Å",
            "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ", "&": "&", "%": "%", "#": "#", "_": "_", "textendash": "–",
            "textemdash": "—", "textquoteright": "’", "textquoteleft": "‘", "ldots": "…", "dots": "…"}
_ACCENT = re.compile(r"""\\([`'^"~=.])\s*(?:\{\s*(\\?[A-Za-z])\s*\}|(\\?[A-Za-z]))"""
                     r"""|\\([uvHckrdb])(?:\s*\{\s*(\\?[A-Za-z])\s*\}|\s+(\\?[A-Za-z]))""")
_LETTER = re.compile(r"\\(ss|ae|AE|oe|OE|aa|AA|textendash|textemdash|textquoteright|textquoteleft|ldots|dots"
                     r"|[oOlLij])(?![A-Za-z])\s*(?:\{\})?|\\([&%#_])")
_STYLE = re.compile(r"\\(?:emph|textit|textbf|textsc|texttt|textrm|textsf|mathrm|url|href\{[^{}]*\}|mbox|text)"
                    r"\s*(?=\{)")
_MATH = re.compile(r"(?<!\\)\$\$.+?(?<!\\)\$\$|(?<!\\)\$.+?(?<!\\)\$", re.S)


def plain_text(value: str) -> str:
    """A field's LaTeX as reading text: accents as characters, protective braces and style commands gone,
    ~ and -- as their characters; math between dollar signs kept as it is."""
    return re.sub(r"\s+", " ", _outside_math(value, _plain_outside_math)).strip()


def accents(value: str) -> str:
    """Only the accents and special letters as characters (outside math); everything else as it was."""
    return _outside_math(value, _letters)


def _outside_math(value: str, convert) -> str:
    pieces: list[str] = []
    last = 0
    for match in _MATH.finditer(value):
        pieces.append(convert(value[last:match.start()]))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(convert(value[last:]))
    return "".join(pieces)


def _plain_outside_math(text: str) -> str:
    text = _STYLE.sub("", _letters(text))
    text = text.replace("---", "—").replace("--", "–").replace("~", " ")
    text = re.sub(r"(?<!\\)[{}]", "", text)
    return unicodedata.normalize("NFC", text)


def _accented(match: re.Match) -> str:
    accent = match.group(1) or match.group(4)
    letter = next(g for g in (match.group(2), match.group(3), match.group(5), match.group(6)) if g)
    base = {"\\i": "i", "\\j": "j"}.get(letter, letter.lstrip("\\"))
    return unicodedata.normalize("NFC", base + _ACCENTS[accent])


def _letters(text: str) -> str:
    text = _ACCENT.sub(_accented, text)
    return unicodedata.normalize("NFC", _LETTER.sub(lambda m: _LETTERS[m.group(1) or m.group(2)], text))
