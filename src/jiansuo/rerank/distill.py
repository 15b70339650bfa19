"""The cross-encoder's pair scores distilled into its own one-sided reading: the k-NN index's query and document
vectors.

The anchor rows R already hold exact scores of k_q queries against every document: labels that cost nothing more.
Further queries scored on a few candidate documents each (rows with NaN where unscored) add query variety cheaply.
A copy of the cross-encoder is trained so that the cosine of its query-alone and document-alone readings
(CrossEncoder.segment_vectors) ranks the documents as the pair scores do. Each step takes a few queries and
documents drawn from their exact top, from further down, and at random among those scored; the loss is listwise
over every scored (query, document) of the batch: cross-entropy between the softmax of the scaled exact scores /
TEMPERATURE and the softmax of the scaled cosines, so the top of each row weighs most. The token embeddings stay
frozen (most of a multilingual model's weights are vocabulary rows this corpus never uses), so only the
transformer layers are stored beside R.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jiansuo.rerank.cross_encoder import CrossEncoder

STEPS = 600
QUERIES_PER_STEP = 8
TOP, FURTHER, RANDOM = 4, 4, 2  # documents per query from its exact top 20, from ranks 20-300, and at random
TEMPERATURE = 0.5
LEARNING_RATE = 2e-5


def distil(model_dir: Path | str, max_tokens: int, queries: list[str], texts: list[str], rows: np.ndarray,
           steps: int = STEPS, seed: int = 0, learning_rate: float = LEARNING_RATE,
           start: CrossEncoder | None = None) -> CrossEncoder:
    """A copy of the cross-encoder in `model_dir` whose one-sided vectors are trained on the exact `rows`
    (queries x texts; NaN: not scored); trained further from `start` (an earlier copy, left unchanged) when given."""
    import torch

    torch.manual_seed(seed)
    student = CrossEncoder(model_dir)
    student.max_tokens = max_tokens
    if student.head != "segment-cosine":
        raise ValueError("only a segment-cosine cross-encoder has one-sided vectors to distil into")
    if start is not None:
        student.model.load_state_dict(start.model.state_dict())
    trainable = _layers(student)
    for name, parameter in student.model.named_parameters():
        parameter.requires_grad = name in trainable  # the embeddings stay frozen
    rng = np.random.default_rng(seed)
    rows = np.asarray(rows, dtype=np.float32)
    scored = ~np.isnan(rows)
    z = _scaled(rows, scored)
    counts = scored.sum(1)
    order = np.argsort(-np.where(scored, rows, -np.inf), axis=1)[:, : min(300, rows.shape[1])]
    scale = torch.nn.Parameter(torch.tensor(20.0))
    optimiser = torch.optim.AdamW([{"params": list(trainable.values()), "lr": learning_rate, "weight_decay": 0.01},
                                   {"params": [scale], "lr": 1e-2, "weight_decay": 0.0}])
    student.model.train()
    for _ in range(steps):
        picked_queries = rng.choice(len(queries), min(QUERIES_PER_STEP, len(queries)), replace=False)
        documents: list[int] = []
        for q in picked_queries:
            top, depth = min(20, counts[q]), min(order.shape[1], counts[q])
            documents += order[q, rng.choice(top, min(TOP, top), replace=False)].tolist()
            if depth > top:
                documents += order[q, top + rng.choice(depth - top, min(FURTHER, depth - top), replace=False)].tolist()
            documents += rng.choice(np.flatnonzero(scored[q]), min(RANDOM, counts[q]), replace=False).tolist()
        documents = list(dict.fromkeys(documents))
        query_vectors = student.one_sided([queries[q] for q in picked_queries], side=0)
        document_vectors = student.one_sided([texts[d] for d in documents], side=1)
        grid = np.ix_(np.asarray(picked_queries, dtype=np.int64), np.asarray(documents, dtype=np.int64))
        mask = torch.from_numpy(scored[grid])
        exact = torch.from_numpy(np.nan_to_num(z[grid]))
        target = torch.softmax((exact / TEMPERATURE).masked_fill(~mask, -torch.inf), dim=1)
        logits = (query_vectors @ document_vectors.T * scale).masked_fill(~mask, -torch.inf)
        loss = -torch.where(mask, target * torch.log_softmax(logits, dim=1), 0.0).sum(1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    student.model.eval()
    return student


def _scaled(rows: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """Each row over its spread: a full row's own standard deviation; a partial row (its candidates are mostly
    its top, so their spread says little) the mean of the full rows'. Shifts do not matter to a softmax."""
    full = scored.all(1)
    spread = np.nanstd(rows, axis=1)
    spread = np.where(full, spread, spread[full].mean() if full.any() else spread.mean())
    return (rows - np.nanmean(rows, axis=1, keepdims=True)) / (spread[:, None] + 1e-6)


def _layers(model: CrossEncoder) -> dict:
    """The parameters distillation trains and saves: all but the embeddings."""
    return {name: p for name, p in model.model.named_parameters() if "embeddings" not in name}


def save(student: CrossEncoder, path: Path) -> None:
    import torch

    torch.save({name: p.detach().clone() for name, p in _layers(student).items()}, path)


def load(model_dir: Path | str, max_tokens: int, path: Path) -> CrossEncoder:
    """The cross-encoder in `model_dir` with the distilled layers from `path` (see save)."""
    import torch

    student = CrossEncoder(model_dir)
    student.max_tokens = max_tokens
    unknown = student.model.load_state_dict(torch.load(path, weights_only=True), strict=False).unexpected_keys
    if unknown:
        raise ValueError(f"{path} does not fit the cross-encoder in {model_dir}: {sorted(unknown)[:3]}")
    student.model.eval()
    return student
