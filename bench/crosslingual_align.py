"""Cross-lingual alignment (issue 22): e5 fine-tuned with CoSENT on LibreOffice help page pairs.

The help exists in Chinese and English with the same page ids: a parallel corpus. Pages judged by any test query
of the four LibreOffice tasks (zh, en, zh->en, en->zh; test and nooverlap) are all held out; the rest are split
into fit pages and dev pages (seeded, 10%). Pairs: (zh page, its en page) = 1; (zh page, the en fit page the base
model finds most similar) = 0 and (zh page, a random en fit page) = 0, and the same from the English side. Text:
each page's opening passage, as the product cuts passages, with the passage prefix on both sides. CoSENT over
each batch's cosines; the checkpoint is chosen by dev mean reciprocal rank of the parallel page among the dev
pages (both directions). The model keeps e5's "query: " / "passage: " prefixes, gets its own language-centering
means (bench/centering_reference.py's texts and rule) and its own honest-hybrid cut-off (bench/meaning_cutoff.py's
rule: the 50th percentile of unrelated queries' best cosine in CISI), then every set is re-encoded and searched
with it, beside the default engine (e5-onnx, centered) on the same queries.

Run: python bench/crosslingual_align.py [--steps 150] [--sets lo-help/zh2en,...]
"""

from __future__ import annotations

import argparse
import json
import random
import time
import warnings
from pathlib import Path

import numpy as np
from centering_reference import arxiv, csl
from common import DATA, WORK, table
from dense_beir import engine_for

from jiansuo.analysis.passages import split_passages
from jiansuo.encoders import load_encoder
from jiansuo.encoders.centering import MODEL_FILE, Centering
from jiansuo.engine import Engine
from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.model import SearchRequest
from jiansuo.store.embedding_cache import EmbeddingCache
from jiansuo.train.bi_encoder import BiEncoder
from jiansuo.train.cosent import BI_ENCODER_SCALE, cosent_loss
from jiansuo.train.loop import TrainConfig, train_loop
from jiansuo.train.pairs import Pair

warnings.filterwarnings("ignore")
CACHE = WORK / "cache" / "embeddings.sqlite"
TASKS = ("zh", "en", "zh2en", "en2zh")
SETS = "lo-help/zh2en,lo-help/en2zh,lo-help/zh,lo-help/en,scifact,cisi"
OUT = WORK / "align" / "e5-lo-parallel"


def opening(document) -> str:
    return split_passages(document)[0].text


def parallel_pages() -> tuple[dict, dict, list[str], list[str], int]:
    zh, en = ({d.id: d for d in read_path(DATA / "lo-help" / language / "corpus.jsonl", "beir")
               if not isinstance(d, IngestProblem)} for language in ("zh", "en"))
    judged: set[str] = set()
    for task in TASKS:
        for split in ("test", "nooverlap"):
            if (DATA / "lo-help" / task / "qrels" / f"{split}.tsv").exists():
                judged |= {d for judgments in read_qrels(DATA / "lo-help" / task, split).values() for d in judgments}
    free = sorted(set(zh) & set(en) - judged)
    random.Random(22).shuffle(free)
    cut = len(free) // 10
    return zh, en, free[cut:], free[:cut], len(judged)


def base_vectors(texts: list[str]) -> np.ndarray:
    encoder = load_encoder("e5-onnx")
    cache = EmbeddingCache(CACHE)
    try:
        return cache.encode(encoder.name, texts, encoder.encode_passages, encoder.dim)
    finally:
        cache.close()


def training_pairs(zh: dict, en: dict, fit: list[str]) -> list[Pair]:
    zh_texts, en_texts = [opening(zh[i]) for i in fit], [opening(en[i]) for i in fit]
    similar = base_vectors(zh_texts) @ base_vectors(en_texts).T
    np.fill_diagonal(similar, -np.inf)
    rng = random.Random(0)
    pairs = []
    for i in range(len(fit)):
        hard_en, hard_zh = int(np.argmax(similar[i])), int(np.argmax(similar[:, i]))
        other = rng.randrange(len(fit) - 1)
        other += other >= i
        pairs += [Pair(zh_texts[i], en_texts[i], 1.0), Pair(zh_texts[i], en_texts[hard_en], 0.0),
                  Pair(zh_texts[i], en_texts[other], 0.0), Pair(en_texts[i], zh_texts[hard_zh], 0.0)]
    return pairs


def mean_reciprocal_rank(encoder: BiEncoder, zh_texts: list[str], en_texts: list[str]) -> float:
    import torch

    encoder.model.eval()
    with torch.inference_mode():
        a = torch.cat([encoder.embed(zh_texts[s : s + 32]) for s in range(0, len(zh_texts), 32)]).numpy()
        b = torch.cat([encoder.embed(en_texts[s : s + 32]) for s in range(0, len(en_texts), 32)]).numpy()
    encoder.model.train()
    ranks = []
    for similar in (a @ b.T, b @ a.T):
        own = np.diag(similar)
        ranks += list(1.0 / (1 + (similar > own[:, None]).sum(1)))
    return float(np.mean(ranks))


