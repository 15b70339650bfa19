"""Find the formulas in Markdown text, before Markdown sees them, and normalise their TeX.

A formula is inline ``$…$`` / ``\\(…\\)`` or display ``$$…$$`` / ``\\[…\\]`` / an amsmath environment
(``\\begin{equation}…``) standing in the text, the way MathJax finds them on a research blog. Code spans
and fenced code are skipped. Two Markdown dialects are told apart per document:

- plain: the TeX between the delimiters is taken literally (``\\\\`` is a row break);
- escaped (what html2text writes when it converts a MathJax page back to Markdown): a backslash before
  a Markdown-special character was doubled, so ``\\\\{`` stands for ``\\{`` and ``\\\\\\`` for ``\\\\``;
  there ``\\[`` and ``\\(`` are escaped brackets, never math delimiters.

Macros a document defines (``\\newcommand``, ``\\DeclareMathOperator``) are expanded in all its formulas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MATH_ENVIRONMENTS = ("equation", "equation*", "align", "align*", "aligned", "gather", "gather*", "gathered",
                     "multline", "multline*", "split", "alignat", "alignat*", "flalign", "flalign*", "eqnarray",
                     "eqnarray*", "displaymath", "math", "cases", "array", "matrix", "pmatrix", "bmatrix", "CD")
NUMBERED_ENVIRONMENTS = ("equation", "align", "gather", "multline", "alignat", "flalign", "eqnarray")
_ENV_NAMES = "|".join(re.escape(name) for name in sorted(MATH_ENVIRONMENTS, key=len, reverse=True))


def _openers(escaped: bool) -> re.Pattern:
    r"""What can open a formula (or code to skip). In html2text's dialect `\[` and `\(` open math and any
    other doubled backslash is an escaped one; in plain Markdown `\[` and `\(` do."""
    backslash = r"\\\\" if escaped else r"\\"
    skip = r"|(?P<skip>\\\\)" if escaped else ""
    return re.compile(
        rf"(?P<fence>^[ ]{{0,3}}(?:```|~~~))|(?P<code>`+)|(?P<dd>\$\$)|(?P<d>\$)"
        rf"|(?P<env>\\begin\{{(?:{_ENV_NAMES})\}})|(?P<bracket>{backslash}\[)|(?P<paren>{backslash}\()"
        rf"|(?P<escaped_dollar>\\\$){skip}", re.M)


_OPENERS_PLAIN, _OPENERS_ESCAPED = _openers(False), _openers(True)
_HTML2TEXT_SIGNS = re.compile(r"\\\\[{}]|\\\\\\(?![\\{}])")
_UNESCAPE = re.compile(r"\\\\(?=[\\{}()\[\]#*_`!|])")
_TEX_LIKE = re.compile(r"[\\^_=]")
_TEX_INSIDE = re.compile(r"[\\^_{}=+<>]")
_PROSE = re.compile(r"\s[A-Za-z]{2,}\b")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class MathSpan:
    """A formula at text[start:end]; `tex` is its source without delimiters, normalised."""

    start: int
    end: int
    tex: str
    display: bool
    environment: str = ""  # the amsmath environment it stands in, if any


def is_html2text_escaped(text: str) -> bool:
    """Whether backslashes before Markdown-special characters were doubled (``\\\\{``, ``\\\\\\``)."""
    return bool(_HTML2TEXT_SIGNS.search(text))


def unescape_tex(tex: str) -> str:
    """Undo html2text's doubling of backslashes before Markdown-special characters."""
    return _UNESCAPE.sub(r"\\", tex)


def find_math(text: str, escaped: bool | None = None) -> list[MathSpan]:
    """Every formula of `text`, in order, outside code. `escaped` None: decided from the text."""
    if escaped is None:
        escaped = is_html2text_escaped(text)
    openers = _OPENERS_ESCAPED if escaped else _OPENERS_PLAIN
    spans: list[MathSpan] = []
    position = 0
    while True:
        match = openers.search(text, position)
        if match is None:
            break
        kind = match.lastgroup
        start, after = match.start(), match.end()
        end: int | None = None
        if kind == "fence":
            position = _fence_end(text, match)
            continue
        if kind == "code":
            closing = re.compile(rf"(?<!`){match.group()}(?!`)").search(text, after)
            position = closing.end() if closing else after
            continue
        if kind in ("escaped_dollar", "skip"):
            position = after
            continue
        if kind == "dd":
            close = text.find("$$", after)
            if close > after and text[after:close].strip():
                spans.append(MathSpan(start, close + 2, text[after:close], True))
                end = close + 2
        elif kind == "d":
            end = _inline_dollar_end(text, after)
            if end is not None:
                spans.append(MathSpan(start, end, text[after : end - 1], False))
        elif kind == "env":
            name = match.group()[len("\\begin{") : -1]
            env_end = _environment_end(text, name, after)
            if env_end is not None:
                spans.append(MathSpan(start, env_end, text[start:env_end], True, name))
                end = env_end
        else:
            closer = ("\\]" if kind == "bracket" else "\\)") if not escaped else ("\\\\]" if kind == "bracket"
                                                                                   else "\\\\)")
            close = text.find(closer, after)
            body = text[after:close] if close > 0 else ""
            if close > 0 and body.strip() and _TEX_LIKE.search(body) and not _BLANK_LINE.search(body):
                spans.append(MathSpan(start, close + len(closer), body, kind == "bracket"))
                end = close + len(closer)
        position = end if end is not None else after
    if escaped:
        spans = [MathSpan(s.start, s.end, unescape_tex(s.tex), s.display, s.environment) for s in spans]
    return spans


def _fence_end(text: str, match: re.Match) -> int:
    fence = match.group().strip()[:3]
    line_end = text.find("\n", match.end())
    if line_end < 0:
        return len(text)
    closing = re.compile(rf"^[ ]{{0,3}}{re.escape(fence)}[`~]*[ \t]*$", re.M).search(text, line_end + 1)
    return closing.end() if closing else len(text)


def _inline_dollar_end(text: str, after: int) -> int | None:
    """The end (past the closing `$`) of an inline formula opened just before `after`, or None.

    MathJax's rule: the next unescaped `$` in the same paragraph closes it, whatever spaces stand inside.
    One guard for prices: `$5 and $` (a digit first, then a word, nothing TeX-like) is no formula.
    """
    position = after
    while True:
        close = text.find("$", position)
        if close < 0 or _BLANK_LINE.search(text, after, close):
            return None
        if text[close - 1] == "\\" and close - 1 >= after:
            position = close + 1
            continue
        content = text[after:close]
        if not content.strip():
            return None
        if content[0].isdigit() and _PROSE.search(content) and not _TEX_INSIDE.search(content):
            return None
        return close + 1


def _environment_end(text: str, name: str, after: int) -> int | None:
    begin, end = f"\\begin{{{name}}}", f"\\end{{{name}}}"
    depth, position = 1, after
    while depth:
        next_end = text.find(end, position)
        if next_end < 0:
            return None
        next_begin = text.find(begin, position, next_end)
        if next_begin >= 0:
            depth += 1
            position = next_begin + len(begin)
        else:
            depth -= 1
            position = next_end + len(end)
    return position


# -- macros ----------------------------------------------------------------------------------------
_DEFINITION = re.compile(r"\\(?:re)?newcommand\*?\s*(?:\{\s*\\?(?P<braced>[A-Za-z]+)\s*\}|\\(?P<bare>[A-Za-z]+))"
                         r"\s*(?:\[(?P<args>\d)\])?\s*\{"
                         r"|\\DeclareMathOperator\*?\s*\{\s*\\(?P<operator>[A-Za-z]+)\s*\}\s*\{")


@dataclass(frozen=True)
class Macro:
    arguments: int
    body: str


def extract_macros(tex: str) -> tuple[str, dict[str, Macro]]:
    """`tex` without its macro definitions, and the definitions."""
    macros: dict[str, Macro] = {}
    out: list[str] = []
    position = 0
    for match in _DEFINITION.finditer(tex):
        if match.start() < position:
            continue
        body_end = braced_end(tex, match.end() - 1)
        if body_end is None:
            continue
        body = tex[match.end() : body_end - 1]
        if match.group("operator"):
            macros[match.group("operator")] = Macro(0, f"\\operatorname{{{body}}}")
        else:
            name = match.group("braced") or match.group("bare")
            macros[name] = Macro(int(match.group("args") or 0), body)
        out.append(tex[position : match.start()])
        position = body_end
    out.append(tex[position:])
    return "".join(out), macros


def braced_end(tex: str, open_at: int) -> int | None:
    """Index just past the `}` that closes the `{` at `open_at` (escaped braces skipped), or None."""
    depth = 0
    i = open_at
    while i < len(tex):
        char = tex[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def expand_macros(tex: str, macros: dict[str, Macro], rounds: int = 6) -> str:
    """Replace each use of a defined macro by its body, arguments substituted (nested uses too)."""
    if not macros:
        return tex
    names = "|".join(re.escape(name) for name in sorted(macros, key=len, reverse=True))
    use = re.compile(rf"\\({names})(?![A-Za-z])")
    for _ in range(rounds):
        out: list[str] = []
        position = 0
        changed = False
        for match in use.finditer(tex):
            if match.start() < position:
                continue
            macro = macros[match.group(1)]
            cursor = match.end()
            arguments: list[str] = []
            for _ in range(macro.arguments):
                while cursor < len(tex) and tex[cursor].isspace():
                    cursor += 1
                if cursor < len(tex) and tex[cursor] == "{":
                    close = braced_end(tex, cursor)
                    if close is None:
                        break
                    arguments.append(tex[cursor + 1 : close - 1])
                    cursor = close
                elif cursor < len(tex):
                    arguments.append(tex[cursor])
                    cursor += 1
            body = macro.body
            for number, argument in enumerate(arguments, 1):
                body = body.replace(f"#{number}", argument)
            out.append(tex[position : match.start()])
            out.append("{" + body + "}")
            position = cursor
            changed = True
        out.append(tex[position:])
        tex = "".join(out)
        if not changed:
            break
    return tex


# -- equation numbers --------------------------------------------------------------------------------
TAG = re.compile(r"\\tag\*?\s*\{([^{}]*)\}")
_SET_COUNTER = re.compile(r"\\setCounter\s*\{\s*(\d{1,6})\s*\}")
_LABEL = re.compile(r"\\label\s*\{([^{}]*)\}")
_REF = re.compile(r"\\(eqref|ref)\s*\{([^{}]*)\}")


@dataclass
class Numbering:
    """Equation numbers of one document: numbered environments in order, `\\label` -> number."""

    labels: dict[str, str] = field(default_factory=dict)
    numbers: dict[int, str] = field(default_factory=dict)  # span index -> its number

    @classmethod
    def of(cls, spans: list) -> Numbering:
        numbering = cls()
        count = 0
        for index, span in enumerate(spans):
            counter = _SET_COUNTER.search(span.tex)
            if counter:  # MathJax's \setCounter{n}: the next numbered equation is n + 1
                count = int(counter.group(1))
            tag = TAG.search(span.tex)
            if tag:
                number = tag.group(1).strip()
            elif span.environment in NUMBERED_ENVIRONMENTS:
                count += 1
                number = str(count)
            else:
                continue
            numbering.numbers[index] = number
            for label in _LABEL.findall(span.tex):
                numbering.labels[label.strip()] = number
        return numbering


def resolve_references(tex: str, labels: dict[str, str]) -> str:
    """`\\eqref{x}` -> `\\text{(n)}` and `\\ref{x}` -> `\\text{n}` with the document's equation numbers."""
    def number(match: re.Match) -> str:
        value = labels.get(match.group(2).strip(), "?")
        return f"\\text{{({value})}}" if match.group(1) == "eqref" else f"\\text{{{value}}}"

    return _REF.sub(number, tex)
