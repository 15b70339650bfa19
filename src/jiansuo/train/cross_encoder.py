"""Train a cross-encoder (one score per (a, b) pair) with CoSENT over its scores, or with BCE."""

from __future__ import annotations

from pathlib import Path

from jiansuo.rerank.cross_encoder import CrossEncoder
from jiansuo.train.bi_encoder import base_model_dir
from jiansuo.train.cosent import BI_ENCODER_SCALE, CROSS_ENCODER_SCALE, bce_loss, cosent_loss
from jiansuo.train.loop import TrainConfig, train_loop
from jiansuo.train.pairs import Pair


class TrainableCrossEncoder(CrossEncoder):
    """A base model (e5, minilm or a folder) with a cross-encoder head, ready to fine-tune."""

    def __init__(self, base: str, max_tokens: int = 256, head: str = "logit", freeze_embeddings: bool = True):
        folder, prefix = base_model_dir(base)
        # e5 was trained with "query: " / "passage: "; the segment-cosine head keeps them to start where it stands
        prefixes = ("query: ", "passage: ") if prefix and head == "segment-cosine" else ("", "")
        super().__init__(folder, max_tokens, head=head, prefixes=prefixes)
        self.base = base
        self.max_tokens = max_tokens
        if freeze_embeddings:  # the vocabulary table dominates a step's cost and barely needs tuning
            self.encoder.embeddings.word_embeddings.weight.requires_grad = False

    def logits(self, pairs: list[Pair]):
        return self.forward([p.a for p in pairs], [p.b for p in pairs])

    def predict(self, pairs: list[Pair]):
        return self.score_pairs([p.a for p in pairs], [p.b for p in pairs])

    def save(self, folder: Path, **extra) -> None:
        super().save(folder, base=self.base, **extra)


def train_cross_encoder(base: str, train: list[Pair], evaluate, out_dir: Path, loss: str = "cosent",
                        config: TrainConfig | None = None, progress: bool = True, head: str = "logit") -> dict:
    """`evaluate(model) -> float` picks the checkpoint (e.g. Spearman on dev pairs, nDCG@10 on dev queries).

    CoSENT's scale follows the score: 20 on cosines (segment-cosine head), 1 on free logits."""
    import torch

    config = config or TrainConfig(max_tokens=256)
    model = TrainableCrossEncoder(base, config.max_tokens, head)
    scale = BI_ENCODER_SCALE if head == "segment-cosine" else CROSS_ENCODER_SCALE

    def step(batch: list[Pair]):
        labels = torch.tensor([p.label for p in batch])
        scores = model.logits(batch)
        if loss == "cosent":
            return cosent_loss(scores, labels, scale)
        return bce_loss(scores * scale if head == "segment-cosine" else scores, labels)

    return train_loop(model.model, step, lambda: evaluate(model), model.save, train, out_dir, config, progress)
