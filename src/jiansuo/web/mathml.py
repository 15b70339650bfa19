"""TeX -> MathML for the page, with no script: what latex2mathml renders, after rewriting what it does not.

The MathJax extensions research blogs rely on are rewritten first: amsmath environments become tables the
browser's MathML lays out, `\\label`/`\\tag`/`\\eqref` become equation numbers, box and style commands keep
their content, commands latex2mathml does not know become operator names. A formula that still does not
convert cleanly is shown as its TeX in a `<code>` box, never half-rendered. Every text and attribute of the
output is re-escaped (latex2mathml un-escapes its own output, which let `\\text{<img onerror=…>}` through).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from functools import lru_cache

from latex2mathml.converter import convert_to_element
from markupsafe import escape

from jiansuo.analysis.latex import TAG as _TAG
from jiansuo.analysis.latex import resolve_references

_ALIGNED = ("aligned", "align", "align*", "alignat", "alignat*", "alignedat", "flalign", "flalign*", "eqnarray",
            "eqnarray*", "split")
_GATHERED = ("gathered", "gather", "gather*", "multline", "multline*")
_WRAPPERS = ("equation", "equation*", "displaymath", "math")
_UNSUPPORTED_ENVIRONMENTS = ("CD",)
_DROP = re.compile(r"\\(?:notag|nonumber|nolimits|hdashline|require\s*\{[^{}]*\}|uproot\s*\{[^{}]*\}"
                   r"|setCounter\s*\{[^{}]*\}|label\s*\{[^{}]*\})")
_DELIMITERS = {r"\Vert": "‖", r"\lVert": "‖", r"\rVert": "‖", r"\vert": "|", r"\lvert": "|", r"\rvert": "|",
               r"\|": "‖"}
_DELIMITER = re.compile(r"\\(?:[lr]?[Vv]ert(?![A-Za-z])|\|)")
_BBOX = re.compile(r"\\bbox\s*(?:\[[^\]]*\])?")
_STYLED = re.compile(r"\\(?:style|class|cssId)\s*\{[^{}]*\}")
_ONE_ARGUMENT_WRAPPERS = re.compile(r"\\(?:rlap|llap|clap|mathrlap|mathllap|mathclap|phantom|hphantom|vphantom)"
                                    r"(?![A-Za-z])")
_CANCELS = re.compile(r"\\(?:bcancel|xcancel)(?![A-Za-z])")
_SKEW = re.compile(r"\\skew\s*\{[^{}]*\}")
_CHOOSE = re.compile(r"\{([^{}]*)\\choose([^{}]*)\}")
_SIZED_DELIMITER = re.compile(r"(\\(?:big|Big|bigg|Bigg)[lrm]?)\s*(\\[{}]|\\[A-Za-z]+)")
_DELIMITER_CHARS = {"\\{": "{", "\\}": "}", "\\lbrace": "{", "\\rbrace": "}", "\\langle": "⟨", "\\rangle": "⟩",
                    "\\lfloor": "⌊", "\\rfloor": "⌋", "\\lceil": "⌈", "\\rceil": "⌉", "\\uparrow": "↑",
                    "\\downarrow": "↓", "\\Uparrow": "⇑", "\\Downarrow": "⇓"}
_ROW_SPACING = re.compile(r"\\\\\s*\[[^\]]{0,20}\]")  # `\\[5pt]`: a row break with extra space
_MARKDOWN_ESCAPES = re.compile(r"\\([+\-])")  # `\+` / `\-` at a line start: Markdown escapes, no TeX
_UNKNOWN = re.compile(r"\\([A-Za-z]{2,})")
_ONE_LETTER_ROMAN = re.compile(r"\\mathrm\s*\{\s*([A-Za-z0-9])\s*\}")  # latex2mathml drops its upright style


def formula_html(tex: str, display: bool, number: str = "", labels: dict[str, str] | None = None) -> str:
    """HTML for one formula: MathML (display ones with their equation number), or the TeX in a code box."""
    tex = resolve_references(tex, labels or {})
    tex = _TAG.sub("", tex)
    mathml = tex_to_mathml(tex, display)
    if mathml == "":
        return ""
    if mathml is None:
        return f'<code class="tex">{escape(tex.strip())}</code>'
    if not display:
        return mathml
    label = f'<span class="eqno">({escape(number)})</span>' if number else ""
    return f'<span class="math-display">{mathml}{label}</span>'


@lru_cache(maxsize=8192)
def tex_to_mathml(tex: str, display: bool = False) -> str | None:
    """Clean MathML for `tex` ("" when nothing is left to show), or None when it cannot be rendered whole."""
    prepared = prepare_tex(tex)
    if prepared is None:
        return None
    if not prepared:
        return ""
    for _ in range(4):
        try:
            root = convert_to_element(prepared, display="block" if display else "inline")
        except Exception:  # latex2mathml raises many kinds of errors on bad input
            return None
        if not _has_backslash(root):
            return _serialise(root)
        unknown = _unknown_commands(root)
        if not unknown:
            return None
        for name in unknown:  # a site-wide macro or an operator we do not know: show its name upright
            prepared = re.sub(rf"\\{name}(?![A-Za-z])", _operator_name(name), prepared)
    return None


def _operator_name(name: str):
    return lambda _match: f"\\operatorname{{{name}}}"


def prepare_tex(tex: str) -> str | None:
    """Rewrite MathJax-only TeX into what latex2mathml renders ("" when only settings are left); None for
    what it cannot render."""
    tex = tex.strip()
    environment = re.match(r"\\begin\{([A-Za-z]+\*?)\}", tex)
    if environment and environment.group(1) in _UNSUPPORTED_ENVIRONMENTS:
        return None
    if any(f"\\begin{{{name}}}" in tex for name in _UNSUPPORTED_ENVIRONMENTS):
        return None
    tex = _DROP.sub("", tex)
    tex = _DELIMITER.sub(lambda m: _DELIMITERS.get(m.group(), m.group()), tex)
    tex = _SIZED_DELIMITER.sub(lambda m: m.group(1) + _DELIMITER_CHARS.get(m.group(2), m.group(2)), tex)
    tex = _MARKDOWN_ESCAPES.sub(r"\1", tex)
    tex = _ROW_SPACING.sub(r"\\\\", tex)
    tex = _BBOX.sub("", tex)
    tex = _STYLED.sub("", tex)
    tex = _ONE_ARGUMENT_WRAPPERS.sub("", tex)
    tex = _CANCELS.sub(r"\\cancel", tex)
    tex = _SKEW.sub("", tex)
    tex = _CHOOSE.sub(r"\\binom{\1}{\2}", tex)
    tex = tex.replace(r"\lt", "<").replace(r"\gt", ">")
    tex = _ONE_LETTER_ROMAN.sub(r"{\\mathrm \1}", tex)
    for name in _WRAPPERS:
        tex = tex.replace(f"\\begin{{{name}}}", "").replace(f"\\end{{{name}}}", "")
    for name in _ALIGNED:
        tex = tex.replace(f"\\begin{{{name}}}", r"\begin{split}").replace(f"\\end{{{name}}}", r"\end{split}")
    for name in _GATHERED:
        tex = tex.replace(f"\\begin{{{name}}}", r"\begin{array}{c}").replace(f"\\end{{{name}}}", r"\end{array}")
    tex = tex.strip()
    if _has_top_level_row_break(tex):  # rows outside any environment: lay them out as one
        tex = (r"\begin{split}" + tex + r"\end{split}") if "&" in tex else (r"\begin{array}{c}" + tex +
                                                                             r"\end{array}")
    return tex


def _has_top_level_row_break(tex: str) -> bool:
    depth = 0
    i = 0
    while i < len(tex):
        if tex.startswith("\\begin{", i):
            depth += 1
        elif tex.startswith("\\end{", i):
            depth -= 1
        elif tex.startswith("\\\\", i):
            if depth == 0:
                return True
            i += 2
            continue
        elif tex[i] == "\\":
            i += 2
            continue
        i += 1
    return False


def _unknown_commands(root: ET.Element) -> list[str]:
    names: list[str] = []
    for element in root.iter():
        for text in (element.text, element.tail):
            if text and "\\" in text:
                names.extend(m.group(1) for m in _UNKNOWN.finditer(html.unescape(text)))
    return sorted(set(names), key=len, reverse=True)


def _has_backslash(root: ET.Element) -> bool:
    return any("\\" in (element.text or "") + (element.tail or "") for element in root.iter())


def _flush_right_cells(root: ET.Element) -> None:
    """An operator at either edge of a right-aligned cell gets no space on that side, as in TeX (nothing follows
    it in the cell): otherwise `x =` and a lone `=` in the next row take different spacing and their `=` signs
    do not line up."""
    for cell in root.iter("mtd"):
        if cell.get("columnalign") != "right" or not len(cell):
            continue
        if cell[-1].tag == "mo":
            cell[-1].set("rspace", "0")
        if cell[0].tag == "mo":
            cell[0].set("lspace", "0")


_SCRIPTED = ("msub", "msup", "msubsup", "munder", "mover", "munderover")
_CLOSING = set(")]}|‖⟩⌋⌉")
_THIN = "0.1667em"


def _core(element: ET.Element) -> ET.Element:
    """The base of a scripted element (`\\log_2`: log), else the element."""
    return _core(element[0]) if element.tag in _SCRIPTED and len(element) else element


def _is_operator_name(element: ET.Element) -> bool:
    core = _core(element)
    text = core.text or ""
    return core.tag in ("mi", "mo") and not len(core) and len(text) > 1 and text.isascii() and text.isalpha()


def _space_operator_names(root: ET.Element) -> None:
    """`\\log p`, `x\\sin y`, `\\arg\\max_x f`: an operator name takes TeX's thin space from an ordinary
    neighbour and none from an operator or fence (`\\log(x)`), where latex2mathml writes `<mi>log</mi>` that the
    browser sets flush against `p` ("logp"), or an `<mo>` with the browser's default thick spaces."""
    for parent in root.iter():
        children = list(parent)
        for index, child in enumerate(children):
            if (parent.tag in _SCRIPTED and index == 0) or not _is_operator_name(child):
                continue
            before = children[index - 1] if index else None
            after = children[index + 1] if index + 1 < len(children) else None
            core = _core(child)
            core.tag = "mo"
            core.set("lspace", _THIN if before is not None and (
                before.tag != "mo" or _is_operator_name(before) or (before.text or "") in _CLOSING) else "0")
            core.set("rspace", _THIN if after is not None and (
                _core(after).tag != "mo" or _is_operator_name(after)) else "0")


def _serialise(root: ET.Element) -> str | None:
    _flush_right_cells(root)
    _space_operator_names(root)
    for element in root.iter():
        element.text = html.unescape(element.text) if element.text else element.text
        element.tail = html.unescape(element.tail) if element.tail else element.tail
        element.attrib.pop("href", None)
        for key in [k for k in element.attrib if k.lower().startswith("on")]:
            element.attrib.pop(key)
        for key, value in element.attrib.items():
            element.attrib[key] = html.unescape(value)
    return ET.tostring(root, encoding="unicode")
