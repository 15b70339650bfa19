"""Hubness of the e5 dense index before and after CSLS, on SciFact and LibreOffice zh (a Chinese corpus).

Two query sets per corpus: the benchmark's test queries (real queries), and the documents themselves
(each document's mean passage vector queries all other documents). N_k counts how often each document is
among a query's k = 10 nearest; we report its skewness and Robin Hood index, and the share of documents
no query retrieves, with plain cosine and with CSLS (2 cos - r(x)). Run after bench/dense_beir.py built the
indexes: python bench/hubness_table.py
"""

from __future__ import annotations

import warnings

import numpy as np
from common import DATA, table
from dense_beir import engine_for

from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.retrieve.hubness import document_hubness, document_vectors, report

warnings.filterwarnings("ignore")


def main() -> None:
    rows = []
    for dataset in ("scifact", "lo-help/zh"):
        engine = engine_for(dataset, "e5")
        ids, vectors, penalty = document_vectors(engine.dense)
        qrels = read_qrels(DATA / dataset, "test")
        texts = [t for q, t in read_queries(DATA / dataset).items() if q in qrels]
        queries = np.vstack([engine.query_vector(t) for t in texts])
        for name, pen in (("cosine", None), ("CSLS", penalty)):
            result = report(queries, vectors, k=10, penalty=pen)
            rows.append([dataset, f"{len(texts)} test queries", name, f"{result['skewness']:.2f}",
                         f"{result['robin_hood']:.3f}", f"{result['never_retrieved']:.1%}",
                         f"{result['hubs'][0][1]}"])
        among = document_hubness(engine.dense, 10)
        for name, key in (("cosine", "plain"), ("CSLS", "csls")):
            result = among[key]
            rows.append([dataset, f"{len(ids)} documents", name, f"{result['skewness']:.2f}",
                         f"{result['robin_hood']:.3f}", f"{result['never_retrieved']:.1%}",
                         f"{result['hubs'][0][1]}"])
    print(table(["corpus", "queries", "similarity", "N10 skewness", "Robin Hood", "never retrieved",
                 "top hub N10"], rows))


if __name__ == "__main__":
    main()
