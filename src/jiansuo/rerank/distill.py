"""The cross-encoder's pair scores distilled into its own one-sided reading: the k-NN index's query and document
vectors.

The anchor rows R already hold exact scores of k_q queries against every document: labels that cost nothing more.
A copy of the cross-encoder is trained so that the cosine of its query-alone and document-alone readings
(CrossEncoder.segment_vectors) ranks the documents as the pair scores do. Each step takes a few anchor queries
and documents drawn from their exact top, from further down, and at random; the loss is listwise over every
(query, document) of the batch: cross-entropy between the softmax of the z-scored exact scores / TEMPERATURE and
the softmax of the scaled cosines, so the top of each row weighs most. The token embeddings stay frozen (most of a
multilingual model's weights are vocabulary rows this corpus never uses), so only the transformer layers are stored
beside R.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from jiansuo.rerank.cross_encoder import CrossEncoder

STEPS = 600
QUERIES_PER_STEP = 8
TOP, FURTHER, RANDOM = 4, 4, 16  # documents per query from its exact top 20, from ranks 20-300; shared random ones
TEMPERATURE = 0.5
LEARNING_RATE = 2e-5


def distil(model_dir: Path | str, max_tokens: int, queries: list[str], texts: list[str], rows: np.ndarray,
           steps: int = STEPS, seed: int = 0, learning_rate: float = LEARNING_RATE,
           progress: Callable[[int, int], None] | None = None) -> CrossEncoder:
    """A copy of the cross-encoder in `model_dir` whose one-sided vectors are trained on the exact `rows`
    (queries x texts)."""
    import torch

    torch.manual_seed(seed)
    student = CrossEncoder(model_dir)
    student.max_tokens = max_tokens
    if student.head != "segment-cosine":
        raise ValueError("only a segment-cosine cross-encoder has one-sided vectors to distil into")
    trainable = _trainable(student)
    rng = np.random.default_rng(seed)
    rows = np.asarray(rows, dtype=np.float32)
    z = (rows - rows.mean(1, keepdims=True)) / (rows.std(1, keepdims=True) + 1e-6)
    n_docs = rows.shape[1]
    top = min(20, n_docs)
    depth = min(300, n_docs)
    order = np.argsort(-rows, axis=1)[:, :depth]
    scale = torch.nn.Parameter(torch.tensor(20.0))
    optimiser = torch.optim.AdamW([{"params": list(trainable.values()), "lr": learning_rate, "weight_decay": 0.01},
                                   {"params": [scale], "lr": 1e-2, "weight_decay": 0.0}])
    student.model.train()
    for step in range(steps):
        picked_queries = rng.choice(len(queries), min(QUERIES_PER_STEP, len(queries)), replace=False)
        documents: list[int] = []
        for q in picked_queries:
            documents += order[q, rng.choice(top, min(TOP, top), replace=False)].tolist()
            if depth > top:
                documents += order[q, top + rng.choice(depth - top, min(FURTHER, depth - top), replace=False)].tolist()
        documents += rng.choice(n_docs, min(RANDOM, n_docs), replace=False).tolist()
        documents = list(dict.fromkeys(documents))
        query_vectors = _side_means(student, [queries[q] for q in picked_queries], side=0)
        document_vectors = _side_means(student, [texts[d] for d in documents], side=1)
        cosines = query_vectors @ document_vectors.T
        target = torch.softmax(torch.from_numpy(z[np.ix_(picked_queries, documents)]) / TEMPERATURE, dim=1)
        loss = -(target * torch.log_softmax(cosines * scale, dim=1)).sum(1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if progress:
            progress(step + 1, steps)
    student.model.eval()
    return student


def _side_means(model: CrossEncoder, texts: list[str], side: int):
    import torch

    blank = [""] * len(texts)
    tokens, segments = model.encode(*((texts, blank) if side == 0 else (blank, texts)))
    (pooled,) = model._segment_means(tokens, segments, (side,))
    return torch.nn.functional.normalize(pooled, dim=-1)


def _trainable(model: CrossEncoder) -> dict:
    """The transformer layers' parameters (the embeddings frozen)."""
    trainable = {}
    for name, parameter in model.model.named_parameters():
        parameter.requires_grad = "embeddings" not in name
        if parameter.requires_grad:
            trainable[name] = parameter
    return trainable


def save(student: CrossEncoder, path: Path) -> None:
    import torch

    torch.save({name: p.detach().clone() for name, p in _trainable(student).items()}, path)


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
