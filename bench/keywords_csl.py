"""Keywords per document against the authors' own, on the CSL papers (../shared/data/csl: title, abstract,
author keywords; 1,000 dev + 1,000 test records, all 2,000 indexed as the corpus).

  ours         jiansuo.analysis.keywords: our analyzer's words minus stop words, numbers and LaTeX, phrases of
               2-3 adjacent words that recur, (1 + log tf) * log(N / df) from the keyword index, title x2
  plain TF-IDF every jieba token of title + abstract (punctuation dropped), raw tf * log(N / df), top 10

precision@10 and recall@10, exact (the same string once case and spaces are ignored) and partial (one contains
the other). Choices were made on dev; the test rows are reported as they came.

Run: python bench/keywords_csl.py
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections import Counter

import rjieba
from common import DATA, WORK, need, table

from jiansuo.analysis.keywords import keywords
from jiansuo.engine import Engine
from jiansuo.model import Document

_WORD = re.compile(r"\w")


def normal(text: str) -> str:
    return re.sub(r"\s+", "", text.casefold())


def plain_tfidf(texts: dict[str, str], count: int = 10) -> dict[str, list[str]]:
    tokens = {doc_id: [t for t in rjieba.cut(text, False) if _WORD.search(t)] for doc_id, text in texts.items()}
    df: Counter[str] = Counter(t for words in tokens.values() for t in set(words))
    n = len(texts)
    out = {}
    for doc_id, words in tokens.items():
        tf = Counter(words)
        ranked = sorted(tf, key=lambda t: -tf[t] * math.log(n / df[t]))
        out[doc_id] = ranked[:count]
    return out


def scores(predicted: dict[str, list[str]], gold: dict[str, list[str]]) -> list[float]:
    exact_p = exact_r = partial_p = partial_r = 0.0
    for doc_id, truth in gold.items():
        guess = [normal(k) for k in predicted.get(doc_id, [])][:10]
        truth = [normal(k) for k in truth]
        exact = set(guess) & set(truth)
        exact_p += len(exact) / 10
        exact_r += len(exact) / max(1, len(truth))
        partial_p += sum(any(g in t or t in g for t in truth) for g in guess) / 10
        partial_r += sum(any(g in t or t in g for g in guess) for t in truth) / max(1, len(truth))
    n = len(gold)
    return [exact_p / n, exact_r / n, partial_p / n, partial_r / n]


def main() -> None:
    records = [json.loads(line) for line in open(need(DATA / "csl" / "csl.jsonl"), encoding="utf-8")]
    store = WORK / "keywords_csl"
    shutil.rmtree(store, ignore_errors=True)
    engine = Engine(store)
    engine.add(Document(id=r["id"], title=r["title"], summary=r["abstract"], language="zh") for r in records)
    engine.refresh()
    backend = engine.keyword
    total = backend.num_docs()
    ours = {r["id"]: [k.text for k in keywords(r["title"], r["abstract"], backend.document_frequency, total)]
            for r in records}
    baseline = plain_tfidf({r["id"]: f"{r['title']}\n{r['abstract']}" for r in records})
    rows = []
    for split in ("dev", "test"):
        gold = {r["id"]: r["keywords"] for r in records if r["split"] == split}
        for name, predicted in (("ours", ours), ("plain TF-IDF", baseline)):
            rows.append([split, name, *scores(predicted, gold)])
    print(table(["split", "system", "P@10 exact", "R@10 exact", "P@10 partial", "R@10 partial"], rows))
    sample = records[1000]
    print(f"\nExample ({sample['id']}): authors {sample['keywords']}\n  ours  {ours[sample['id']]}\n"
          f"  plain {baseline[sample['id']]}")


if __name__ == "__main__":
    main()
