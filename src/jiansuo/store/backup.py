"""Backup, restore and export of a store.

A backup is a folder: `store.sqlite` (SQLite's online backup API: a consistent copy taken while the site keeps
serving and writing), the site's `jiansuo.toml`, the embedding cache (so a restore re-encodes nothing), each live
index's `params.json` (what built it), and `manifest.json`. Indexes themselves are not copied: they are derived,
and `restore` rebuilds them from the store with the same analyzer and encoder, which gives the same results.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from jiansuo.config import FILE_NAME
from jiansuo.store.documents import DocumentStore
from jiansuo.store.index_dirs import IndexDirs

CACHE = Path("cache") / "embeddings.sqlite"


class BackupError(RuntimeError):
    pass


def sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included), written under a temporary name first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src, dst = sqlite3.connect(source, timeout=60), sqlite3.connect(partial)
    try:
        src.backup(dst, pages=4096)
    finally:
        dst.close()
        src.close()
    os.replace(partial, target)


def backup(store: Path | str, folder: Path | str, cache: bool = True) -> dict:
    store, folder = Path(store), Path(folder)
    if not (store / "store.sqlite").exists():
        raise BackupError(f"no store at {str(store)!r}")
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{str(folder)!r} is not empty; back up into a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    sqlite_copy(store / "store.sqlite", folder / "store.sqlite")
    if (store / FILE_NAME).exists():
        shutil.copy2(store / FILE_NAME, folder / FILE_NAME)
    if cache and (store / CACHE).exists():
        sqlite_copy(store / CACHE, folder / CACHE)
    indexes = {}
    for kind_dir in sorted((store / "indexes").glob("*")) if (store / "indexes").exists() else []:
        current = IndexDirs(store / "indexes", kind_dir.name).current()
        if current is not None:
            indexes[kind_dir.name] = IndexDirs.read_params(current)
    copy = DocumentStore(folder / "store.sqlite")
    manifest = {"created": started, "seconds": round(time.time() - started, 3), "documents": copy.count(),
                "store_seq": copy.seq, "indexes": indexes, "cache": cache and (folder / CACHE).exists()}
    copy.close()
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest


def restore(folder: Path | str, store: Path | str) -> dict:
    """Copy a backup into a new store folder; the caller then rebuilds the indexes (`Engine.refresh`).
    Returns the backup's manifest (its `indexes` say which encoder the dense index used)."""
    folder, store = Path(folder), Path(store)
    manifest_file = folder / "manifest.json"
    if not manifest_file.exists() or not (folder / "store.sqlite").exists():
        raise BackupError(f"{str(folder)!r} is not a jiansuo backup (no manifest.json and store.sqlite)")
    if (store / "store.sqlite").exists():
        raise BackupError(f"{str(store)!r} already holds a store; restore into a new folder")
    store.mkdir(parents=True, exist_ok=True)
    sqlite_copy(folder / "store.sqlite", store / "store.sqlite")
    if (folder / FILE_NAME).exists():
        shutil.copy2(folder / FILE_NAME, store / FILE_NAME)
    if (folder / CACHE).exists():
        sqlite_copy(folder / CACHE, store / CACHE)
    return json.loads(manifest_file.read_text(encoding="utf-8"))


def export_jsonl(store: Path | str) -> Iterator[str]:
    """Every stored document as one JSON line, in the layout `jiansuo index` reads back."""
    documents = DocumentStore(Path(store) / "store.sqlite")
    try:
        for document in documents.documents():
            record = document.to_dict()
            metadata = record.pop("metadata", None) or {}
            record.update({k: v for k, v in metadata.items() if k not in record})
            yield json.dumps(record, ensure_ascii=False)
    finally:
        documents.close()
