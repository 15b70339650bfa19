"""CUR algebra on hand-made low-rank matrices, where the answer is exact."""

import numpy as np
import pytest

from jiansuo.rerank.cur import adaptive_cur, cur_scores, scaled_query_rows, with_item_vectors


def low_rank(n_queries=30, n_items=200, rank=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_queries, rank)) @ rng.normal(size=(rank, n_items)), rng


def test_a_query_in_the_row_space_is_reproduced_exactly():
    rows, rng = low_rank()
    query = rng.normal(size=rows.shape[0]) @ rows  # a combination of anchor-query rows
    anchors = np.arange(0, 200, 20)  # 10 anchor items >= rank 5
    approx = cur_scores(query[anchors], rows, anchors)
    assert np.allclose(approx, query, atol=1e-6)


def test_two_by_two_by_hand():
    rows = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]])
    anchors = np.array([0, 1])  # R[:, A] is the identity, so s = c . R
    assert np.allclose(cur_scores(np.array([2.0, 1.0]), rows, anchors), [2.0, 1.0, 7.0])


def test_adaptive_cur_finds_the_true_top_k_within_budget():
    rows, rng = low_rank(rank=8)
    query = rng.normal(size=rows.shape[0]) @ rows + rng.normal(scale=0.01, size=rows.shape[1])
    calls = []

    def score(items):
        calls.append(len(items))
        return query[items]

    top, exact = adaptive_cur(score, rows, np.arange(0, 200, 25), budget=40, rounds=4, k=10)
    assert sum(calls) == 40 == len(exact)
    assert set(top) == set(np.argsort(-query)[:10])


def test_the_index_seeds_adaptive_rounds_with_the_retrievers_top(tmp_path):
    from jiansuo.rerank.cur_index import CurIndex, item_anchor_sets

    rows, rng = low_rank(rank=8)
    query = rng.normal(size=rows.shape[0]) @ rows
    vectors = rng.normal(size=(200, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    CurIndex.write(tmp_path, rows, [f"d{i}" for i in range(200)], ["q"] * 30, item_anchor_sets(200, vectors))
    (tmp_path / "params.json").write_text("{}")
    index = CurIndex(tmp_path)
    first_round = []

    def score(items):
        first_round.append(items.tolist())
        return query[items]

    top, exact = index.search(score, budget=40, k=10, anchor_method="retriever", seeds=[7, 3, 3, 9], rounds=5)
    assert first_round[0][:3] == [7, 3, 9] and len(first_round[0]) == 8  # seeds, then k-means centres
    assert len(exact) == 40 and set(top) == set(np.argsort(-query)[:10])


def test_item_vectors_cover_what_too_few_anchor_queries_cannot():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(300, 12))
    vectors -= vectors.mean(0)
    rows = rng.normal(size=(3, 12)) @ vectors.T  # only 3 anchor queries: a 3-dimensional row space
    query = rng.normal(size=12) @ vectors.T  # the query's scores are linear in the item vectors
    truth = set(np.argsort(-query)[:10])
    first = np.arange(0, 300, 30)
    alone, _ = adaptive_cur(lambda items: query[items], rows, first, budget=40, rounds=3, k=10)
    stacked, exact = adaptive_cur(lambda items: query[items], with_item_vectors(rows, [(vectors, 0.3)]), first,
                                  budget=40, rounds=3, k=10)
    assert set(stacked) == truth and len(exact) == 40
    assert len(set(alone) & truth) < 10
    approx = cur_scores(query[first], with_item_vectors(rows, [(vectors, 0.3)]), first)  # 10 anchors < 15 dimensions
    assert not np.allclose(approx, query)
    many = np.arange(0, 300, 10)
    assert np.allclose(cur_scores(query[many], with_item_vectors(rows, [(vectors, 0.3)]), many), query, atol=1e-4)


def test_a_query_row_outside_the_row_space_is_fitted_with_it():
    rows, rng = low_rank(rank=5)
    prior = rng.normal(size=rows.shape[1])  # the query's own row (e.g. its vector's similarities): not in R's span
    prior -= prior.mean()  # (query rows are fitted centred)
    query = rng.normal(size=rows.shape[0]) @ rows + 2.0 * prior
    anchors = np.arange(0, 200, 20)  # 10 anchors >= rank 5 + 1
    assert not np.allclose(cur_scores(query[anchors], rows, anchors), query, atol=1e-3)
    weighted = scaled_query_rows(rows.std(), prior[None], 10.0)
    assert np.allclose(cur_scores(query[anchors], rows, anchors, query_rows=weighted), query, atol=1e-6)
    assert np.isclose(weighted.std(), 10.0 * rows.std()) and abs(weighted.mean()) < 1e-5
    top, exact = adaptive_cur(lambda items: query[items], rows, anchors, budget=30, rounds=2, k=10,
                              query_rows=weighted)
    assert set(top) == set(np.argsort(-query)[:10]) and len(exact) == 30


@pytest.mark.parametrize("blend", [True, False])
def test_rounds_can_follow_a_fixed_ranking_too(blend):
    rows, rng = low_rank(rank=3)
    query = rng.normal(size=rows.shape[1])  # nothing R can express
    truth = set(np.argsort(-query)[:10])
    first = np.arange(0, 200, 20)
    alone, _ = adaptive_cur(lambda items: query[items], rows, first, budget=40, rounds=2, k=10)
    both, exact = adaptive_cur(lambda items: query[items], rows, first, budget=40, rounds=2, k=10,
                               prior=query + rng.normal(scale=0.01, size=len(query)), blend=blend)
    assert len(set(alone) & truth) < 5 and len(set(both) & truth) >= 9 and len(exact) == 40


def test_rounds_can_pick_by_the_served_blend_of_model_and_retriever():
    """A model served blended with the retrieval score (rerank's blend) is best spent on what that blend puts
    first: the documents the retriever ranks high and the model likes, not the model's own top alone."""
    rows, rng = low_rank(rank=8)
    query = rng.normal(size=rows.shape[0]) @ rows
    retrieval = np.zeros(rows.shape[1])
    listed = rng.permutation(rows.shape[1])[:30]
    retrieval[listed] = np.linspace(1.0, 0.0, len(listed))
    served = 0.5 * (query - query.min()) / np.ptp(query) + 0.5 * retrieval
    truth = set(np.argsort(-served)[:10].tolist())
    first = np.arange(0, 200, 25)
    _, alone = adaptive_cur(lambda items: query[items], rows, first, budget=40, rounds=4, k=10)
    _, by_served = adaptive_cur(lambda items: query[items], rows, first, budget=40, rounds=4, k=10,
                                retrieval=retrieval, model_weight=0.5)
    assert len(by_served) == 40 and truth <= set(by_served) and not truth <= set(alone)
