"""API keys for the HTTP write API, kept in the store's SQLite file as SHA-256 hashes (the key itself is shown
once, when created). Roles: `search` (read the API and pages when reads are keyed) and `admin` (also write,
delete and refresh)."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

ROLES = ("search", "admin")
_SCHEMA = """CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
    created REAL NOT NULL, revoked REAL)"""


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    role: str
    created: float
    revoked: float | None


class ApiKeys:
    def __init__(self, store_file: Path | str):
        self._db = sqlite3.connect(store_file, isolation_level=None, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def create(self, role: str, name: str = "") -> tuple[ApiKey, str]:
        """A new key: its record and the secret (shown to the caller once, stored only hashed)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: choose {' or '.join(ROLES)}")
        secret = f"js_{role[0]}_{secrets.token_urlsafe(32)}"
        key = ApiKey(secrets.token_hex(4), name, role, time.time(), None)
        self._db.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, NULL)",
                         (key.id, key.name, key.role, _hash(secret), key.created))
        return key, secret

    def list(self) -> list[ApiKey]:
        rows = self._db.execute("SELECT id, name, role, created, revoked FROM api_keys ORDER BY created")
        return [ApiKey(*row) for row in rows]

    def revoke(self, key_id: str) -> bool:
        cursor = self._db.execute("UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
                                  (time.time(), key_id))
        return cursor.rowcount > 0

    def role_of(self, secret: str) -> str | None:
        """The role of a presented key, or None for an unknown or revoked one."""
        row = self._db.execute("SELECT role FROM api_keys WHERE hash = ? AND revoked IS NULL",
                               (_hash(secret),)).fetchone()
        return row[0] if row else None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
