"""The cross-encoder on ONNX Runtime: what reranking and ce-knn serve with (torch stays for training).

A model folder from `jiansuo train cross` is exported from torch once, with its head inside the graph (the
segment-cosine head's segment means, unit vectors and their dot product; or the logit layer), then quantised
and cached by a hash of the folder under the same cache as the encoders (encoders/onnx_runtime.py). Inputs are
built by the same `pair_arrays` as the torch model's, so both read exactly the same tokens. The serving form
(quantisation, max tokens) is read from the model's `jiansuo.json` "serving" entry, written by the bench that
measured it (bench/rerank_latency.py), so the product serves what was measured.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from jiansuo.encoders.onnx_runtime import CACHE, OPSET, model_digest, quantised, session
from jiansuo.rerank.cross_encoder import HEADS, PairTemplate, TokenIds, pair_arrays, pair_template

EXPORT_VERSION = 1
SERVING_DEFAULT = {"quantize": "int8", "max_tokens": None}  # None: the max tokens it was trained with


def model_meta(folder: Path) -> dict:
    """The folder's jiansuo.json (head, max tokens, prefixes, blend, serving form); {} for a bare base model."""
    meta = folder / "jiansuo.json"
    return json.loads(meta.read_text()) if meta.exists() else {}


def exported_cross_encoder(folder: Path, scheme: str) -> Path:
    """The ONNX graph of the cross-encoder in `folder` under quantisation `scheme`, exported on first use; the
    cache folder also holds its tokenizer.json."""
    # its serving form and blend weight may be rewritten after training: only the head changes the graph
    head = model_meta(folder).get("head", "logit")
    target = CACHE / f"ce-{model_digest(folder, skip=('jiansuo.json',))}-{head}-v{EXPORT_VERSION}"
    if not (target / "model.onnx").exists():
        _export(folder, target / "model.onnx")
        shutil.copyfile(folder / "tokenizer.json", target / "tokenizer.json")
    return quantised(target / "model.onnx", scheme)


def _export(folder: Path, path: Path) -> None:
    try:
        import torch
        from transformers import AutoModel, AutoModelForSequenceClassification
    except ImportError as error:
        raise RuntimeError("exporting a trained cross-encoder to ONNX needs torch once: "
                           "pip install 'jiansuo[train]'") from error
    head = model_meta(folder).get("head", "logit")

    class SegmentCosine(torch.nn.Module):
        """Unit means of each side's final token states, and their dot product (CrossEncoder.forward)."""

        def __init__(self):
            super().__init__()
            self.model = AutoModel.from_pretrained(str(folder), add_pooling_layer=False, attn_implementation="eager")

        def forward(self, input_ids, attention_mask, segments):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            sides = []
            for side in (0, 1):
                weight = (segments == side).unsqueeze(-1).to(hidden.dtype)
                mean = (hidden * weight).sum(1) / weight.sum(1).clamp(min=1)
                sides.append(torch.nn.functional.normalize(mean, dim=-1))
            return (sides[0] * sides[1]).sum(-1), sides[0], sides[1]

    class Logit(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = AutoModelForSequenceClassification.from_pretrained(str(folder), num_labels=1,
                                                                            attn_implementation="eager")

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).logits.reshape(-1)

    if head == "segment-cosine":
        module: torch.nn.Module = SegmentCosine().eval()
        names, outputs = ["input_ids", "attention_mask", "segments"], ["scores", "a", "b"]
    else:
        module = Logit().eval()
        names, outputs = ["input_ids", "attention_mask", "token_type_ids"], ["scores"]
    example = tuple(torch.zeros((2, 8), dtype=torch.long) + (1 if name != "token_type_ids" else 0) for name in names)
    axes = {name: {0: "batch", 1: "tokens"} for name in names} | {name: {0: "batch"} for name in outputs}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with torch.inference_mode():
        torch.onnx.export(module, example, str(partial), input_names=names, output_names=outputs,
                          opset_version=OPSET, dynamo=False, dynamic_axes=axes)
    os.replace(partial, path)


class OnnxCrossEncoder:
    """A trained cross-encoder folder scored on ONNX Runtime; the same interface as the torch CrossEncoder's
    inference side (score, score_pairs, segment_vectors, head, blend, max_tokens, calls, model_dir)."""

    def __init__(self, model_dir: str | Path, quantize: str | None = None, max_tokens: int | None = None,
                 batch_size: int = 16, threads: int | None = None):
        from tokenizers import Tokenizer

        self.model_dir = Path(model_dir)
        self.meta = model_meta(self.model_dir)
        serving = {**SERVING_DEFAULT, **self.meta.get("serving", {})}
        self.head = self.meta.get("head", "logit")
        if self.head not in HEADS:
            raise ValueError(f"unknown cross-encoder head {self.head!r}; expected one of {HEADS}")
        self.quantize = quantize or serving["quantize"]
        self.max_tokens = int(max_tokens or serving["max_tokens"] or self.meta.get("max_tokens", 256))
        self.prefixes = tuple(self.meta.get("prefixes", ("", "")))
        self.blend = float(self.meta.get("blend", 1.0))
        self.batch_size = batch_size
        self.calls = 0
        graph = exported_cross_encoder(self.model_dir, self.quantize)
        self.session = session(graph, threads)
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(graph.parent / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        encoding = self.tokenizer.encode("a", "b")
        self._template: PairTemplate = pair_template(encoding.ids, encoding.type_ids, encoding.sequence_ids)
        self._pad = next((i for t in ("[PAD]", "<pad>") if (i := self.tokenizer.token_to_id(t)) is not None), 0)
        self._ids = TokenIds(
            lambda text: self.tokenizer.encode(text, add_special_tokens=False).ids[: 4 * self.max_tokens])

    def _run(self, a: list[str], b: list[str], output: int) -> np.ndarray:
        """One output of the graph for the pairs, in batches of similar length (each pads to its longest)."""
        order = sorted(range(len(a)), key=lambda i: len(a[i]) + len(b[i]))
        parts: list[tuple[list[int], np.ndarray]] = []
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            arrays, segments = pair_arrays(self._ids, self._template, [a[i] for i in batch], [b[i] for i in batch],
                                           self.max_tokens, self.prefixes, self._pad)
            feed = {name: values for name, values in {**arrays, "segments": segments}.items() if name in self._inputs}
            parts.append((batch, self.session.run(None, feed)[output]))
        if not parts:
            return np.zeros(0, dtype=np.float32)
        out = np.zeros((len(a), *parts[0][1].shape[1:]), dtype=np.float32)
        for batch, values in parts:
            out[batch] = values
        return out

    def score(self, query: str, texts: list[str]) -> np.ndarray:
        return self.score_pairs([query] * len(texts), texts)

    def score_pairs(self, a: list[str], b: list[str]) -> np.ndarray:
        self.calls += len(a)
        return self._run(a, b, 0)

    def segment_vectors(self, texts: list[str], side: int) -> np.ndarray | None:
        """Unit vectors of texts read alone on `side` (see CrossEncoder.segment_vectors); None for the logit head."""
        if self.head != "segment-cosine":
            return None
        blank = [""] * len(texts)
        return self._run(*((texts, blank) if side == 0 else (blank, texts)), 1 + side)
