"""Cross-encoder reranking: score (query, document) pairs jointly and reorder the top k hits."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from jiansuo.model import Hit


class CrossEncoder:
    """A sequence-classification model with one output (a relevance logit), e.g. trained by `jiansuo train cross`."""

    def __init__(self, model_dir: str | Path, max_tokens: int = 256, batch_size: int = 32):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.set_grad_enabled(False)
        self.model_dir = Path(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(self.model_dir, num_labels=1).eval()
        meta = self.model_dir / "jiansuo.json"
        self.meta = json.loads(meta.read_text()) if meta.exists() else {}
        self.max_tokens = self.meta.get("max_tokens", max_tokens)
        self.batch_size = batch_size
        self.calls = 0

    def score(self, query: str, texts: list[str]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                chunk = texts[start : start + self.batch_size]
                tokens = self.tokenizer([query] * len(chunk), chunk, padding=True, truncation="only_second",
                                        max_length=self.max_tokens, return_tensors="pt")
                out.append(self.model(**tokens).logits.reshape(-1).float().numpy())
        self.calls += len(texts)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def rerank(model: CrossEncoder, query: str, hits: list[Hit], texts: dict[str, str], k: int) -> list[Hit]:
    """Reorder the first `k` hits by cross-encoder score; the rest keep their order after them."""
    head, tail = hits[:k], hits[k:]
    if not head:
        return hits
    started = time.perf_counter()
    scores = model.score(query, [texts.get(h.doc_id, "") for h in head])
    elapsed = (time.perf_counter() - started) * 1000
    for hit, score in zip(head, scores, strict=True):
        hit.scores["cross_encoder"] = float(score)
        hit.scores["rerank_ms"] = elapsed
        hit.score = float(score)
    return sorted(head, key=lambda h: -h.score) + tail
