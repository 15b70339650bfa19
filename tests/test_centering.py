"""Language centering (encoders/centering.py): the function itself, how indexes record it, and what it does
for cross-lingual search on real data."""

import random

import numpy as np
import pytest
from conftest import shared_data

from jiansuo.encoders.centering import Centering, centering_for, script_of
from jiansuo.engine import Engine
from jiansuo.ingest import read_path
from jiansuo.model import Document


def test_script_of_reads_chinese_english_and_mixed_text():
    assert script_of("扩散模型 条件控制") == "cjk"
    assert script_of("cross-encoder kNN CUR") == "latin"
    assert script_of("Transformer 的注意力机制") == "cjk"  # an English term inside Chinese stays Chinese
    assert script_of("a long English sentence that mentions 中文 once") == "latin"
    assert script_of("") == "latin" and script_of("$x^2$ 123") == "latin"


def test_a_trained_model_folder_brings_its_own_means(tmp_path):
    from jiansuo.encoders.centering import MODEL_FILE, centering_named

    folder = tmp_path / "model"
    folder.mkdir()
    assert centering_for(str(folder)) is None  # no means of its own: used as it is
    means = {"cjk": np.array([1.0, 0, 0], np.float32), "latin": np.array([0, 1.0, 0], np.float32)}
    Centering(means, means, "trained").save(folder / MODEL_FILE)
    found = centering_for(str(folder))
    assert found is not None and str(folder) in found.name
    reopened = centering_named(found.name)  # what an index built with it records, and opens again by
    assert reopened is not None and np.allclose(reopened.query_means["cjk"], means["cjk"])


def test_each_side_and_script_loses_its_own_mean():
    means = {"cjk": np.array([1.0, 0, 0], np.float32), "latin": np.array([0, 1.0, 0], np.float32)}
    centering = Centering(means, {"cjk": np.zeros(3, np.float32), "latin": np.array([0, 0, 0.5], np.float32)}, "t")
    vectors = np.array([[1.0, 1.0, 0], [1.0, 1.0, 0]], np.float32) / np.sqrt(2)
    queries = centering.queries(vectors, ["中文问题", "english question"])
    assert np.allclose(np.linalg.norm(queries, axis=1), 1.0)
    assert queries[0, 0] < vectors[0, 0] and queries[1, 1] < vectors[1, 1]  # the script's own axis shrank
    passages = centering.passages(vectors, ["中文段落", "english passage"])
    assert np.allclose(passages[0], vectors[0]) and passages[1, 2] < 0  # a zero mean changes nothing
    assert centering.queries(np.array([[1.0, 0, 0]], np.float32), ["中文"]).tolist() == [[0, 0, 0]]  # no NaN


def test_the_e5_family_ships_its_reference_and_other_encoders_have_none():
    from jiansuo.encoders.centering import MEANS_ONLY, centering_named

    for name in ("e5-onnx", "e5-onnx-int8", "e5"):
        centering = centering_for(name)
        assert centering is not None and centering.name == "e5-reference-v2"
        assert all(centering.query_means[s].shape == (384,) for s in ("cjk", "latin"))
        rotation = centering.rotations["cjk"]
        assert np.allclose(rotation @ rotation.T, np.eye(384), atol=1e-4) and "latin" not in centering.rotations
        assert not np.allclose(rotation, np.eye(384), atol=1e-2)
    first = centering_for("e5-onnx", MEANS_ONLY)
    assert first is not None and first.name == "e5-reference-v1" and not first.rotations  # older indexes keep it
    assert centering_named("e5-reference-v1") is first
    assert centering_for("bow64") is None and centering_for("minilm") is None


def test_the_rotation_keeps_cosines_within_a_script_and_moves_them_across():
    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    zeros = {"cjk": np.zeros(8, np.float32), "latin": np.zeros(8, np.float32)}
    rotated = Centering(zeros, zeros, "t", {"cjk": rotation.astype(np.float32)})
    plain = Centering(zeros, zeros, "t")
    vectors = rng.normal(size=(4, 8)).astype(np.float32)
    texts = ["中文问题", "中文段落", "english question", "english passage"]
    before, after = plain.queries(vectors.copy(), texts), rotated.queries(vectors.copy(), texts)
    within = [(0, 1), (2, 3)]
    assert all(np.isclose(before[i] @ before[j], after[i] @ after[j], atol=1e-5) for i, j in within)
    assert np.allclose(after[2:], before[2:])  # Latin vectors are not turned
    assert not np.isclose(before[0] @ before[2], after[0] @ after[2], atol=1e-3)


