"""The one place that touches disk: the SQLite document store and the versioned index directories."""

from jiansuo.store.documents import Change, DocumentStore
from jiansuo.store.index_dirs import IndexDirs, write_json_atomic

__all__ = ["Change", "DocumentStore", "IndexDirs", "write_json_atomic"]
