"""A smaller e5, distilled on the corpora themselves: the quality/speed trade behind issue 19's build-speed goal.

Student: e5-small with `--layers` of its 12 transformer layers (evenly spaced, first and last kept; embeddings and
the kept layers start from the teacher's weights). Teacher: the default encoder (e5-onnx), its raw unit passage
vectors read from the embedding cache. Training text: the passages of the benchmark corpora as the index cuts them
(`split_passages`, encoded with "passage: "), plus each document's title encoded with "query: " (teacher vectors
computed here), so the query side follows too; no query of any relevance set and no judgment is used. Loss:
1 - cosine(student, teacher), length-bucketed batches, stopped after `--minutes`.

Then, in one run: documents/s of teacher and student on the 200 SciFact documents of bench/encode_throughput.py
(ONNX Runtime, the default int8 scheme, 2 threads), the student's cosine to the teacher there, and dense / hybrid
nDCG@10 of teacher and student on every set (the student uses the teacher's centering means and calibrated
meaning cut-off: it is trained to reproduce the teacher's vectors). Whole corpora are encoded by the student
through the shared embedding cache (its name is its folder), so a second run costs no encoding.
Run: python bench/distil_student.py [--layers 6] [--minutes 25] [--sets scifact,cisi,...] [--skip-training]
     (--skip-training --sets "": time teacher and student again, nothing else)
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
import warnings
from collections.abc import Iterator
from importlib import resources

import numpy as np
from centering import SETS
from common import DATA, WORK, table

from jiansuo.analysis.passages import split_passages
from jiansuo.encoders import load_encoder
from jiansuo.encoders.e5_rebuild import ensure_e5_model
from jiansuo.engine import Engine
from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.retrieve.dense import meaning_cutoff_of
from jiansuo.store.embedding_cache import EmbeddingCache

warnings.filterwarnings("ignore")
CACHE = WORK / "cache" / "embeddings.sqlite"
TEACHER = "e5-onnx"
CORPORA = ("scifact", "cisi", "medline", "lo-help/zh", "lo-help/en")
MAX_TOKENS = 256


def documents(dataset: str) -> list:
    return [d for d in read_path(DATA / dataset / "corpus.jsonl", "beir") if not isinstance(d, IngestProblem)]


def training_pairs(cache: EmbeddingCache, teacher) -> list[tuple[str, np.ndarray]]:
    """(prefixed text, teacher unit vector) for every passage and title of the corpora."""
    pairs = []
    for dataset in CORPORA:
        docs = documents(dataset)
        passages = [p.text for d in docs for p in split_passages(d)]
        vectors = cache.lookup(TEACHER, passages, teacher.dim)
        kept = ~np.isnan(vectors).any(axis=1)
        pairs += [("passage: " + t, v) for t, v, k in zip(passages, vectors, kept, strict=True) if k]
        titles = sorted({d.title for d in docs if d.title.strip()})
        pairs += list(zip(("query: " + t for t in titles), teacher.encode_queries(titles), strict=True))
        print(f"{dataset}: {int(kept.sum())} of {len(passages)} passages cached, {len(titles)} titles", flush=True)
    return pairs


def length_batches(lengths: list[int], size: int, rng: random.Random) -> Iterator[list[int]]:
    """Index batches of similar text length (each pads to its longest), in a random order, pass after pass."""
    chunk = size * 50
    while True:
        for begin in range(0, len(lengths), chunk):
            block = sorted(range(begin, min(begin + chunk, len(lengths))), key=lambda i: lengths[i])
            batches = [block[i : i + size] for i in range(0, len(block), size)]
            rng.shuffle(batches)
            yield from batches


def train(layers: int, minutes: float, out) -> dict:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    teacher_dir = ensure_e5_model()
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    full = BertModel.from_pretrained(teacher_dir, add_pooling_layer=False)
    kept = [round(i * (full.config.num_hidden_layers - 1) / (layers - 1)) for i in range(layers)]
    config = BertConfig.from_dict({**full.config.to_dict(), "num_hidden_layers": layers})
    student = BertModel(config, add_pooling_layer=False)
    student.embeddings.load_state_dict(full.embeddings.state_dict())
    for mine, theirs in enumerate(kept):
        student.encoder.layer[mine].load_state_dict(full.encoder.layer[theirs].state_dict())
    del full
    cache, teacher = EmbeddingCache(CACHE), load_encoder(TEACHER)
    pairs = training_pairs(cache, teacher)
    rng = random.Random(0)
    rng.shuffle(pairs)
    optimizer = torch.optim.AdamW(student.parameters(), lr=5e-5, weight_decay=0.01)
    student.train()
    started, step, seen, losses = time.perf_counter(), 0, 0, []
    for batch in length_batches([len(t) for t, _ in pairs], 16, rng):
        if time.perf_counter() - started >= minutes * 60:
            break
        tokens = tokenizer([pairs[i][0] for i in batch], padding=True, truncation=True, max_length=MAX_TOKENS,
                           return_tensors="pt")
        states = student(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).float()
        pooled = torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=-1)
        target = torch.from_numpy(np.stack([pairs[i][1] for i in batch])).float()
        loss = (1 - (pooled * target).sum(-1)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step, seen = step + 1, seen + len(batch)
        losses.append(float(loss))
        if step % 50 == 0:
            print(f"step {step}: {seen} texts, loss {np.mean(losses[-50:]):.4f}, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    student.save_pretrained(out)
    tokenizer.save_pretrained(out)
    report = {"kind": "bi-encoder", "base": "e5 (distilled)", "query_prefix": "query: ", "passage_prefix": "passage: ",
              "pooling": "mean", "layers": kept, "steps": step, "texts_seen": seen, "pairs": len(pairs),
              "seconds": round(time.perf_counter() - started), "final_loss": float(np.mean(losses[-50:]))}
    (out / "jiansuo.json").write_text(json.dumps(report), encoding="utf-8")
    # trained to reproduce the teacher's vectors: the teacher's language-centering means stand for its own
    with resources.as_file(resources.files("jiansuo.encoders") / "centering_means" / "e5.npz") as means:
        shutil.copy(means, out / "centering.npz")
    return report


def throughput(encoder, passages: list[str], documents_count: int) -> tuple[float, np.ndarray]:
    encoder.encode_passages(passages[:8])
    started = time.perf_counter()
    vectors = encoder.encode_passages(passages)
    return documents_count / (time.perf_counter() - started), vectors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--minutes", type=float, default=25)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--skip-training", action="store_true", help="evaluate the student already trained")
    args = parser.parse_args()
    out = WORK / "distil" / f"e5-student-{args.layers}"
    if not args.skip_training:
        print(train(args.layers, args.minutes, out), flush=True)
    teacher, student = load_encoder(TEACHER), load_encoder(str(out))
    sample = documents("scifact")[1000:1200]
    passages = [p.text for d in sample for p in split_passages(d)]
    rate_teacher, reference = throughput(teacher, passages, len(sample))
    rate_student, vectors = throughput(student, passages, len(sample))
    cosine = (reference * vectors).sum(axis=1)
    print(table(["encoder", "documents/s (200 SciFact documents)", "cosine to teacher (mean / min)"], [
        [f"{TEACHER} (teacher, 12 layers)", f"{rate_teacher:.1f}", "1 / 1"],
        [f"student, {args.layers} layers", f"{rate_student:.1f}", f"{cosine.mean():.4f} / {cosine.min():.4f}"]]))
    print(f"speed-up {rate_student / rate_teacher:.2f}x", flush=True)
    rows = []
    for dataset in filter(None, args.sets.split(",")):  # --sets "": the speed table only
        folder = f"{dataset.replace('/', '-')}"
        engines = {"teacher": Engine(WORK / "dense" / f"{folder}-{TEACHER}", encoder=TEACHER, embedding_cache=CACHE)}
        engines["teacher"].refresh()
        cutoff = meaning_cutoff_of(engines["teacher"].dense)
        engines["student"] = Engine(WORK / "distil" / f"{folder}-student-{args.layers}", encoder=student.name,
                                    embedding_cache=CACHE, meaning_cutoff=cutoff)
        if engines["student"].store.count() == 0:
            engines["student"].add(documents(dataset))
        started = time.perf_counter()
        engines["student"].refresh()
        print(f"{dataset}: student index in {time.perf_counter() - started:.0f} s", flush=True)
        splits = [("test", read_qrels(DATA / dataset, "test"))]
        if (DATA / dataset / "qrels" / "nooverlap.tsv").exists():
            splits.append(("nooverlap", read_qrels(DATA / dataset, "nooverlap")))
        for split, qrels in splits:
            queries = {q: t for q, t in read_queries(DATA / dataset).items() if q in qrels}
            row: list = [f"{dataset} ({split})", len(queries)]
            for mode in ("dense", "hybrid"):
                found = {who: score_run(qrels, run_queries(engine, queries, mode=mode)[0], ("ndcg@10",))["ndcg@10"]
                         for who, engine in engines.items()}
                change = found["student"] - found["teacher"]
                row += [f"{found['teacher']:.4f}", f"{found['student']:.4f}", f"{change:+.4f}"]
            rows.append(row)
            print(row, flush=True)
    print(table(["set", "queries", "dense teacher", "dense student", "change", "hybrid teacher", "hybrid student",
                 "change"], rows))


if __name__ == "__main__":
    main()
