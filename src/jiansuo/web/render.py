"""Turn untrusted document text into safe HTML: escaped text, highlighted excerpts, MathML, Markdown.

Everything that leaves here is either escaped by markupsafe or built as an element tree and serialized,
so no document can inject markup. LaTeX that latex2mathml cannot convert stays as its raw TeX text.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from functools import lru_cache
from urllib.parse import urlsplit

from latex2mathml.converter import convert_to_element
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from mdit_py_plugins.dollarmath import dollarmath_plugin

_MATH = re.compile(r"\$\$(?P<block>.+?)\$\$|(?<![\\$])\$(?P<inline>[^\s$](?:[^$\n]*?[^\s\\$])?)\$(?![0-9$])", re.S)


@lru_cache(maxsize=4096)
def latex_to_mathml(tex: str, display: str = "inline") -> str:
    """MathML for `tex`, with every text and attribute re-escaped (latex2mathml un-escapes its own
    output, which let `\\text{<img onerror=…>}` through); the TeX itself, escaped, when it fails."""
    try:
        root = convert_to_element(tex, display=display)
    except Exception:  # latex2mathml raises many kinds of errors on bad input
        return f'<code class="tex">{escape(tex)}</code>'
    for element in root.iter():
        element.text = html.unescape(element.text) if element.text else element.text
        element.tail = html.unescape(element.tail) if element.tail else element.tail
        element.attrib.pop("href", None)
        for key in [k for k in element.attrib if k.lower().startswith("on")]:
            element.attrib.pop(key)
        for key, value in element.attrib.items():
            element.attrib[key] = html.unescape(value)
    return ET.tostring(root, encoding="unicode")


def text_with_math(text: str) -> Markup:
    """Plain text (a title, a summary) with `$…$` / `$$…$$` rendered as MathML."""
    return highlighted([(text, False)]) if text else Markup("")


def highlighted(segments: list[tuple[str, bool]]) -> Markup:
    """Excerpt segments -> escaped HTML with <mark> around matches and math rendered.

    Math spans win over highlighting inside them; a `$` cut off by the excerpt window stays literal.
    """
    text = "".join(s for s, _ in segments)
    marked = [False] * len(text)
    position = 0
    for segment, is_match in segments:
        if is_match:
            marked[position : position + len(segment)] = [True] * len(segment)
        position += len(segment)
    out: list[str] = []
    cursor = 0
    for match in _MATH.finditer(text):
        out.append(_marked_text(text, marked, cursor, match.start()))
        display = "block" if match.group("block") is not None else "inline"
        out.append(latex_to_mathml(match.group("block") or match.group("inline"), display))
        cursor = match.end()
    out.append(_marked_text(text, marked, cursor, len(text)))
    return Markup("".join(out))


def _marked_text(text: str, marked: list[bool], start: int, end: int) -> str:
    out: list[str] = []
    i = start
    while i < end:
        j = i
        while j < end and marked[j] == marked[i]:
            j += 1
        piece = str(escape(text[i:j]))
        out.append(f"<mark>{piece}</mark>" if marked[i] else piece)
        i = j
    return "".join(out)


def safe_url(url: str) -> str | None:
    """Only http(s) and site-relative links survive; `javascript:` and friends become None."""
    url = (url or "").strip()
    if not url:
        return None
    if url.startswith("/") and not url.startswith("//"):
        return url
    scheme = urlsplit(url).scheme.lower()
    return url if scheme in ("http", "https") else None


def _math_renderer(tex: str, options: dict) -> str:
    return latex_to_mathml(tex, "block" if options.get("display_mode") else "inline")


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False})
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True, renderer=_math_renderer)
    md.validateLink = lambda url: safe_url(url) is not None or url.startswith("#")
    md.enable("table")
    return md


_MD = _markdown()


def markdown(text: str) -> Markup:
    """Markdown (raw HTML disabled, unsafe links dropped) with `$…$` and `$$…$$` as MathML."""
    return Markup(_MD.render(text or ""))
