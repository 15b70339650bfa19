"""Popularity that decays with age: (1 + count) · 2^(-age / HALF_LIFE_DAYS), count = reads + stars (+ readers here).

Ordering by it never needs today's date: log((1 + count) · 2^((day - today) / H)) = log(1 + count) + day·ln2/H
- today·ln2/H, and the last term is the same for every document. So the index keeps `rank` = log(1 + count) +
day·ln2/H as an integer fast field and sorts by it; an undated document counts as dated at day 0 (very old),
and a corpus without dates is ordered by count alone.
"""

from __future__ import annotations

import math

HALF_LIFE_DAYS = 730  # a document two years older needs twice the readers to rank the same
SCALE = 1_000_000


def popularity_rank(count: int, day: int) -> int:
    """The sortable value of `count` reads on a document dated `day` (a date ordinal, 0 for none)."""
    return round((math.log1p(max(0, count)) + max(0, day) * math.log(2) / HALF_LIFE_DAYS) * SCALE)
