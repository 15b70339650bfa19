"""Training loops and the reranking stage end to end, on a tiny model (numbers come from bench/)."""

import json

import pytest

torch = pytest.importorskip("torch", reason="the dense extra is not installed")
transformers = pytest.importorskip("transformers")

from jiansuo.model import SearchRequest  # noqa: E402
from jiansuo.train.loop import TrainConfig  # noqa: E402
from jiansuo.train.pairs import Pair, click_pairs, read_labelled_pairs, self_supervised_pairs  # noqa: E402

pytestmark = pytest.mark.models


PAIRS = [Pair("diffusion guidance", "classifier-free guidance for diffusion models", 1.0),
         Pair("diffusion guidance", "matrix factorisation of score matrices", 0.0),
         Pair("cross-encoder knn", "CUR decomposition for cross-encoder nearest neighbours", 1.0),
         Pair("cross-encoder knn", "a recipe for noodles", 0.0)] * 8


def test_cross_encoder_training_writes_the_best_checkpoint(tiny_base, tmp_path):
    from jiansuo.train.cross_encoder import train_cross_encoder

    def evaluate(model):
        logits = model.predict(PAIRS[:4])
        return float((logits[0] > logits[1]) + (logits[2] > logits[3]))

    report = train_cross_encoder(str(tiny_base), PAIRS, evaluate, tmp_path / "ce", "cosent",
                                 TrainConfig(epochs=3, batch_size=8, lr=1e-3, eval_every=2), progress=False)
    saved = json.loads((tmp_path / "ce" / "training.json").read_text())
    assert saved["steps"] == report["steps"] > 0
    assert report["best_dev"] == max(entry["dev"] for entry in report["history"])  # the best checkpoint is kept
    assert (tmp_path / "ce" / "jiansuo.json").exists()


def test_lion_and_bce_run_too(tiny_base, tmp_path):
    from jiansuo.train.cross_encoder import train_cross_encoder

    report = train_cross_encoder(str(tiny_base), PAIRS, lambda m: 0.0, tmp_path / "ce2", "bce",
                                 TrainConfig(max_steps=2, batch_size=8, lr=1e-4, optimizer="lion"), progress=False)
    assert report["steps"] == 2


def test_rerank_stage_in_the_engine_and_api(tiny_base, posts_engine):
    posts_engine.reranker_path = tiny_base
    page = posts_engine.search(SearchRequest(query="相似度 models hubs 检索", rerank=3, limit=2))
    assert len(page.hits) == 2 and "rerank" in page.timings
    assert all("cross_encoder" in h.scores for h in page.hits)
    assert posts_engine.reranker.calls == 3
    assert posts_engine.search("相似度 检索", rerank=0).timings.keys() == {"retrieve"}


