"""Vectors of passages already encoded, keyed by encoder name and a hash of the passage text.

Re-indexing unchanged documents (or the same text in another store) costs no encoder call.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np


class EmbeddingCache:
    def __init__(self, path: Path | str):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (encoder TEXT, key BLOB, vector BLOB, "
                         "PRIMARY KEY (encoder, key))")

    def close(self) -> None:
        self._db.close()

    def lookup(self, encoder_name: str, texts: list[str], dim: int) -> np.ndarray:
        """Cached vectors for `texts`; rows of NaN where a text was never encoded."""
        out, missing = self._found(encoder_name, texts, dim)
        for rows in missing.values():
            out[rows] = np.nan
        return out

    def encode(self, encoder_name: str, texts: list[str], encode: Callable[[list[str]], np.ndarray],
               dim: int, chunk: int = 256) -> np.ndarray:
        """Vectors for `texts`, calling `encode` only on texts not cached yet (and caching them)."""
        out, missing = self._found(encoder_name, texts, dim)
        todo = list(missing)
        for start in range(0, len(todo), chunk):
            batch = todo[start : start + chunk]
            vectors = encode([texts[missing[key][0]] for key in batch])
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                                 [(encoder_name, key, v.astype(np.float32).tobytes())
                                  for key, v in zip(batch, vectors, strict=True)])
            self._db.execute("COMMIT")
            for key, vector in zip(batch, vectors, strict=True):
                out[missing[key]] = vector
        return out

    def missing(self, encoder_name: str, texts: list[str], dim: int) -> int:
        """How many distinct texts have no vector of this encoder yet (nothing is encoded or written)."""
        return len(self._found(encoder_name, texts, dim)[1])

    def _found(self, encoder_name: str, texts: list[str], dim: int) -> tuple[np.ndarray, dict[bytes, list[int]]]:
        keys = [hashlib.sha1(t.encode("utf-8", "replace")).digest() for t in texts]
        out = np.zeros((len(texts), dim), dtype=np.float32)
        missing: dict[bytes, list[int]] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE encoder = ? AND key IN ({','.join('?' * len(part))})",
                [encoder_name, *part]).fetchall()
            found = {key: np.frombuffer(vector, dtype=np.float32) for key, vector in rows}
            for offset, key in enumerate(part):
                if key in found:
                    out[start + offset] = found[key]
                else:
                    missing.setdefault(key, []).append(start + offset)
        return out, missing
