"""A word cloud as server-rendered SVG: no script, every word a link, no two words overlapping.

Words are placed heaviest first along an Archimedean spiral from the centre; each takes the first spot where
its box (estimated generously from its characters: a CJK character is about 1 em wide, a Latin one about
0.62 em) overlaps no box placed before. Size grows with the square root of the weight; colours come from a
short palette that reads on white.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from markupsafe import Markup, escape

PALETTE = ("#1a4fa0", "#9c2f2f", "#2e6b30", "#7a4b00", "#5b3a8c", "#00626b", "#8a3b12")
MIN_SIZE, MAX_SIZE = 13.0, 38.0
PADDING = 3.0


@dataclass(frozen=True)
class Placed:
    text: str
    x: float  # left of the box
    y: float  # top of the box
    width: float
    height: float
    size: float
    colour: str


def text_width(text: str, size: float) -> float:
    """A generous estimate of the rendered width of `text` at font size `size`."""
    em = 0.0
    for char in text:
        if unicodedata.east_asian_width(char) in ("W", "F"):
            em += 1.05
        elif char.isupper() or char in "mwMW@%":
            em += 0.78
        elif char in " .,:;'|!il":
            em += 0.38
        else:
            em += 0.62
    return em * size


def layout(words: list[tuple[str, float]], width: float = 640, height: float = 320) -> list[Placed]:
    """Positions for `words` (text, weight), heaviest first; words that find no free spot are left out."""
    ranked = sorted(((t, w) for t, w in words if t.strip() and w > 0), key=lambda p: -p[1])
    if not ranked:
        return []
    top = ranked[0][1]
    largest = max(MIN_SIZE, min(MAX_SIZE, width / 10))  # a narrow cloud has smaller words, so more fit
    smallest = min(MIN_SIZE, largest * 0.6)
    placed: list[Placed] = []
    for index, (text, weight) in enumerate(ranked):
        size = smallest + (largest - smallest) * math.sqrt(weight / top)
        box_w, box_h = text_width(text, size) + 2 * PADDING, size * 1.25 + 2 * PADDING
        spot = _free_spot(placed, box_w, box_h, width, height)
        if spot is not None:
            placed.append(Placed(text, spot[0], spot[1], box_w, box_h, size, PALETTE[index % len(PALETTE)]))
    return placed


def _free_spot(placed: list[Placed], box_w: float, box_h: float, width: float,
               height: float) -> tuple[float, float] | None:
    for step in range(4000):
        angle = 0.35 * step
        radius = 2.2 * angle
        x = width / 2 + radius * math.cos(angle) * (width / height) - box_w / 2
        y = height / 2 + radius * math.sin(angle) - box_h / 2
        if x < 0 or y < 0 or x + box_w > width or y + box_h > height:
            if radius > max(width, height):
                return None
            continue
        if not any(x < p.x + p.width and p.x < x + box_w and y < p.y + p.height and p.y < y + box_h
                   for p in placed):
            return x, y
    return None


def word_cloud(words: list[tuple[str, float]], link: str = "/?q={}", width: float = 640, height: float = 320,
               label: str = "") -> Markup:
    """The SVG of `words`; each word links to `link` with the word (URL-quoted) in place of {}."""
    placed = layout(words, width, height)
    if not placed:
        return Markup("")
    parts = [f'<svg class="wordcloud" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
             f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(label)}">']
    for word in placed:
        href = link.replace("{}", quote(f'"{word.text}"' if " " in word.text else word.text))
        baseline = word.y + PADDING + word.size * 0.95
        parts.append(f'<a href="{escape(href)}"><text x="{word.x + PADDING:.1f}" y="{baseline:.1f}" '
                     f'font-size="{word.size:.1f}" fill="{word.colour}">{escape(word.text)}</text></a>')
    parts.append("</svg>")
    return Markup("".join(parts))