def test_pair_sources(posts_engine, tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("a\tb\t1\nbad line\nc\td\t0.5\n", encoding="utf-8")
    assert read_labelled_pairs(path) == [Pair("a", "b", 1.0), Pair("c", "d", 0.5)]
    pairs = self_supervised_pairs(posts_engine, limit=10)
    assert {p.label for p in pairs} == {0.0, 1.0} and all(p.a for p in pairs)
    posts_engine.store.log_click("相似度", "p3", 2)
    clicked = click_pairs(posts_engine)
    assert clicked[0].label == 1.0 and clicked[0].b.startswith("CoSENT")
    assert [p.label for p in clicked[1:]] == [0.0]  # the one result above it was skipped


def test_cached_pair_encoding_matches_the_tokenizer(tiny_base):
    from jiansuo.rerank.cross_encoder import CrossEncoder

    model = CrossEncoder(tiny_base, max_tokens=24)
    a = ["cross-encoder knn", "扩散模型 条件控制"]
    b = ["CUR decomposition for cross-encoder nearest neighbours " * 5, "短"]
    expected = model.tokenizer(a, b, truncation="only_second", max_length=24, padding=True, return_tensors="pt")
    inputs, segments = model.encode(a, b)
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        assert inputs[name].tolist() == expected[name].tolist()
    for i in range(len(a)):
        assert segments[i].tolist() == [-1 if s is None else s for s in expected.sequence_ids(i)]
    head = CrossEncoder(tiny_base, max_tokens=24, head="segment-cosine")
    cosines = head.score_pairs(a, b)
    assert cosines.shape == (2,) and ((cosines >= -1.0001) & (cosines <= 1.0001)).all()


def test_dev_split_keeps_each_query_on_one_side():
    from jiansuo.train.pairs import split_dev

    pairs = [Pair(f"q{i % 20}", f"d{i}", float(i % 2)) for i in range(200)]
    train, dev = split_dev(pairs, share=0.1)
    assert len(train) + len(dev) == 200 and {p.a for p in dev} and not {p.a for p in dev} & {p.a for p in train}
    assert len({p.a for p in dev}) == 2


def test_a_trained_bi_encoder_serves_a_store_by_its_folder(tiny_base, posts_engine, tmp_path, monkeypatch):
    from jiansuo.engine import Engine
    from jiansuo.train.bi_encoder import train_bi_encoder

    train_bi_encoder(str(tiny_base), PAIRS, PAIRS[:4], tmp_path / "bi",
                     TrainConfig(epochs=1, batch_size=8, max_steps=2), progress=False)
    monkeypatch.chdir(tmp_path)
    engine = Engine(posts_engine.path, encoder="bi")  # a relative folder, as typed on the command line
    assert engine.refresh_dense() == posts_engine.store.count()
    assert engine.encoder is engine.encoder  # loaded once, not on every use
    from jiansuo.encoders.onnx_runtime import OnnxEncoder

    assert isinstance(engine.encoder, OnnxEncoder)  # served on ONNX Runtime, exported once from the trained folder
    assert engine.refresh_dense() == 0  # the index's encoder is the one asked for: nothing to rebuild
    later = Engine(posts_engine.path)  # no encoder named: the store's own dense index decides
    assert later.dense.encoder_name == str((tmp_path / "bi").resolve())
    assert later.search("diffusion guidance", mode="dense").hits


def test_a_base_cut_to_fewer_layers_keeps_the_first_and_last_and_trains(tmp_path):
    """`jiansuo train --layers N`: MiniLM's 6 layers cut to 3 (0, 2 or 3, 5), each kept layer unchanged."""
    from jiansuo.train.bi_encoder import base_model_dir, cut_layers
    from jiansuo.train.cross_encoder import train_cross_encoder

    folder = cut_layers("minilm", 3, tmp_path / "base")
    full = transformers.AutoModel.from_pretrained(base_model_dir("minilm")[0], add_pooling_layer=False)
    cut = transformers.AutoModel.from_pretrained(folder, add_pooling_layer=False)
    kept = json.loads((tmp_path / "base" / "jiansuo.json").read_text())["layers_kept"]
    assert cut.config.num_hidden_layers == 3 and kept[0] == 0 and kept[-1] == 5
    for position, layer in enumerate(kept):
        ours, theirs = cut.encoder.layer[position].state_dict(), full.encoder.layer[layer].state_dict()
        assert all(torch.equal(ours[name], theirs[name]) for name in ours)
    with pytest.raises(ValueError):
        cut_layers("minilm", 7, tmp_path / "too-many")
    report = train_cross_encoder(folder, PAIRS, lambda m: 0.0, tmp_path / "ce3", "cosent",
                                 TrainConfig(max_steps=1, batch_size=8), progress=False, head="segment-cosine")
    assert report["steps"] == 1


def test_retrieval_training_reads_queries_and_passages_with_their_own_prefixes(tiny_base, tmp_path):
    """A (query, passage) pair is read as search reads it: e5's query:/passage:, or a base folder's saved pair; the
    trained folder records both, and the served encoder takes them from it."""
    import shutil

    from jiansuo.encoders.base import load_encoder
    from jiansuo.train.bi_encoder import BiEncoder, train_bi_encoder

    base = tmp_path / "base"
    shutil.copytree(tiny_base, base)
    (base / "jiansuo.json").write_text(json.dumps({"prefix": "", "query_prefix": "find: ",
                                                   "passage_prefix": "page: "}))
    retrieval = BiEncoder(str(base), retrieval=True)
    assert (retrieval.query_prefix, retrieval.passage_prefix) == ("find: ", "page: ")
    query, passage = retrieval.embed_pairs([Pair("diffusion guidance", "diffusion guidance", 1.0)])
    assert not torch.allclose(query, passage)  # the same text, read once as a query and once as a passage
    symmetric = BiEncoder(str(base))
    same_query, same_passage = symmetric.embed_pairs([Pair("diffusion guidance", "diffusion guidance", 1.0)])
    assert torch.allclose(same_query, same_passage)
    train_bi_encoder(str(base), PAIRS, PAIRS[:4], tmp_path / "bi", TrainConfig(max_steps=1, batch_size=8),
                     progress=False, retrieval=True)
    saved = json.loads((tmp_path / "bi" / "jiansuo.json").read_text())
    assert (saved["query_prefix"], saved["passage_prefix"]) == ("find: ", "page: ")
    served = load_encoder(str(tmp_path / "bi"))
    assert (served.query_prefix, served.passage_prefix) == ("find: ", "page: ")  # type: ignore[attr-defined]


def test_in_batch_labels_mark_judged_positives_and_other_queries_passages():
    from jiansuo.train.bi_encoder import in_batch_labels

    batch = [Pair("q1", "doc a", 1.0), Pair("q1", "doc b", 1.0), Pair("q1", "doc c", 0.0), Pair("q2", "doc d", 1.0)]
    labels = in_batch_labels(batch)
    assert labels.tolist() == [[1, 1, 0, 0],  # q1's two judged passages are positives wherever they sit
                               [1, 1, 0, 0],
                               [1, 1, 0, 0],  # row of the negative pair: its diagonal keeps its own label 0
                               [0, 0, 0, 1]]  # q2 against q1's passages: negatives


def test_retrieval_training_with_in_batch_negatives_runs(tiny_base, tmp_path):
    from jiansuo.train.bi_encoder import train_bi_encoder

    report = train_bi_encoder(str(tiny_base), PAIRS, PAIRS[:4], tmp_path / "bi", TrainConfig(max_steps=2, batch_size=8),
                              progress=False, retrieval=True, in_batch=True)
    assert report["steps"] == 2
