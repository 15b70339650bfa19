"""A Chinese retrieval benchmark built deterministically from ../shared/data/csl/csl.jsonl.

Corpus: the 2,000 CSL papers (dev + test records). Two query sets, both with exactly one relevant paper:
  keywords->paper  query = the paper's keywords joined by spaces; indexed: title + abstract (no keywords)
  title->paper     query = the paper's title; indexed: abstract only (the title is NOT indexed)
Queries come from the `dev` records (tuning) or the `test` records (reporting); the corpus is always
all 2,000 papers. Nothing is sampled, so every run gives the same numbers.

Systems: jiansuo (rjieba words + CJK bigrams), jiansuo with the bigram field off, bm25s on our tokens,
tantivy's default tokenizer on the same raw text (how the original site search treats Chinese).

Run: python bench/csl_task.py [--split test] [--cjk-boosts 0,0.1,0.3,0.5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import warnings

from common import DATA, WORK, need, percentiles, table
from tantivy_default import DefaultTokenizerIndex

from jiansuo.engine import Engine
from jiansuo.evaluate.beir import run_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.model import Document

warnings.filterwarnings("ignore")
METRICS = ("ndcg@10", "mrr@10", "recall@100")


def load() -> list[dict]:
    with open(need(DATA / "csl" / "csl.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def tasks(papers: list[dict], split: str) -> dict[str, tuple[dict, dict, dict]]:
    """name -> (documents {id: Document}, queries {qid: text}, qrels)."""
    chosen = [p for p in papers if p["split"] == split]
    keyword_docs = {p["id"]: Document(id=p["id"], title=p["title"], summary=p["abstract"]) for p in papers}
    title_docs = {p["id"]: Document(id=p["id"], summary=p["abstract"]) for p in papers}
    keyword_queries = {f"k-{p['id']}": " ".join(p["keywords"]) for p in chosen}
    title_queries = {f"t-{p['id']}": p["title"] for p in chosen}
    return {
        "keywords->paper": (keyword_docs, keyword_queries, {q: {q[2:]: 1} for q in keyword_queries}),
        "title->paper": (title_docs, title_queries, {q: {q[2:]: 1} for q in title_queries}),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="test", choices=["dev", "test"])
    parser.add_argument("--cjk-boosts", default="", help="extra rows for these bigram-field boosts")
    parser.add_argument("--title-words", action="store_true",
                        help="put the store's title terms in the segmenter's dictionary (tokenize.TITLE_WORDS)")
    args = parser.parse_args()
    if args.title_words:
        from jiansuo.analysis import tokenize

        tokenize.TITLE_WORDS = True
    rows = []
    for name, (documents, queries, qrels) in tasks(load(), args.split).items():
        store = WORK / "csl" / name.replace("->", "-to-")
        shutil.rmtree(store, ignore_errors=True)
        engine = Engine(store)
        engine.add(documents.values())
        engine.refresh()
        run, latencies = run_queries(engine, queries)
        p50, p95 = percentiles(latencies)
        rows.append([name, "jiansuo (rjieba + bigrams)", *_scores(qrels, run), f"{p50:.2f} / {p95:.2f}"])
        for boost in [float(b) for b in args.cjk_boosts.split(",") if b] or [0.0]:
            variant = Engine(store, boosts={"cjk": boost})
            run, _ = run_queries(variant, queries)
            label = "jiansuo, words only" if boost == 0 else f"jiansuo, bigram boost {boost}"
            rows.append([name, label, *_scores(qrels, run), ""])
        baseline = DefaultTokenizerIndex({d.id: f"{d.title}\n{d.summary}" for d in documents.values()})
        run = {q: baseline.search(t) for q, t in queries.items()}
        rows.append([name, "tantivy default tokenizer", *_scores(qrels, run), ""])
    print(f"CSL, {args.split} queries, 2,000-paper corpus")
    print(table(["task", "system", *METRICS, "p50 / p95 ms"], rows))


def _scores(qrels: dict, run: dict) -> list[float]:
    scores = score_run(qrels, run, METRICS)
    return [scores[m] for m in METRICS]


if __name__ == "__main__":
    main()
