"""The real-data regression tier: BM25, dense and hybrid nDCG@10 of the default engine on SciFact and LibreOffice
zh, each within .01 of the figure the README states (its "Reference figures" table, from bench/centering.py).

Encoding a corpus takes minutes to hours on 2 cores, so the tier reads the bench's embedding cache
(runs/cache/embeddings.sqlite, filled by bench/dense_beir.py or bench/centering.py) and skips, saying so, where the
shared data or those vectors are absent. It never writes to that cache.
"""

import os
import re
from pathlib import Path

import pytest
from conftest import shared_data

from jiansuo.analysis.passages import split_passages
from jiansuo.engine import Engine
from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.store.embedding_cache import EmbeddingCache

pytestmark = [pytest.mark.slow, pytest.mark.models]
ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("JIANSUO_BENCH_WORK", ROOT / "runs")) / "cache" / "embeddings.sqlite"
ENCODER = "e5-onnx"


def readme_figures() -> dict[str, dict[str, float]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("Reference figures", 1)[1].split("\n- ", 1)[0]
    rows = re.findall(r"^\s*\| (\S+) \(test\) \| \d+ \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", section, re.M)
    return {name: {"bm25": float(b), "dense": float(d), "hybrid": float(h)} for name, b, d, h in rows}


def test_the_readme_states_the_figures():
    assert set(readme_figures()) == {"scifact", "lo-help/zh"}


@pytest.mark.parametrize("dataset", ["scifact", "lo-help/zh"])
def test_ndcg_matches_the_readme(dataset, tmp_path):
    folder = shared_data(dataset)
    documents = [d for d in read_path(folder / "corpus.jsonl", "beir") if not isinstance(d, IngestProblem)]
    if not CACHE.exists():
        pytest.skip(f"no bench embedding cache at {CACHE}: run python bench/centering.py once")
    cache = EmbeddingCache(CACHE)
    texts = [p.text for d in documents for p in split_passages(d)]
    missing = cache.missing(ENCODER, texts, 384)
    cache.close()
    if missing:
        pytest.skip(f"the bench embedding cache lacks {missing} {dataset} passages: run python bench/centering.py")
    engine = Engine(tmp_path / "store", encoder=ENCODER, embedding_cache=CACHE)
    engine.add(documents)
    engine.refresh()
    qrels = read_qrels(folder, "test")
    queries = {q: t for q, t in read_queries(folder).items() if q in qrels}
    expected = readme_figures()[dataset]
    for mode, figure in expected.items():
        ndcg = score_run(qrels, run_queries(engine, queries, mode=mode)[0], ("ndcg@10",))["ndcg@10"]
        assert abs(ndcg - figure) <= 0.01, (dataset, mode, ndcg, figure)
