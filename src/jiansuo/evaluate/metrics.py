"""IR metrics computed by ranx (a maintained library), never by hand."""

from __future__ import annotations

from ranx import Qrels, Run, evaluate

DEFAULT_METRICS = ("ndcg@10", "mrr@10", "recall@10", "recall@100")


def score_run(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]],
              metrics: tuple[str, ...] = DEFAULT_METRICS) -> dict[str, float]:
    """Mean metrics over the judged queries; a judged query missing from `run` scores zero."""
    judged = {q: docs for q, docs in qrels.items() if docs}
    full_run = {q: (run.get(q) or {}) for q in judged}
    # ranx rejects empty result lists: give such queries one impossible document (scores 0 anyway).
    full_run = {q: (docs if docs else {"__none__": 0.0}) for q, docs in full_run.items()}
    result = evaluate(Qrels(judged), Run(full_run), list(metrics), make_comparable=True)
    if isinstance(result, float):
        result = {metrics[0]: result}
    return {name: float(value) for name, value in result.items()}
