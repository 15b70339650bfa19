"""Keywords of documents already computed, kept per document version and keyword-index version.

A derived store beside the documents (`<store>/cache/keywords.sqlite`): computed the first time a document is
shown, found again by any worker and after a restart, and recomputed when the document or the index changes
(its key holds the document's content hash and the index version). Safe to delete.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

KEYWORD_TEXT = "prose"  # keywords come from the summary and the body's prose, its code blocks left out


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


class KeywordLists:
    """Each document's keyword list (KEPT_KEYWORDS long; callers take a head), in memory (LRU) over the cache file."""

    def __init__(self, path: Path | str, kept: int = 30, in_memory: int = 20_000):
        self.path, self.kept, self.in_memory = Path(path), kept, in_memory
        self._memory: OrderedDict[tuple, dict[int, list]] = OrderedDict()  # count -> head of the list
        self._file: KeywordCache | None = None
        self._lock = threading.Lock()

    def of(self, document, count: int, backend, index_version: str) -> list:
        """`count` keywords of `document`, weighted by `backend`'s document frequencies."""
        from jiansuo.analysis.keywords import Keyword, keywords
        from jiansuo.analysis.plaintext import plain_text

        version = f"{document.content_hash()[:16]}:{index_version}:{KEYWORD_TEXT}"
        key = (document.id, version)
        with self._lock:
            heads = self._memory.get(key)
            if heads is not None:
                self._memory.move_to_end(key)
                return heads.setdefault(count, heads[self.kept][:count])
        stored = self._cache().get(document.id, version)
        if stored is not None:
            found = [Keyword(text, tuple(terms), weight) for text, terms, weight in stored]
        else:
            text = "\n".join(part for part in (document.summary, plain_text(document.body, code=False)) if part)
            found = keywords(document.title, text, backend.document_frequency, max(1, backend.num_docs()), self.kept)
            self._cache().put(document.id, version, [[k.text, list(k.terms), k.weight] for k in found])
        with self._lock:
            heads = self._memory.setdefault(key, {self.kept: found})
            while len(self._memory) > self.in_memory:
                self._memory.popitem(last=False)
            return heads.setdefault(count, heads[self.kept][:count])

    def _cache(self) -> KeywordCache:
        with self._lock:
            if self._file is None:
                self._file = KeywordCache(self.path)
            return self._file

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
