"""Train a cross-encoder (one relevance logit per (a, b) pair) with CoSENT over logits, or with BCE."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jiansuo.train.bi_encoder import base_model_dir
from jiansuo.train.cosent import CROSS_ENCODER_SCALE, bce_loss, cosent_loss
from jiansuo.train.loop import TrainConfig, train_loop
from jiansuo.train.pairs import Pair


class TrainableCrossEncoder:
    def __init__(self, base: str, max_tokens: int = 256, freeze_embeddings: bool = True):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder, _prefix = base_model_dir(base)
        self.base = base
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1)
        self.max_tokens = max_tokens
        if freeze_embeddings:
            self.model.base_model.embeddings.word_embeddings.weight.requires_grad = False

    def logits(self, pairs: list[Pair]):
        tokens = self.tokenizer([p.a for p in pairs], [p.b for p in pairs], padding=True,
                                truncation="only_second", max_length=self.max_tokens, return_tensors="pt")
        return self.model(**tokens).logits.reshape(-1)

    def predict(self, pairs: list[Pair], batch_size: int = 64) -> np.ndarray:
        import torch

        self.model.eval()
        with torch.inference_mode():
            return np.concatenate([self.logits(pairs[i : i + batch_size]).numpy()
                                   for i in range(0, len(pairs), batch_size)]) if pairs else np.zeros(0)

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        (Path(folder) / "jiansuo.json").write_text(json.dumps(
            {"kind": "cross-encoder", "base": self.base, "max_tokens": self.max_tokens}), encoding="utf-8")


def train_cross_encoder(base: str, train: list[Pair], evaluate, out_dir: Path, loss: str = "cosent",
                        config: TrainConfig | None = None, progress: bool = True) -> dict:
    """`evaluate(model) -> float` picks the checkpoint (e.g. Spearman on dev pairs, nDCG@10 on dev queries)."""
    import torch

    config = config or TrainConfig(max_tokens=256)
    model = TrainableCrossEncoder(base, config.max_tokens)

    def step(batch: list[Pair]):
        labels = torch.tensor([p.label for p in batch])
        logits = model.logits(batch)
        return cosent_loss(logits, labels, CROSS_ENCODER_SCALE) if loss == "cosent" else bce_loss(logits, labels)

    return train_loop(model.model, step, lambda: evaluate(model), model.save, train, out_dir, config, progress)
