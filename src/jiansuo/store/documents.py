"""SQLite (WAL) store: the source of truth for documents, plus the click log.

Every insert, update and delete bumps a store-wide sequence number. A derived index remembers the
sequence it has seen, so catching up means reading the rows whose `seq` is larger: deletes stay as
tombstones (`deleted = 1`) for exactly that reason.
"""

from __future__ import annotations

import json
import random
import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from jiansuo.model import Document

MAX_CLICKS = 1_000_000  # rows of the query log kept; the oldest go first
MAX_OPENS = 2_000_000  # reader-document-day rows kept; the oldest go first
LANGUAGE_SAMPLE = 4000  # documents read to estimate the store's language shares (±1.6% at the 50% that matters)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS documents_seq ON documents(seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clicks (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    query TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    rank INTEGER NOT NULL,
    mode TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS stars (
    reader TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (reader, doc_id)
);
CREATE INDEX IF NOT EXISTS stars_doc ON stars(doc_id);
CREATE TABLE IF NOT EXISTS opens (
    reader TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    PRIMARY KEY (reader, doc_id, day)
);
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Change:
    """A document as of store sequence `seq`; `document` is None when it was deleted."""

    doc_id: str
    seq: int
    document: Document | None


class DocumentStore:
    """Documents keyed by id. Writes are transactions: once `upsert` returns, the rows survive a crash."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._signals: tuple[int, dict[str, int]] | None = None
        self._summary: tuple[int, dict] | None = None
        self._languages: tuple[tuple[int, int], dict[str, float]] | None = None
        self._summary_lock = threading.Lock()
        self._db.executescript(_SCHEMA)

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection: a server answers searches from a pool of threads, and one SQLite
        connection must never be used by two threads at once."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    @property
    def seq(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        return int(row[0]) if row else 0

    def summary(self) -> dict:
        """Label counts and date range of the whole store, recomputed only after the store changes."""
        seq = self.seq
        with self._summary_lock:
            if self._summary is not None and self._summary[0] == seq:
                return self._summary[1]
        categories: Counter[str] = Counter()
        languages: Counter[str] = Counter()
        dates = []
        for document in self.documents():
            categories.update(document.categories)
            languages[document.language or "?"] += 1
            if document.date:
                dates.append(document.date)
        found = {"categories": dict(categories.most_common()), "languages": dict(languages.most_common()),
                 "date_range": [min(dates).isoformat(), max(dates).isoformat()] if dates else None}
        with self._summary_lock:
            self._summary = (seq, found)
        return found

    def language_shares(self, sample: int = LANGUAGE_SAMPLE) -> dict[str, float]:
        """The share of live documents written in each language (as detected at ingest), recomputed only after the
        store changes: exact up to `sample` documents, above that from `sample` rows picked at random."""
        seq = self.seq
        with self._summary_lock:
            if self._languages is not None and self._languages[0] == (seq, sample):
                return self._languages[1]
        top = self._db.execute("SELECT max(rowid) FROM documents").fetchone()[0] or 0
        language = "SELECT json_extract(data, '$.language') AS language, count(*) FROM documents WHERE deleted = 0"
        if top <= sample:
            rows = self._db.execute(f"{language} GROUP BY language").fetchall()
        else:
            picked = json.dumps(random.Random(seq).sample(range(1, top + 1), sample))
            rows = self._db.execute(f"{language} AND rowid IN (SELECT value FROM json_each(?)) GROUP BY language",
                                    (picked,)).fetchall()
        total = sum(n for _, n in rows)
        shares = {name or "": n / total for name, n in rows} if total else {}
        with self._summary_lock:
            self._languages = ((seq, sample), shares)
        return shares

    def get_meta(self, key: str) -> str | None:
        """A setting kept with the store (the index backend it uses, a remote index's sequence)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (f"x:{key}",)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
                       (f"x:{key}", value, value))

    def upsert(self, documents: Iterable[Document]) -> int:
        """Insert or replace documents in one transaction; returns how many actually changed."""
        changed = 0
        with self._transaction() as db:
            seq = self.seq
            for document in documents:
                digest = document.content_hash()
                row = db.execute("SELECT content_hash, deleted FROM documents WHERE id = ?", (document.id,))
                old = row.fetchone()
                if old and old[0] == digest and not old[1]:
                    continue
                seq += 1
                changed += 1
                db.execute(
                    "INSERT INTO documents(id, data, content_hash, seq, deleted) VALUES (?, ?, ?, ?, 0) "
                    "ON CONFLICT(id) DO UPDATE SET data=excluded.data, content_hash=excluded.content_hash, "
                    "seq=excluded.seq, deleted=0",
                    (document.id, _dumps(document), digest, seq),
                )
            self._set_seq(db, seq)
        return changed

    def delete(self, doc_ids: Iterable[str]) -> int:
        """Mark documents deleted (a tombstone keeps the change visible to indexes)."""
        deleted = 0
        with self._transaction() as db:
            seq = self.seq
            for doc_id in doc_ids:
                seq += 1
                cursor = db.execute(
                    "UPDATE documents SET deleted = 1, seq = ? WHERE id = ? AND deleted = 0", (seq, doc_id)
                )
                if cursor.rowcount:
                    deleted += 1
                else:
                    seq -= 1
            self._set_seq(db, seq)
        return deleted

    def get(self, doc_id: str) -> Document | None:
        row = self._db.execute("SELECT data FROM documents WHERE id = ? AND deleted = 0", (doc_id,)).fetchone()
        return _loads(row[0]) if row else None

    def get_many(self, doc_ids: list[str]) -> dict[str, Document]:
        found: dict[str, Document] = {}
        for start in range(0, len(doc_ids), 500):
            chunk = doc_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT id, data FROM documents WHERE deleted = 0 AND id IN ({marks})", chunk
            )
            found.update((doc_id, _loads(data)) for doc_id, data in rows)
        return found

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM documents WHERE deleted = 0").fetchone()[0]

    def documents(self) -> Iterator[Document]:
        """Every live document, in insertion order of their latest change."""
        for (data,) in self._db.execute("SELECT data FROM documents WHERE deleted = 0 ORDER BY seq"):
            yield _loads(data)

    def changes_since(self, seq: int) -> Iterator[Change]:
        """Every document (or tombstone) changed after store sequence `seq`, oldest first."""
        rows = self._db.execute(
            "SELECT id, seq, deleted, data FROM documents WHERE seq > ? ORDER BY seq", (seq,)
        )
        for doc_id, row_seq, deleted, data in rows:
            yield Change(doc_id, row_seq, None if deleted else _loads(data))

    def log_click(self, query: str, doc_id: str, rank: int, mode: str = "") -> None:
        """One click of the query log, which keeps its newest MAX_CLICKS rows (oldest evicted first)."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO clicks(at, query, doc_id, rank, mode) VALUES (?, ?, ?, ?, ?)",
                (time.time(), query, doc_id, rank, mode),
            )
            if cursor.lastrowid and cursor.lastrowid % 1000 == 0:
                db.execute("DELETE FROM clicks WHERE id <= ?", (cursor.lastrowid - MAX_CLICKS,))

    def record_open(self, reader: str, doc_id: str, day: int) -> bool:
        """A reader opened a document on `day`: counted once per reader, document and day, however often it is
        replayed. Returns whether it was new. Keeps the newest MAX_OPENS rows."""
        with self._transaction() as db:
            cursor = db.execute("INSERT OR IGNORE INTO opens(reader, doc_id, day) VALUES (?, ?, ?)",
                                (reader, doc_id, day))
            new = cursor.rowcount > 0
            if new:
                self._bump_signals(db)
                if cursor.lastrowid and cursor.lastrowid % 1000 == 0:  # rowids grow: the lowest are the oldest
                    db.execute("DELETE FROM opens WHERE rowid <= ?", (cursor.lastrowid - MAX_OPENS,))
        return new

    def reader_signals(self) -> dict[str, int]:
        """Per document: distinct reader-days that opened it plus readers who starred it; recounted only after
        a change (by any process: the change counter lives in the store)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'signals'").fetchone()
        version = int(row[0]) if row else 0
        if self._signals is None or self._signals[0] != version:
            counts: dict[str, int] = {}
            for table in ("opens", "stars"):
                for doc_id, n in self._db.execute(f"SELECT doc_id, count(*) FROM {table} GROUP BY doc_id"):
                    counts[doc_id] = counts.get(doc_id, 0) + n
            self._signals = (version, counts)
        return self._signals[1]

    def clicks(self) -> list[dict]:
        rows = self._db.execute("SELECT at, query, doc_id, rank, mode FROM clicks ORDER BY id")
        return [dict(zip(("at", "query", "doc_id", "rank", "mode"), row, strict=True)) for row in rows]

    # -- readers' stars (an anonymous reader id, nothing else about the reader) ---------------------------------
    def star(self, reader: str, doc_id: str, starred: bool = True) -> None:
        with self._transaction() as db:
            if starred:
                db.execute("INSERT OR IGNORE INTO stars(reader, doc_id, at) VALUES (?, ?, ?)",
                           (reader, doc_id, time.time()))
            else:
                db.execute("DELETE FROM stars WHERE reader = ? AND doc_id = ?", (reader, doc_id))
            self._bump_signals(db)

    def stars_of(self, reader: str) -> list[tuple[str, float]]:
        """The reader's starred document ids with when, newest first."""
        rows = self._db.execute("SELECT doc_id, at FROM stars WHERE reader = ? ORDER BY at DESC, doc_id", (reader,))
        return [(doc_id, at) for doc_id, at in rows]

    def starred_among(self, reader: str, doc_ids: list[str]) -> set[str]:
        if not doc_ids:
            return set()
        marks = ",".join("?" * len(doc_ids))
        rows = self._db.execute(f"SELECT doc_id FROM stars WHERE reader = ? AND doc_id IN ({marks})",
                                [reader, *doc_ids])
        return {row[0] for row in rows}

    def secret(self, name: str) -> str:
        """A random secret kept in the store (made on first use): signs reader ids and forms."""
        row = self._db.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        if row:
            return row[0]
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO secrets(name, value) VALUES (?, ?)", (name, secrets.token_hex(32)))
        return self._db.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()[0]

    @staticmethod
    def _bump_signals(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO meta(key, value) VALUES ('signals', '1') "
                   "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def _set_seq(self, db: sqlite3.Connection, seq: int) -> None:
        db.execute("INSERT INTO meta(key, value) VALUES ('seq', ?) ON CONFLICT(key) DO UPDATE SET value = ?",
                   (str(seq), str(seq)))

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _dumps(document: Document) -> str:
    return json.dumps(document.to_dict(), ensure_ascii=False)


def _loads(data: str) -> Document:
    return Document.from_dict(json.loads(data))
