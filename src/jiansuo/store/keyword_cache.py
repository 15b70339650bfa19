"""Keywords of documents already computed, kept per document version and keyword-index version.

A derived store beside the documents (`<store>/cache/keywords.sqlite`): computed the first time a document is
shown, found again by any worker and after a restart, and recomputed when the document or the index changes
(its key holds the document's content hash and the index version). Safe to delete.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path


class KeywordCache:
    def __init__(self, path: Path | str):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS keywords (doc_id TEXT, version TEXT, data TEXT, "
                         "PRIMARY KEY (doc_id, version))")
        self._lock = threading.Lock()  # one connection, used by a server's threads in turn

    def get(self, doc_id: str, version: str) -> list | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM keywords WHERE doc_id = ? AND version = ?",
                                   (doc_id, version)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, doc_id: str, version: str, keywords: list) -> None:
        with self._lock:
            self._db.execute("DELETE FROM keywords WHERE doc_id = ?", (doc_id,))  # older versions go
            self._db.execute("INSERT OR REPLACE INTO keywords(doc_id, version, data) VALUES (?, ?, ?)",
                             (doc_id, version, json.dumps(keywords, ensure_ascii=False)))

    def close(self) -> None:
        with self._lock:
            self._db.close()
