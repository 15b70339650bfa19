"""Checks on the real shared data (skipped with a reason in a fresh clone without ../shared/data)."""

import random
import re

import pytest
from conftest import shared_data

from jiansuo.engine import Engine
from jiansuo.ingest import IngestProblem, read_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kexue_engine(tmp_path_factory):
    corpus = shared_data("kexue") / "kexue.jsonl"
    engine = Engine(tmp_path_factory.mktemp("kexue"))
    items = list(read_path(corpus))
    assert not [i for i in items if isinstance(i, IngestProblem)]
    engine.add(items)
    engine.refresh()
    return engine


def test_kexue_ingests_whole(kexue_engine):
    assert kexue_engine.store.count() == 312
    assert kexue_engine.keyword.num_docs() == 312


def test_chinese_text_a_document_contains_is_always_found(kexue_engine):
    """Random Chinese substrings of real posts, quoted: the post must be among the matches."""
    rng = random.Random(20261121)
    documents = list(kexue_engine.store.documents())
    misses = []
    for _ in range(300):
        doc = rng.choice(documents)
        runs = [r for r in re.findall(r"[\u4e00-\u9fff]{2,}", doc.body) if len(r) >= 2]
        run = rng.choice(runs)
        length = rng.randint(2, min(8, len(run)))
        start = rng.randint(0, len(run) - length)
        needle = run[start : start + length]
        page = kexue_engine.search(f'"{needle}"', limit=400, hydrate=False)
        if doc.id not in {h.doc_id for h in page.hits}:
            misses.append((needle, doc.id))
    assert misses == []


def test_chinese_title_words_rank_their_post_first(kexue_engine):
    """Unquoted: a post's own title, as a query, puts the post in the top 3 for nearly every post."""
    documents = list(kexue_engine.store.documents())
    found = 0
    for doc in documents:
        page = kexue_engine.search(doc.title, limit=3, hydrate=False, syntax=False)
        found += doc.id in [h.doc_id for h in page.hits]
    assert found / len(documents) >= 0.95


def test_scifact_bm25_meets_the_published_baseline(tmp_path):
    from jiansuo.evaluate.beir import evaluate_beir

    report = evaluate_beir(shared_data("scifact"), "test", store=tmp_path / "scifact")
    assert report["ndcg@10"] >= 0.66
    assert report["latency_ms"]["p50"] < 20


def test_arxiv_snapshot_ingests_whole(tmp_path):
    items = list(read_path(shared_data("arxiv") / "kaggle_snapshot_first2000.jsonl"))
    problems = [i for i in items if isinstance(i, IngestProblem)]
    assert problems == [] and len(items) == 2000
    assert all(d.date and d.categories for d in items)