def train(zh: dict, en: dict, fit: list[str], dev: list[str], steps: int) -> dict:
    import torch

    encoder = BiEncoder("e5", max_tokens=160)
    encoder.prefix = "passage: "
    pairs = training_pairs(zh, en, fit)
    dev_zh, dev_en = [opening(zh[i]) for i in dev], [opening(en[i]) for i in dev]

    def step(batch: list[Pair]):
        a, b = encoder.embed([p.a for p in batch]), encoder.embed([p.b for p in batch])
        return cosent_loss((a * b).sum(-1), torch.tensor([p.label for p in batch]), BI_ENCODER_SCALE)

    def save(folder: Path) -> None:
        encoder.save(folder)
        meta = json.loads((folder / "jiansuo.json").read_text())
        meta.update({"query_prefix": "query: ", "passage_prefix": "passage: ",
                     "trained_on": f"LibreOffice help zh/en page pairs, {len(fit)} pages no test query judges"})
        (folder / "jiansuo.json").write_text(json.dumps(meta))

    random.Random(1).shuffle(pairs)
    report = train_loop(encoder.model, step, lambda: mean_reciprocal_rank(encoder, dev_zh, dev_en), save, pairs,
                        OUT, TrainConfig(epochs=1, batch_size=16, lr=2e-5, max_tokens=160, eval_every=40,
                                         patience=3, max_steps=steps), False)
    report["pairs"] = len(pairs)
    return report


def write_centering(folder: Path, documents: int = 500) -> None:
    """The model's own reference means, from the same texts and rule as the shipped e5 ones."""
    encoder = load_encoder(str(folder))
    queries, passages = {}, {}
    for script, found in (("latin", arxiv(documents)), ("cjk", csl(documents))):
        queries[script] = encoder.encode_queries([d.title for d in found]).mean(axis=0)
        passages[script] = encoder.encode_passages([p.text for d in found for p in split_passages(d)]).mean(axis=0)
    Centering(queries, passages, "aligned").save(folder / MODEL_FILE)


def aligned_engine(dataset: str, folder: Path) -> Engine:
    engine = Engine(WORK / "dense" / f"{dataset.replace('/', '-')}-aligned", encoder=str(folder),
                    embedding_cache=CACHE)
    documents = [d for d in read_path(DATA / dataset / "corpus.jsonl", "beir") if not isinstance(d, IngestProblem)]
    if engine.store.count() != len(documents):
        engine.add(documents)
    engine.refresh()
    return engine


def honest_cutoff(folder: Path) -> float:
    """bench/meaning_cutoff.py's rule for this encoder: the 50th percentile of unrelated queries' best cosine in
    CISI (the percentile it chose for the centered default)."""
    engine = aligned_engine("cisi", folder)
    titles = [json.loads(line)["title"] for line in open(DATA / "kexue" / "kexue.jsonl", encoding="utf-8")]
    claims = [read_queries(DATA / "scifact")[q] for q in read_qrels(DATA / "scifact", "train")]
    best = []
    for text in titles + claims:
        hits = engine.dense.search(engine.query_vector(text), SearchRequest(), 1)
        best.append(hits[0].scores["dense"] if hits else 0.0)
    return float(np.percentile(best, 50))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--sets", default=SETS)
    args = parser.parse_args()
    zh, en, fit, dev, judged = parallel_pages()
    print(f"pages: {len(zh)} zh, {len(en)} en; judged by some test query (held out): {judged}; "
          f"fit {len(fit)}, dev {len(dev)}", flush=True)
    started = time.perf_counter()
    if not (OUT / "jiansuo.json").exists():
        report = train(zh, en, fit, dev, args.steps)
        print(f"trained: {report['pairs']} pairs, {report['steps']} steps, {report['seconds']:.0f} s; dev MRR by "
              f"step {[(h['step'], round(h['dev'], 4)) for h in report['history']]}", flush=True)
    if not (OUT / MODEL_FILE).exists():
        write_centering(OUT)
    cutoff = honest_cutoff(OUT)
    print(f"honest-hybrid cut-off of the aligned model: {cutoff:.4f}; "
          f"{time.perf_counter() - started:.0f} s so far", flush=True)
    rows = []
    for dataset in args.sets.split(","):
        base = engine_for(dataset, "e5-onnx")
        aligned = aligned_engine(dataset, OUT)
        aligned.meaning_cutoff = cutoff
        folder = DATA / dataset
        for split in ["test"] + (["nooverlap"] if (folder / "qrels" / "nooverlap.tsv").exists() else []):
            qrels = read_qrels(folder, split)
            queries = {q: t for q, t in read_queries(folder).items() if q in qrels}
            row = [dataset if split == "test" else f"{dataset} ({split})", len(queries)]
            for mode in ("dense", "hybrid"):
                for engine in (base, aligned):
                    run = run_queries(engine, queries, mode=mode)[0]
                    row.append(f"{score_run(qrels, run, ('ndcg@10',))['ndcg@10']:.4f}")
            rows.append(row)
            print(row, flush=True)
    print(table(["set", "queries", "dense e5-onnx", "dense aligned", "hybrid e5-onnx", "hybrid aligned"], rows))


if __name__ == "__main__":
    main()
