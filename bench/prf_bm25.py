"""Pseudo-relevance feedback for BM25 (issue 22, item 1): RM3-style query expansion, chosen on dev, then hybrid.

For each query: BM25's top `docs` documents are taken as relevant; each term of theirs (the index's own analysis
of title, summary and body) is weighted by sum over those documents of P(term | document) x the document's share of
their BM25 scores; the `terms` heaviest that are not already query terms form an expansion query. The final BM25
score interpolates the two searches: (1 - alpha) x min-max(original) + alpha x min-max(expansion), over the union
of both top 100. Nothing in the product changes unless this wins.

Dev: SciFact train queries, the seeded dev halves of LibreOffice zh and en (bench/meaning_cutoff.py's halves).
Rule: the setting with the best mean dev nDCG@10 among those that lose no dev set more than .005 against plain
BM25; none, if none gains. Test: SciFact test, CISI, MEDLINE and the held-out halves, BM25 and hybrid (the
expanded BM25 list fused with the dense list by the default fusion).

Run: python bench/prf_bm25.py
"""

from __future__ import annotations

import itertools
import warnings
from collections import Counter
from functools import cache

from common import DATA, table
from dense_beir import engine_for
from fusion_coverage import qrels_of

from jiansuo.analysis import analyze
from jiansuo.evaluate.datasets import read_queries
from jiansuo.evaluate.metrics import score_run
from jiansuo.model import Hit, SearchRequest
from jiansuo.retrieve import fusion

warnings.filterwarnings("ignore")
DOCS = (5, 10)
TERMS = (10, 20)
ALPHAS = (0.2, 0.4)
DEV = ("scifact", "lo-help/zh", "lo-help/en")
TEST = ("scifact", "cisi", "medline", "lo-help/zh", "lo-help/en")


class Feedback:
    """One set's engine, with the index terms of each document analysed once."""

    def __init__(self, dataset: str):
        self.engine = engine_for(dataset, "e5-onnx")
        self.texts = read_queries(DATA / dataset)

    @cache  # noqa: B019 (one per set, for the bench's life)
    def terms_of(self, doc_id: str) -> Counter:
        document = self.engine.store.get(doc_id)
        return Counter(analyze(f"{document.title}\n{document.summary}\n{document.body}")) if document else Counter()

    def bm25(self, text: str) -> tuple[list[Hit], list[str]]:
        page = self.engine.search(SearchRequest(query=text, mode="bm25", limit=100, syntax=False), hydrate=False)
        return page.hits, page.terms

    def expanded(self, text: str, docs: int, terms: int, alpha: float) -> list[Hit]:
        hits, query_terms = self.bm25(text)
        top = hits[:docs]
        total = sum(h.score for h in top)
        if not top or total <= 0:
            return hits
        weights: Counter = Counter()
        for hit in top:
            counts = self.terms_of(hit.doc_id)
            length = sum(counts.values()) or 1
            for term, n in counts.items():
                weights[term] += n / length * hit.score / total
        extra = [t for t, _ in weights.most_common(terms + len(query_terms)) if t not in set(query_terms)][:terms]
        if not extra:
            return hits
        expansion, _ = self.bm25(" ".join(extra))
        return fusion.weighted([hits, expansion], [1 - alpha, alpha])

    def run(self, query_ids: set[str], setting: tuple | None, mode: str) -> dict:
        out = {}
        for query_id in query_ids:
            text = self.texts[query_id]
            keyword = self.bm25(text)[0] if setting is None else self.expanded(text, *setting)
            if mode == "hybrid":
                dense = self.engine.search(SearchRequest(query=text, mode="dense", limit=100, syntax=False),
                                           hydrate=False).hits
                coverage = self.engine.keyword.coverage(keyword[0].doc_id, self.bm25(text)[1]) if keyword else 0.0
                keyword = fusion.confidence_weighted(keyword, dense, coverage)
            out[query_id] = {h.doc_id: h.score for h in keyword[:100]}
        return out


def main() -> None:
    grid: list[tuple | None] = [None, *itertools.product(DOCS, TERMS, ALPHAS)]
    name = {p: "plain BM25" if p is None else f"{p[0]} docs, {p[1]} terms, alpha {p[2]}" for p in grid}
    dev: dict = {p: [] for p in grid}
    for dataset in DEV:
        qrels = qrels_of(dataset, "dev")
        feedback = Feedback(dataset)
        for point in grid:
            dev[point].append(score_run(qrels, feedback.run(set(qrels), point, "bm25"), ("ndcg@10",))["ndcg@10"])
        print(f"dev {dataset}: {[round(dev[p][-1], 4) for p in grid]}", flush=True)
    allowed = [p for p in grid[1:] if all(s >= b - 0.005 for s, b in zip(dev[p], dev[None], strict=True))]
    better = [p for p in allowed if sum(dev[p]) > sum(dev[None])]
    chosen = max(better, key=lambda p: sum(dev[p])) if better else None
    print(table(["setting", *(f"{d} dev" for d in DEV), "mean", "every set within .005"],
                [[name[p], *dev[p], sum(dev[p]) / len(DEV), "yes" if p is None or p in allowed else "no"]
                 for p in grid]))
    print(f"\nchosen on dev: {name[chosen]}\n")
    if chosen is None:
        return
    rows = []
    for dataset in TEST:
        qrels = qrels_of(dataset, "test half" if dataset.startswith("lo-help") else "test")
        feedback = Feedback(dataset)
        row: list = [dataset, len(qrels)]
        for mode in ("bm25", "hybrid"):
            for point in (None, chosen):
                row.append(score_run(qrels, feedback.run(set(qrels), point, mode), ("ndcg@10",))["ndcg@10"])
        rows.append(row)
        print(row, flush=True)
    print(table(["set (test)", "queries", "bm25", "bm25 + PRF", "hybrid", "hybrid with PRF BM25"], rows))


if __name__ == "__main__":
    main()
