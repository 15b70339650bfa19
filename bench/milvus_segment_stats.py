"""Why the Milvus backend does not use Milvus's own BM25 function: Milvus Lite scores with per-segment statistics.

Two batches go into one collection, each flushed into a segment of its own: in the first, "apple" is in 50 of 100
two-word documents; in the second, in 1 of 100 seven-word documents. With collection-wide statistics (N = 200,
df = 51, mean length 4.5) BM25 of "apple" ranks the short document above the long one; printed beside what Milvus
Lite returns and what each segment's own statistics give.
Run: python bench/milvus_segment_stats.py
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from pymilvus import DataType, Function, FunctionType, MilvusClient


def bm25(n_docs: int, df: int, length: float, mean: float) -> float:
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5)) * 2.2 / (1 + 1.2 * (0.25 + 0.75 * length / mean))


def main() -> None:
    client = MilvusClient(str(Path(tempfile.mkdtemp()) / "probe.db"))
    schema = client.create_schema()
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("text", DataType.VARCHAR, max_length=1000, enable_analyzer=True,
                     analyzer_params={"tokenizer": "standard"})
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection("probe", schema=schema, index_params=index)
    client.insert("probe", [{"id": f"a{i}", "text": "apple pie" if i < 50 else "pear pie"} for i in range(100)])
    client.flush("probe")
    client.insert("probe", [{"id": f"b{i}", "text": ("apple" if i == 0 else "kiwi") + " x y z w v u"}
                            for i in range(100)])
    client.flush("probe")
    found = client.search("probe", data=["apple"], anns_field="sparse", limit=100, output_fields=["id"])[0]
    milvus = {row["id"]: abs(float(row["distance"])) for row in found}
    print("| document | Milvus Lite | collection-wide statistics | its segment's statistics |")
    print("|---|---|---|---|")
    print(f"| a0 (\"apple pie\") | {milvus['a0']:.3f} | {bm25(200, 51, 2, 4.5):.3f} | {bm25(100, 50, 2, 2):.3f} |")
    long = "apple x y z w v u"
    print(f"| b0 (\"{long}\") | {milvus['b0']:.3f} | {bm25(200, 51, 7, 4.5):.3f} | {bm25(100, 1, 7, 7):.3f} |")


if __name__ == "__main__":
    main()
