"""Thread pools that fight each other on a small machine.

numpy's OpenBLAS keeps its worker threads spinning for a while after each product. When model calls (torch's own
thread pool) follow numpy algebra, as in every search that encodes a query or scores with a cross-encoder, those
spinning threads take the cores the model needs. A search's numpy work is small (a product of the passage vectors
with one query vector, fusion), so it loses nothing by running on one thread.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

_BLAS = None  # threadpoolctl's handle on numpy's OpenBLAS, made on first use; False: threadpoolctl is missing
_active = 0  # searches running now (a server runs several in threads): the first limits, the last restores
_active_lock = threading.Lock()
_held = None


def one_blas_thread():
    """A context holding numpy's OpenBLAS to one thread (nothing when threadpoolctl is not installed).
    Measured on 2 cores: a SciFact hybrid search 96.9 -> 21.0 ms p50 (bench/search_threads.py); ce-knn with
    50 calls 1.19 s -> 0.54 s a query."""
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # the bm25-only install: looked for once, not on every search
            _BLAS = False
        else:
            _BLAS = ThreadpoolController().select(internal_api="openblas")
    return _shared_limit() if _BLAS else nullcontext()


@contextmanager
def _shared_limit() -> Iterator[None]:
    global _active, _held
    with _active_lock:
        _active += 1
        if _active == 1:
            assert _BLAS  # one_blas_thread only returns this context when threadpoolctl found OpenBLAS
            _held = _BLAS.limit(limits=1)
            _held.__enter__()
    try:
        yield
    finally:
        with _active_lock:
            _active -= 1
            if _active == 0 and _held is not None:
                _held.__exit__(None, None, None)
                _held = None


def holding_lock(method: Callable) -> Callable:
    """Run `method` holding its object's `_lock`: a server searches from several threads at once."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked
