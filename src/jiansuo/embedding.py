"""The engine's encoder side: which encoder, its language centering, the embedding cache and recent query vectors.

Passages go through the embedding cache (unchanged text is never encoded twice) and are centered the way new
dense indexes are built; a query is centered the way the live index it searches was (its params record it)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from jiansuo.encoders.base import Encoder, cache_key
from jiansuo.encoders.centering import Centering, centering_for, centering_named
from jiansuo.retrieve.backend import VectorBackend

RECENT_QUERIES = 2048  # query vectors kept, so paging through results encodes once


class Embedding:
    """`encoder_name` None: the live dense index's encoder, else the default; `live_dense` gives the live index."""

    def __init__(self, encoder_name: str | None, cache_path: Path, centering: bool | str,
                 live_dense: Callable[[], VectorBackend | None], lock: threading.RLock):
        # a model folder is named by its absolute path, so every later engine on the store can open it
        self.encoder_name = str(Path(encoder_name).resolve()) if encoder_name and Path(encoder_name).is_dir() \
            else encoder_name
        self.cache_path = cache_path
        self.language_centering = centering
        self.loaded: Encoder | None = None  # the encoder in use (tests put a toy encoder here)
        self.recent_queries: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
        self._live_dense = live_dense
        self._lock = lock

    @property
    def encoder(self):
        return self._encoder_for(self._live_dense() if self.encoder_name is None else None)

    def _encoder_for(self, dense: VectorBackend | None) -> Encoder:
        """The asked-for encoder, else `dense`'s, else the default; loaded once."""
        from jiansuo.encoders import DEFAULT_ENCODER, load_encoder

        name = self.encoder_name or (dense.encoder_name if dense else DEFAULT_ENCODER)
        with self._lock:
            if self.loaded is None or self.loaded.name != name:
                self.loaded = load_encoder(name)
            return self.loaded

    def centering_name(self, encoder_name: str) -> str | None:
        """The language centering new dense indexes of `encoder_name` get (encoders/centering.py): the newest the
        encoder ships, or the version this engine was given; None when it builds without or the encoder has none."""
        version = self.language_centering if isinstance(self.language_centering, str) else None
        centering = centering_for(encoder_name, version) if self.language_centering else None
        return centering.name if centering else None

    @property
    def centering(self) -> Centering | None:
        """The language centering new dense indexes are built with, None for none."""
        return centering_named(self.centering_name(self.encoder.name))

    def query_vector(self, text: str, dense: VectorBackend | None = None) -> np.ndarray:
        """The query's vector, centered as the passages of `dense` (default: the live dense index) were."""
        dense = dense or self._live_dense()
        encoder = self._encoder_for(dense)  # the live index read once a query, not again for its encoder
        centering = centering_named(dense.centering) if dense is not None else self.centering
        key = (encoder.name, centering.name if centering else "", text)
        with self._lock:
            vector = self.recent_queries.pop(key, None)
        if vector is None:
            vector = encoder.encode_queries([text])  # outside the lock: other searches go on meanwhile
            vector = (centering.queries(vector, [text]) if centering else vector)[0]
        with self._lock:
            self.recent_queries[key] = vector
            while len(self.recent_queries) > RECENT_QUERIES:
                self.recent_queries.popitem(last=False)
        return vector

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Query vectors for building (the hubness bank), centered as new indexes are."""
        vectors = self.encoder.encode_queries(texts)
        centering = self.centering
        return centering.queries(vectors, texts) if centering else vectors

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Passage vectors through the embedding cache, centered as new indexes are."""
        from jiansuo.store.embedding_cache import EmbeddingCache

        encoder = self.encoder
        cache = EmbeddingCache(self.cache_path)
        try:
            vectors = cache.encode(cache_key(encoder), texts, encoder.encode_passages, encoder.dim)
        finally:
            cache.close()
        centering = self.centering
        return centering.passages(vectors, texts) if centering else vectors
