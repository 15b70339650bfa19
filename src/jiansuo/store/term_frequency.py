"""Document frequencies of the Milvus index's (field, term) dimensions, kept in the store file.

BM25's IDF needs, at query time, how many documents hold each query term. Counting that in Milvus takes one
`text_match` query per field and term (Milvus Lite evaluates each over every row in Python: seconds a query), so
the indexer keeps the counts here, beside the documents: a web node already holds a copy of the store file. One
table, keyed by the physical collection (a rebuild writes the counts of its new collection before the alias swap).
Derived data: a rebuild writes it again from the documents.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

_SCHEMA = """CREATE TABLE IF NOT EXISTS term_frequency (collection TEXT, dimension INTEGER, documents INTEGER,
PRIMARY KEY (collection, dimension)) WITHOUT ROWID"""


class TermFrequencies:
    def __init__(self, path: Path | str):
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()  # one connection, used by a server's threads in turn

    def close(self) -> None:
        self._db.close()

    def replace(self, collection: str, counts: Mapping[int, int]) -> None:
        """The counts of a freshly built collection."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM term_frequency WHERE collection = ?", (collection,))
            self._db.executemany("INSERT INTO term_frequency VALUES (?, ?, ?)",
                                 ((collection, dim, n) for dim, n in counts.items() if n > 0))

    def add(self, collection: str, changes: Mapping[int, int]) -> None:
        """Add (or, negative, subtract) document counts; dimensions no document holds any more are dropped."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO term_frequency VALUES (?, ?, ?) ON CONFLICT (collection, dimension) "
                "DO UPDATE SET documents = documents + excluded.documents",
                ((collection, dim, n) for dim, n in changes.items() if n))
            self._db.execute("DELETE FROM term_frequency WHERE collection = ? AND documents <= 0", (collection,))

    def of(self, collection: str, dimensions: Iterable[int]) -> dict[int, int]:
        wanted = sorted(set(dimensions))
        out: dict[int, int] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                rows = self._db.execute(
                    f"SELECT dimension, documents FROM term_frequency WHERE collection = ? AND dimension IN "
                    f"({', '.join('?' * len(part))})", (collection, *part))
                out.update(rows.fetchall())
        return out

    def drop(self, collection: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM term_frequency WHERE collection = ?", (collection,))
