"""Queries typed in traditional characters over a simplified-Chinese corpus: BM25 with and without the analyzer's
traditional -> simplified folding (jiansuo/analysis/tokenize.simplified).

The LibreOffice zh test queries, each written in traditional characters by OpenCC's simplified -> traditional
character table (the first candidate of each character; STCharacters.txt from the opencc-python-reimplemented
wheel), against the same pages. The queries as written (simplified) are the reference: with folding on, the
traditional ones should come close to them; the simplified row must not move (a simplified text never changes).

Run: python bench/traditional_queries.py   (about two minutes on 2 cores)
"""

from __future__ import annotations

import shutil
import warnings
from importlib.metadata import distribution
from pathlib import Path

from common import DATA, WORK, need, table

from jiansuo.analysis import tokenize
from jiansuo.engine import Engine
from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.ingest import IngestProblem, read_path

warnings.filterwarnings("ignore")
DATASET = "lo-help/zh"


def traditional_table() -> dict[int, str]:
    path = Path(str(distribution("opencc-python-reimplemented").locate_file("opencc/dictionary/STCharacters.txt")))
    pairs = (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines())
    return {ord(key): values.split(" ")[0] for key, values in pairs if len(key) == 1}


def main() -> None:
    folder = need(DATA / DATASET)
    queries = read_queries(folder)
    qrels = read_qrels(folder)
    queries = {qid: text for qid, text in queries.items() if qid in qrels}
    to_traditional = traditional_table()
    traditional = {qid: text.translate(to_traditional) for qid, text in queries.items()}
    changed = sum(traditional[qid] != queries[qid] for qid in queries)
    rows = []
    for folding in (False, True):
        tokenize.TRADITIONAL_FOLDING = folding
        store = WORK / "traditional_queries" / ("on" if folding else "off")
        shutil.rmtree(store, ignore_errors=True)
        engine = Engine(store)
        engine.add(d for d in read_path(folder / "corpus.jsonl", "beir") if not isinstance(d, IngestProblem))
        engine.refresh()
        for name, asked in (("simplified (as written)", queries), ("traditional", traditional)):
            scores = score_run(qrels, run_queries(engine, asked, mode="bm25")[0])
            rows.append([f"folding {'on' if folding else 'off'}", name, len(asked), scores["ndcg@10"],
                         scores["recall@100"]])
        engine.close()
    print(f"python bench/traditional_queries.py   ({DATASET} test queries; {changed} of {len(queries)} change when "
          "written in traditional characters)\n")
    print(table(["analyzer", "queries", "count", "BM25 nDCG@10", "recall@100"], rows))


if __name__ == "__main__":
    main()
