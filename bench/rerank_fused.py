"""Does ONNX Runtime's transformer optimiser (fused attention, SkipLayerNorm, BiasGelu) speed up the int8
cross-encoder? Rerank@50 p50 over 20 SciFact test queries: int8 as served, the fused graph quantised to int8, and
int8 again (the spread of two runs); then both forms' scores of two pairs. Run after bench/rerank_scifact.py.
Run: python bench/rerank_fused.py
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
from common import DATA, WORK
from dense_beir import engine_for
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers import optimizer
from rerank_scifact import hybrid_run, rerank_times

from jiansuo.encoders.onnx_runtime import session
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.rerank.cross_encoder_onnx import OnnxCrossEncoder, exported_cross_encoder

warnings.filterwarnings("ignore")


def main() -> None:
    folder = WORK / "rerank" / "scifact-qrels-segment-cosine"
    fp32 = exported_cross_encoder(folder, "fp32")
    optimised = optimizer.optimize_model(str(fp32), model_type="bert", num_heads=12, hidden_size=384)
    print({k: v for k, v in optimised.get_fused_operator_statistics().items() if v})
    fused = fp32.with_name("fused.onnx")
    optimised.save_model_to_file(str(fused))
    fused_int8 = fp32.with_name("fused.int8.onnx")
    quantize_dynamic(str(fused), str(fused_int8), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    engine = engine_for("scifact", "e5-onnx")
    qrels = read_qrels(DATA / "scifact", "test")
    timed = [(q, t) for q, t in read_queries(DATA / "scifact").items() if q in qrels][:20]
    candidates = hybrid_run(engine, dict(timed), 100)

    def model(graph=None) -> OnnxCrossEncoder:
        found = OnnxCrossEncoder(folder)  # the served form (int8, 256 tokens)
        if graph is not None:
            found.session = session(graph)
            found._inputs = {i.name for i in found.session.get_inputs()}
        return found

    for name, graph in (("int8", None), ("fused int8", fused_int8), ("int8 again", None)):
        times = rerank_times(engine, model(graph), timed, candidates, 50)
        print(f"{name}: rerank@50 p50 {np.percentile(times, 50):.0f} ms", flush=True)
    pair = (timed[0][1], ["x " * 50, "protein folding and misfolding in neurodegenerative disease"])
    print("scores, int8:", model().score(*pair), "fused int8:", model(fused_int8).score(*pair))


if __name__ == "__main__":
    main()
