"""The hybrid's keyword gate (retrieve/fusion.py confidence_weighted): which coverage, and where it opens fully.

BM25's weight in the fused score is w x min(1, coverage / full_at). Coverage was the share of the query's terms that
BM25's best hit holds; a query such as "Agenda Wizard" over Chinese pages (whose right page says 向导, not wizard)
counts as half covered by an English page titled "Query Wizard", and its accidental keyword list is mixed in at
full weight. Weighted by each term's BM25 inverse document frequency, coverage is the share of the query's
information that the best hit holds: the common word "wizard" weighs little beside "agenda".

Each query is searched once (bench/fusion_tuning.py's recorder); its BM25 list, dense list, and each term's IDF and
presence in BM25's best hit are kept and re-fused offline for every grid point. Dev: SciFact train queries and the
seeded dev halves of LibreOffice zh, en, zh->en and en->zh (bench/meaning_cutoff.py's halves). Rule, as in
bench/fusion_tuning.py: the point with the best mean dev nDCG@10 among those that keep every dev set within .005
of the shipped setting. Test: every set's test queries (held-out halves and whole test and nooverlap sets).

Run: python bench/fusion_coverage.py
"""

from __future__ import annotations

import warnings

from common import DATA, table
from dense_beir import engine_for
from fusion_tuning import choose_on_dev, compared, recorded_lists
from meaning_cutoff import halves

from jiansuo.analysis import detect_language
from jiansuo.evaluate.datasets import read_qrels, read_queries
from jiansuo.model import Hit, SearchRequest
from jiansuo.retrieve import fusion

warnings.filterwarnings("ignore")
GATES = (0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
SHIPPED = ("terms", 0.1)
SHIPPED_POINT = ("terms", 0.1, "all")
HALVED = ("lo-help/zh", "lo-help/en", "lo-help/zh2en", "lo-help/en2zh")
DEV = ("scifact", *HALVED)
TEST = ("scifact", "cisi", "medline", *HALVED)


def qrels_of(dataset: str, part: str) -> dict:
    """part: dev, test half, test or nooverlap (the held-out half's part of nooverlap: 'nooverlap half')."""
    if dataset == "scifact" and part == "dev":
        return read_qrels(DATA / dataset, "train")
    qrels = read_qrels(DATA / dataset, "nooverlap" if part.startswith("nooverlap") else "test")
    if part in ("dev", "test half", "nooverlap half"):
        dev, held_out = halves(dataset)
        keep = dev if part == "dev" else held_out
        qrels = {q: j for q, j in qrels.items() if q in keep}
    return qrels


def recorded(dataset: str, query_ids: set[str]) -> dict[str, tuple[list, list, list[tuple[float, bool]], bool]]:
    """query id -> (BM25 list, dense list, [(IDF, in BM25's best hit) per query term], whether the query's language
    is that of under half the store's documents)."""
    engine = engine_for(dataset, "e5-onnx")
    texts = read_queries(DATA / dataset)
    backend = engine.backends.keyword()
    documents = backend.num_docs()
    languages = engine.store.summary()["languages"]
    out = {}
    for query_id, (bm25, dense, _) in recorded_lists(dataset, query_ids).items():
        terms = engine.search(SearchRequest(query=texts[query_id], mode="bm25", limit=1), hydrate=False).terms
        idfs = fusion.idf_weights([backend.document_frequency((t,)) for t in terms], documents)
        present = [bool(bm25) and backend.coverage(bm25[0][0], [t]) > 0 for t in terms]
        minority = languages.get(detect_language(texts[query_id]), 0) < sum(languages.values()) / 2
        out[query_id] = (bm25, dense, list(zip(idfs, present, strict=True)), minority)
    return out


def fused_run(lists: dict, coverage_kind: str, gate: float, scope: str = "all") -> dict:
    """scope "all": every query fused at this setting; "minority": only queries in a language under half the store's
    documents are written in, the others at the shipped setting."""
    run = {}
    for query_id, (bm25, dense, terms, minority) in lists.items():
        kind, full_at = SHIPPED if scope == "minority" and not minority else (coverage_kind, gate)
        weights = [idf for idf, _ in terms] if kind == "idf" else None
        coverage = fusion.weighted_share([found for _, found in terms], weights)
        hits = fusion.confidence_weighted([Hit(d, s, {}) for d, s in bm25], [Hit(d, s, {}) for d, s in dense],
                                          coverage, full_at=full_at)
        run[query_id] = {h.doc_id: h.score for h in hits[:100]}
    return run


def main() -> None:
    grid = [(kind, gate, scope) for scope in ("all", "minority") for kind in ("terms", "idf") for gate in GATES]
    name = {point: f"{point[0]} coverage, full at {point[1]}, {point[2]} queries" for point in grid}
    dev, allowed, chosen = choose_on_dev(grid, SHIPPED_POINT, DEV, lambda d: qrels_of(d, "dev"), recorded, fused_run)
    print(table(["setting", *(f"{d} dev" for d in DEV), "mean", "every set within .005"],
                [[name[p], *dev[p], sum(dev[p]) / len(DEV), "yes" if p in allowed else "no"] for p in grid]))
    print(f"\nshipped: {name[SHIPPED_POINT]}; chosen on dev: {name[chosen]}\n")
    rows = []
    for dataset in TEST:
        parts = ["test"] if dataset not in HALVED else ["test half", "test"]
        if (DATA / dataset / "qrels" / "nooverlap.tsv").exists():
            parts += ["nooverlap half", "nooverlap"]
        lists = recorded(dataset, set(qrels_of(dataset, "test")) | set(qrels_of(dataset, parts[-1])))
        for part in parts:
            rows.append(compared(f"{dataset} ({part})", qrels_of(dataset, part), lists, fused_run, SHIPPED_POINT,
                                 chosen))
    print(table(["set", "queries", f"shipped: {name[SHIPPED_POINT]}", f"chosen: {name[chosen]}", "change"], rows))


if __name__ == "__main__":
    main()
