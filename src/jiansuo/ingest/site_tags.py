"""Static-site generator tags in Markdown sources (Hugo shortcodes, Jekyll/Hexo Liquid tags) as plain Markdown.

A blog's Markdown is written for its generator, which expands these tags when it builds the site; left as they
are they would show on our pages as `{{< figure … >}}` or `{% include … %}`. Figures become images, cross-post
references their target, highlight blocks fenced code, raw blocks their content; any other tag goes, and a
paired tag keeps what it encloses. Only these delimiters are touched, never TeX (`{{<`, `{{%`, `{%` and the
Liquid site/URL expressions do not occur in formulas).
"""

from __future__ import annotations

import re

_ATTRIBUTE = re.compile(r"""(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S+))""")
_HUGO = re.compile(r"\{\{([<%])\s*(/?)\s*([\w-]+)((?:[^>%]|>(?!\}\})|%(?!\}\}))*?)\s*[>%]\}\}")
_LIQUID_HIGHLIGHT = re.compile(r"\{%-?\s*highlight\s+([\w+-]+)[^%]*-?%\}\n?(.*?)\{%-?\s*endhighlight\s*-?%\}", re.S)
_LIQUID = re.compile(r"\{%-?\s*([\w-]+)\s*((?:[^%]|%(?!\}))*?)\s*-?%\}")
_LIQUID_OUTPUT = re.compile(r"""\{\{-?\s*(?:(?:site|page|layout)\.[\w.]+"""
                            r"""|(["'])([^"']*)\1\s*\|\s*(?:relative_url|absolute_url))\s*-?\}\}""")
_LINKS = {"ref", "relref", "link", "post_url"}


def expand_site_tags(text: str) -> str:
    """`text` with its generator tags replaced as described above; text without any comes back unchanged."""
    if "{{" not in text and "{%" not in text:
        return text
    text = _LIQUID_HIGHLIGHT.sub(lambda m: f"```{m.group(1)}\n{m.group(2).rstrip()}\n```", text)
    text = _HUGO.sub(_hugo, text)
    text = _LIQUID.sub(_liquid, text)
    return _LIQUID_OUTPUT.sub(lambda m: m.group(2) or "", text)


def _hugo(match: re.Match) -> str:
    closing, name, arguments = match.group(2), match.group(3).lower(), match.group(4)
    if closing:
        return ""
    return _tag(name, arguments)


def _liquid(match: re.Match) -> str:
    name, arguments = match.group(1).lower(), match.group(2)
    if name == "asset_img":  # Hexo: {% asset_img file.png A title %}
        source, _, title = arguments.strip().partition(" ")
        return f"![{title.strip()}]({source})"
    return _tag(name, arguments)


def _tag(name: str, arguments: str) -> str:
    values = {m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None)
              for m in _ATTRIBUTE.finditer(arguments)}
    positional = _ATTRIBUTE.sub("", arguments).strip().strip("\"'")
    if name == "figure" or name == "img" or name == "image":
        source = values.get("src", positional.split()[0] if positional else "")
        label = values.get("alt") or values.get("caption") or values.get("title") or ""
        return f"![{label}]({source})" if source else ""
    if name in _LINKS:
        return positional.split()[0] if positional else ""
    if name in ("youtube", "vimeo") and positional:
        site = "https://www.youtube.com/watch?v=" if name == "youtube" else "https://vimeo.com/"
        return f"<{site}{positional.split()[0]}>"
    return ""
