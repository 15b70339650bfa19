"""The CoSENT loss (Su Jianlin, "CoSENT(一)", kexue.fm/archives/8847, 2022; and "CoSENT(三)" for
interactive models, kexue.fm/archives/9341).

    loss = log(1 + sum over pairs (i, j) with label_i > label_j of exp(lambda * (s_j - s_i)))

It asks every pair that should rank higher to score higher, directly on the score used at inference:
s = cos(u, v) for a bi-encoder (lambda = 20), s = the logit for a cross-encoder (lambda = 1: the logit's
scale is learnt). Labels may be graded (STS scores) or binary.
"""

from __future__ import annotations

import torch

BI_ENCODER_SCALE = 20.0
CROSS_ENCODER_SCALE = 1.0


def cosent_loss(scores: torch.Tensor, labels: torch.Tensor, scale: float = BI_ENCODER_SCALE) -> torch.Tensor:
    """Scalar CoSENT loss of a batch of predicted `scores` against `labels` (both shape [n])."""
    scores = scores.reshape(-1) * scale
    labels = labels.reshape(-1).to(scores.dtype)
    difference = scores[None, :] - scores[:, None]  # [i, j] = s_j - s_i
    should_rank_higher = labels[:, None] > labels[None, :]  # i above j
    terms = difference[should_rank_higher]
    zero = torch.zeros(1, dtype=scores.dtype, device=scores.device)
    return torch.logsumexp(torch.cat([zero, terms]), dim=0)  # log(1 + sum exp(...)), computed stably


def bce_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The comparison loss for cross-encoders: sigmoid cross-entropy against labels scaled into [0, 1]."""
    labels = labels.reshape(-1).to(logits.dtype)
    low, high = labels.min(), labels.max()
    target = (labels - low) / (high - low) if high > low else torch.clamp(labels, 0, 1)
    return torch.nn.functional.binary_cross_entropy_with_logits(logits.reshape(-1), target)