@pytest.mark.models
def test_an_index_records_its_centering_and_a_change_rebuilds_it(tmp_path, fixtures):
    posts = [d for d in read_path(fixtures / "posts.jsonl") if isinstance(d, Document)]
    cache = tmp_path / "cache.sqlite"
    engine = Engine(tmp_path / "store", encoder="e5-onnx", embedding_cache=cache)
    engine.add(posts)
    engine.refresh()
    assert engine.dense.params["centering"] == "e5-reference-v2"
    raw = engine.encoder.encode_queries(["相似度"])
    assert np.allclose(engine.query_vector("相似度"), centering_for("e5-onnx").queries(raw, ["相似度"])[0])
    first = Engine(tmp_path / "store", encoder="e5-onnx", embedding_cache=cache, centering="reference-v1")
    assert first.refresh_dense() == len(posts)  # an engine told the older version rebuilds with it
    assert first.dense.params["centering"] == "e5-reference-v1"
    older = centering_for("e5-onnx", "reference-v1")
    assert np.allclose(first.query_vector("相似度"), older.queries(raw, ["相似度"])[0])
    from jiansuo.cli import _dense_work

    newest = Engine(tmp_path / "store", encoder="e5-onnx", embedding_cache=cache)
    assert _dense_work(newest) == len(posts)  # the progress bar's total: every document, re-read from the cache
    assert newest.refresh_dense() == len(posts)
    assert _dense_work(newest) == 0
    plain = Engine(tmp_path / "store", encoder="e5-onnx", embedding_cache=cache, centering=False)
    assert plain.refresh_dense() == len(posts)  # rebuilt (from the cache) without centering
    assert plain.dense.params["centering"] is None
    assert np.allclose(plain.query_vector("相似度"), raw[0])  # queries follow the live index
    assert plain.search("相似度", mode="dense").hits


@pytest.mark.slow
@pytest.mark.models
def test_centering_lifts_chinese_queries_on_english_pages(tmp_path):
    """LibreOffice help, zh queries that share no word with their English page: 60 queries, their pages and 240
    others (whole pages), dense nDCG@10 with and without centering, one embedding cache."""
    from jiansuo.evaluate.datasets import read_qrels, read_queries
    from jiansuo.evaluate.metrics import score_run

    folder = shared_data("lo-help") / "zh2en"
    qrels = read_qrels(folder, "nooverlap")
    rng = random.Random(20261129)
    picked = rng.sample(sorted(qrels), 60)
    qrels = {q: qrels[q] for q in picked}
    queries = {q: t for q, t in read_queries(folder).items() if q in qrels}
    pages = {d.id: d for d in read_path(folder / "corpus.jsonl", "beir") if isinstance(d, Document)}
    wanted = {p for judged in qrels.values() for p in judged}
    wanted |= set(rng.sample(sorted(set(pages) - wanted), 300 - len(wanted)))
    documents = [pages[p] for p in sorted(wanted)]
    scores = {}
    for centering in (False, "reference-v1", True):
        engine = Engine(tmp_path / str(centering), encoder="e5-onnx", embedding_cache=tmp_path / "cache.sqlite",
                        centering=centering)
        engine.add(documents)
        engine.refresh()
        run = {q: {h.doc_id: h.score for h in engine.search(t, mode="dense", limit=10, hydrate=False).hits}
               for q, t in queries.items()}
        scores[centering] = score_run(qrels, run, ("ndcg@10",))["ndcg@10"]
    assert scores["reference-v1"] > scores[False] + 0.1, scores  # the means
    assert scores[True] > scores["reference-v1"] + 0.03, scores  # then the rotation (pages no fit pair came from)
