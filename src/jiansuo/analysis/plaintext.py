"""A document body as readable plain text: what excerpts are cut from.

Markdown syntax goes (links keep their text, images are dropped, headings, emphasis, tables and lists lose
their markers); each formula stays whole between MATH_OPEN and MATH_CLOSE (private-use characters no
document can hold), so an excerpt can render it or leave it out but never cut it. Bodies that are not
Markdown (abstracts, plain text) keep their characters as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt

from jiansuo.analysis.latex import MathSpan, Numbering, expand_macros, extract_macros, find_math, resolve_references

MATH_OPEN, MATH_CLOSE = "\ue000", "\ue001"
PLACEHOLDER_OPEN, PLACEHOLDER_CLOSE = "\ue002", "\ue003"
PRIVATE = re.compile("[\ue000-\ue003]")
PLACEHOLDER = re.compile(f"{PLACEHOLDER_OPEN}(\\d+){PLACEHOLDER_CLOSE}")
MATH = re.compile(f"{MATH_OPEN}([^{MATH_CLOSE}]*){MATH_CLOSE}")
_LETTER = r"[^\W\d_]"
_MARKDOWN_SIGNS = re.compile(r"^#{1,6} |\]\(|^\s*(?:[-*+]|\d+\.) |\*\*|^```|^\|.*\|\s*$|!\["
                             rf"|(?<![A-Za-z0-9_*])\*{_LETTER}[^*\n]*?\w\*(?![A-Za-z0-9_*])|(?<!\w)_{_LETTER}[^_\n]*?\w_(?!\w)",
                             re.M)  # ... *emphasis* and _emphasis_ around words
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLOCK_ENDS = {"paragraph_close", "heading_close", "list_item_close", "blockquote_close", "tr_close",
               "table_close", "fence", "code_block", "hr"}


def looks_like_markdown(text: str) -> bool:
    """Markdown headings, links, lists, emphasis, fences, tables or images: render it as Markdown."""
    return bool(_MARKDOWN_SIGNS.search(text))


@dataclass(frozen=True)
class Formulas:
    """The formulas of one text, TeX normalised and the document's own macros expanded."""

    spans: list[MathSpan]

    @classmethod
    def of(cls, text: str) -> Formulas:
        found = find_math(text)
        cleaned: list[tuple[MathSpan, str]] = []
        macros: dict = {}
        for span in found:
            tex, defined = extract_macros(span.tex)
            macros.update(defined)
            cleaned.append((span, tex))
        spans = [MathSpan(span.start, span.end, expand_macros(tex, macros), span.display, span.environment)
                 for span, tex in cleaned]
        return cls(spans)  # a formula that only defined macros keeps its place, rendered as nothing

    def with_placeholders(self, text: str) -> str:
        """`text` with formula i replaced by PLACEHOLDER_OPEN i PLACEHOLDER_CLOSE."""
        out: list[str] = []
        position = 0
        for index, span in enumerate(self.spans):
            out.append(text[position : span.start])
            out.append(f"{PLACEHOLDER_OPEN}{index}{PLACEHOLDER_CLOSE}")
            position = span.end
        out.append(text[position:])
        return "".join(out)


_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def prepared(text: str) -> tuple[str, Formulas]:
    """Text with no private-use characters, its formulas found, and the text with placeholders."""
    clean = PRIVATE.sub("", text or "")
    formulas = Formulas.of(clean)
    return formulas.with_placeholders(clean), formulas


@lru_cache(maxsize=4096)
def plain_text(text: str, code: bool = True) -> str:
    """Readable plain text of a Markdown (or plain) body, formulas kept whole between MATH_OPEN/CLOSE.
    `code=False`: without its code blocks (the prose, which is what the text is about)."""
    if not text:
        return ""
    placeheld, formulas = prepared(text)
    if looks_like_markdown(placeheld):
        flat = _markdown_text(placeheld, code)
    else:
        flat = placeheld
    labels = Numbering.of(formulas.spans).labels
    flat = PLACEHOLDER.sub(lambda m: _math_marker(formulas.spans[int(m.group(1))], labels), flat)
    lines = [_SPACES.sub(" ", line).strip() for line in flat.split("\n")]
    return "\n".join(line for line in lines if line)


def _math_marker(span: MathSpan, labels: dict[str, str]) -> str:
    tex = " ".join(resolve_references(span.tex, labels).split())
    return f"{MATH_OPEN}{tex}{MATH_CLOSE}" if tex else ""


def _markdown_text(text: str, code: bool) -> str:
    out: list[str] = []
    for token in _MD.parse(text):
        if token.type == "inline":
            out.append(_inline_text(token.children or []))
        elif token.type in ("fence", "code_block") and code:
            out.append(token.content)
        elif token.type in ("th_close", "td_close"):
            out.append(" ")
        if token.type in _BLOCK_ENDS:
            out.append("\n")
    return "".join(out)


def _inline_text(children: list) -> str:
    out: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
        # images and raw HTML are left out; link and emphasis markers carry no text of their own
    return "".join(out)
