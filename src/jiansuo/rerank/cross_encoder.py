"""Cross-encoder scoring: (query, document) pairs read jointly by one transformer, and reranking with it.

Two heads over the joint encoding `[CLS] a [SEP] b [SEP]`:
- "logit": a linear layer on the pooled output (a sequence-classification model), trained from scratch;
- "segment-cosine": the cosine between the mean of a's token states and the mean of b's. Every layer still
  attends across both texts (an interactive model), but starting from a bi-encoder checkpoint its first
  scores are already close to the bi-encoder's, so a few hundred CPU steps improve on it instead of having to
  learn relevance from a random head.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from jiansuo.model import Hit

HEADS = ("logit", "segment-cosine")
TOKEN_CACHE_SIZE = 200_000


class TokenIds:
    """Token ids of one text (no special tokens) by `encode`, cached: a document is read by many queries."""

    def __init__(self, encode: Callable[[str], list[int]]):
        self.encode = encode
        self.cache: dict[str, list[int]] = {}

    def __call__(self, text: str) -> list[int]:
        ids = self.cache.get(text)
        if ids is None:
            if len(self.cache) >= TOKEN_CACHE_SIZE:
                self.cache.clear()
            ids = self.cache[text] = self.encode(text)
        return ids


# The special tokens around and between a pair's texts, and their token types: (pre, mid, post) ids and
# (pre, a, mid, b, post) types.
PairTemplate = tuple[tuple[list[int], list[int], list[int]], tuple[list[int], int, list[int], int, list[int]]]


def pair_template(ids: list[int], types: list[int] | None, sides: list[int | None]) -> PairTemplate:
    """The template read off the tokenizer's encoding of a one-token pair ("a", "b"): its ids, token types and
    which side (0, 1 or None) each position belongs to."""
    types = types or [0] * len(ids)
    first_a, first_b = sides.index(0), sides.index(1)
    last_a = max(i for i, side in enumerate(sides) if side == 0)
    last_b = max(i for i, side in enumerate(sides) if side == 1)
    return ((ids[:first_a], ids[last_a + 1 : first_b], ids[last_b + 1 :]),
            (types[:first_a], types[first_a], types[last_a + 1 : first_b], types[first_b], types[last_b + 1 :]))


def pair_arrays(ids_of: Callable[[str], list[int]], template: PairTemplate, a: list[str], b: list[str],
                max_tokens: int, prefixes: tuple[str, ...], pad: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Model inputs for the pairs (a[i], b[i]) as the tokenizer's pair encoding with truncation="only_second"
    would make them (a keeps at most half the room), built from cached token ids; plus each position's segment
    (0: a, 1: b, -1: special or padding). Both runtimes (torch and ONNX) read the same arrays."""
    (pre, mid, post), (pre_t, a_t, mid_t, b_t, post_t) = template
    room = max_tokens - len(pre) - len(mid) - len(post)
    rows, types, segments = [], [], []
    for text_a, text_b in zip(a, b, strict=True):
        ids_a = ids_of(prefixes[0] + text_a)[: max(1, room // 2)]
        ids_b = ids_of(prefixes[1] + text_b)[: max(0, room - len(ids_a))]
        rows.append(pre + ids_a + mid + ids_b + post)
        types.append(pre_t + [a_t] * len(ids_a) + mid_t + [b_t] * len(ids_b) + post_t)
        segments.append([-1] * len(pre) + [0] * len(ids_a) + [-1] * len(mid) + [1] * len(ids_b) + [-1] * len(post))
    width = max((len(r) for r in rows), default=0)

    def padded(values: list[list[int]], fill: int) -> np.ndarray:
        return np.array([v + [fill] * (width - len(v)) for v in values], dtype=np.int64).reshape(len(values), width)

    inputs = {"input_ids": padded(rows, pad), "attention_mask": padded([[1] * len(r) for r in rows], 0),
              "token_type_ids": padded(types, 0)}
    return inputs, padded(segments, -1)


class CrossEncoder:
    """A cross-encoder model folder (from `jiansuo train cross`), or a base model with a chosen head."""

    def __init__(self, model_dir: str | Path, max_tokens: int = 256, batch_size: int = 32, head: str | None = None,
                 prefixes: tuple[str, str] = ("", "")):
        from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

        self.model_dir = Path(model_dir)
        meta = self.model_dir / "jiansuo.json"
        self.meta = json.loads(meta.read_text()) if meta.exists() else {}
        self.head = head or self.meta.get("head", "logit")
        if self.head not in HEADS:
            raise ValueError(f"unknown cross-encoder head {self.head!r}; expected one of {HEADS}")
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        if self.head == "logit":
            self.model = AutoModelForSequenceClassification.from_pretrained(self.model_dir, num_labels=1)
        else:
            self.model = AutoModel.from_pretrained(self.model_dir, add_pooling_layer=False)
        self.model.eval()
        self.max_tokens = self.meta.get("max_tokens", max_tokens)
        self.prefixes = tuple(self.meta.get("prefixes", prefixes))
        self.blend = float(self.meta.get("blend", 1.0))  # weight of this score against the retrieval score
        self.batch_size = batch_size
        self.calls = 0
        self._ids = TokenIds(lambda text: self.tokenizer(text, add_special_tokens=False, truncation=True,
                                                         max_length=4 * self.max_tokens)["input_ids"])
        self._template: PairTemplate | None = None

    def quantize(self) -> CrossEncoder:
        """int8 dynamic quantisation of the linear layers (inference only; about 2-3x faster on CPU)."""
        import torch

        self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        return self

    @property
    def encoder(self):
        return self.model if self.head != "logit" else self.model.base_model

    def encode(self, a: list[str], b: list[str]) -> tuple[dict, object]:
        """Model inputs for the pairs as torch tensors, plus each position's segment (see pair_arrays)."""
        import torch

        arrays, segments = pair_arrays(self._ids, self._pair_template(), a, b, self.max_tokens, self.prefixes,
                                       self.tokenizer.pad_token_id or 0)
        inputs = {name: torch.from_numpy(values) for name, values in arrays.items()
                  if name != "token_type_ids" or "token_type_ids" in self.tokenizer.model_input_names}
        return inputs, torch.from_numpy(segments)

    def _pair_template(self) -> PairTemplate:
        if self._template is None:
            encoding = self.tokenizer("a", "b")
            self._template = pair_template(encoding["input_ids"], encoding.get("token_type_ids"),
                                           encoding.sequence_ids())
        return self._template

    def forward(self, a: list[str], b: list[str]):
        """Differentiable scores of the pairs (a[i], b[i])."""
        import torch

        tokens, segments = self.encode(a, b)
        if self.head == "logit":
            return self.model(**tokens).logits.reshape(-1)
        pooled = self._segment_means(tokens, segments, (0, 1))
        return torch.nn.functional.cosine_similarity(pooled[0], pooled[1], dim=-1)

    def _segment_means(self, tokens: dict, segments, sides: tuple[int, ...]) -> list:
        """Mean final token state of each side's tokens (the segment-cosine head's pooling)."""
        tokens.pop("token_type_ids", None)  # the bi-encoder it starts from only ever saw type 0
        hidden = self.model(**tokens).last_hidden_state
        return [(hidden * (segments == side).unsqueeze(-1)).sum(1) / (segments == side).sum(1, keepdim=True)
                .clamp(min=1) for side in sides]

    def segment_vectors(self, texts: list[str], side: int) -> np.ndarray | None:
        """Unit vectors of texts read alone, as the segment-cosine head pools them: side 0 reads each text as a
        query (empty document), side 1 as a document (empty query). Their dot products approximate the pair
        scores without the cross attention: the model's own bi-encoder view, one forward pass per text.
        None for the logit head, whose score is not a product of two segment vectors."""
        import torch

        if self.head != "segment-cosine":
            return None
        self.model.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                out.append(self.one_sided(texts[start : start + self.batch_size], side).float().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.encoder.config.hidden_size), dtype=np.float32)

    def one_sided(self, texts: list[str], side: int):
        """Differentiable unit vectors of `texts` read alone on `side` (see segment_vectors)."""
        import torch

        blank = [""] * len(texts)
        tokens, segments = self.encode(*((texts, blank) if side == 0 else (blank, texts)))
        (pooled,) = self._segment_means(tokens, segments, (side,))
        return torch.nn.functional.normalize(pooled, dim=-1)

    def score(self, query: str, texts: list[str]) -> np.ndarray:
        return self.score_pairs([query] * len(texts), texts)

    def score_pairs(self, a: list[str], b: list[str]) -> np.ndarray:
        import torch

        self.model.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(a), self.batch_size):
                out.append(self.forward(a[start : start + self.batch_size], b[start : start + self.batch_size])
                           .float().numpy())
        self.calls += len(a)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def save(self, folder: Path, **extra) -> None:
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        meta = {"kind": "cross-encoder", "head": self.head, "max_tokens": self.max_tokens,
                "prefixes": list(self.prefixes), "blend": self.blend, **extra}
        (Path(folder) / "jiansuo.json").write_text(json.dumps(meta), encoding="utf-8")


def blended(cross: np.ndarray, retrieval: np.ndarray, weight: float) -> np.ndarray:
    """weight * cross + (1 - weight) * retrieval, each min-max scaled over the reranked head first."""
    if weight >= 1.0:
        return cross
    return weight * _unit(cross) + (1 - weight) * _unit(retrieval)


def _unit(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    span = values.max() - values.min() if len(values) else 0.0
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def rerank(model: CrossEncoder, query: str, hits: list[Hit], texts: dict[str, str], k: int) -> list[Hit]:
    """Reorder the first `k` hits by cross-encoder score (blended with the retrieval score when the model was
    tuned that way); the rest keep their order after them."""
    head, tail = hits[:k], hits[k:]
    if not head:
        return hits
    started = time.perf_counter()
    scores = model.score(query, [texts.get(h.doc_id, "") for h in head])
    final = blended(scores, np.array([h.score for h in head]), model.blend)
    elapsed = (time.perf_counter() - started) * 1000
    for hit, score, value in zip(head, scores, final, strict=True):
        hit.scores["cross_encoder"] = float(score)
        hit.scores["rerank_ms"] = elapsed
        hit.score = float(value)
    return sorted(head, key=lambda h: -h.score) + tail
