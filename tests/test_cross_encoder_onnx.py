"""The cross-encoder on ONNX Runtime reads exactly what the torch model reads (tiny models, both heads)."""

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the train extra is not installed")
pytest.importorskip("onnxruntime", reason="the dense extra is not installed")

from jiansuo.rerank.cross_encoder import CrossEncoder  # noqa: E402
from jiansuo.rerank.cross_encoder_onnx import OnnxCrossEncoder  # noqa: E402

pytestmark = pytest.mark.models

QUERIES = ["what is diffusion", "多语言 检索", "x", "cross-encoder kNN CUR"]
TEXTS = ["Diffusion models generate images by denoising. " * 12, "检索 系统 支持 中文 和 English $x^2$", "",
         "CUR decomposition makes cross-encoder nearest neighbours affordable"]


@pytest.fixture(params=["segment-cosine", "logit"])
def model_folder(request, tiny_base, tmp_path, monkeypatch):
    monkeypatch.setattr("jiansuo.rerank.cross_encoder_onnx.CACHE", tmp_path / "onnx")
    folder = tmp_path / request.param
    shutil.copytree(tiny_base, folder)
    (folder / "jiansuo.json").write_text(json.dumps({"head": request.param, "max_tokens": 48,
                                                     "prefixes": ["query: ", "passage: "], "blend": 0.7}))
    return folder


def test_onnx_fp32_scores_match_torch_pair_for_pair(model_folder):
    expected = CrossEncoder(model_folder).score_pairs(QUERIES, TEXTS)
    served = OnnxCrossEncoder(model_folder, quantize="fp32")
    assert np.allclose(served.score_pairs(QUERIES, TEXTS), expected, atol=1e-5)
    assert served.calls == len(QUERIES) and served.blend == 0.7 and served.max_tokens == 48
    if served.head == "segment-cosine":  # the one-sided readings ce-knn indexes with
        for side, texts in ((0, QUERIES), (1, TEXTS)):
            torch_vectors = CrossEncoder(model_folder).segment_vectors(texts, side)
            assert np.allclose(served.segment_vectors(texts, side), torch_vectors, atol=1e-5)
    else:
        assert served.segment_vectors(TEXTS, 1) is None


def test_the_serving_form_comes_from_the_models_jiansuo_json(model_folder):
    OnnxCrossEncoder(model_folder, quantize="fp32")
    meta = json.loads((model_folder / "jiansuo.json").read_text())
    (model_folder / "jiansuo.json").write_text(json.dumps({**meta, "serving": {"quantize": "int8", "max_tokens": 16}}))
    served = OnnxCrossEncoder(model_folder)
    assert served.quantize == "int8" and served.max_tokens == 16
    full = CrossEncoder(model_folder)
    full.max_tokens = 16
    assert np.allclose(served.score_pairs(QUERIES, TEXTS), full.score_pairs(QUERIES, TEXTS), atol=0.05)
    exports = list((model_folder.parent / "onnx").glob("ce-*/model.onnx"))
    assert len(exports) == 1  # a rewritten serving form or blend weight does not export the model again
