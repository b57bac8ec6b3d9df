"""Unit tests for harness.quality.bootstrap: paired bootstrap, batch metrics and the comparison
verdict."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score

from harness.checkpoint.tolerances import identical_scores_atol
from harness.quality.bootstrap import (
    MetricComparison,
    batch_average_precision,
    batch_pearson,
    batch_roc_auc,
    batch_threshold_metrics,
    bootstrap_indices,
    compare_models,
    identical_to_baseline,
    max_score_difference,
)
from harness.quality.metrics import METRICS, correlation_metrics, ranking_metrics, threshold_metrics

ALL = list(METRICS)
FEW = settings(max_examples=50, deadline=None)


def synthetic(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gold scores in [0, 5], labels gold >= 2.5, and model scores = gold / 5 + noise."""
    rng = np.random.default_rng(seed)
    gold = rng.uniform(0, 5, n)
    labels = (gold >= 2.5).astype(int)
    scores = gold / 5 + rng.normal(0, noise, n)
    return gold, labels, scores


def run(metrics: list[str], cand, base, gold, labels, **kwargs) -> dict[str, MetricComparison]:
    return compare_models(
        metrics,
        cand,
        base,
        gold_scores=gold,
        labels=labels,
        candidate_threshold=kwargs.pop("candidate_threshold", 0.5),
        baseline_threshold=kwargs.pop("baseline_threshold", 0.5),
        **kwargs,
    )


@st.composite
def batches(draw: st.DrawFn):
    """(scores, labels, gold) matrices, shape (rows, n); scores on a coarse grid (ties)."""
    rows = draw(st.integers(1, 4))
    n = draw(st.integers(2, 15))
    grid = draw(st.sampled_from([4, 20, 10_000]))  # many ties ... practically none
    ints = st.lists(st.integers(0, grid), min_size=n, max_size=n)
    scores = np.array([draw(ints) for _ in range(rows)]) / grid
    gold = np.array([draw(ints) for _ in range(rows)]) / grid
    labels = np.array(
        [draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)) for _ in range(rows)]
    )
    labels[:, 0], labels[:, -1] = 1, 0  # both classes in every row
    return scores, labels, gold


# --------------------------------------------------------------------------- resampling


def test_bootstrap_indices_shape_seed_and_strata() -> None:
    labels = np.array([1, 0, 0, 1, 0, 0, 0])
    idx = bootstrap_indices(7, 50, seed=3, labels=labels)
    assert idx.shape == (50, 7)
    assert np.array_equal(idx, bootstrap_indices(7, 50, seed=3, labels=labels))
    assert not np.array_equal(idx, bootstrap_indices(7, 50, seed=4, labels=labels))
    assert np.all(labels[idx].sum(axis=1) == 2)  # class counts kept in every resample
    assert np.all(labels[idx[:, :2]] == 1) and np.all(labels[idx[:, 2:]] == 0)
    plain = bootstrap_indices(7, 50, seed=3)
    assert plain.shape == (50, 7) and plain.min() >= 0 and plain.max() < 7


def test_bootstrap_indices_rejects_zero_resamples() -> None:
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_indices(5, 0)


# --------------------------------------------------------------------------- batch metrics


@FEW
@given(batches())
# constant gold whose mean rounds off it: the centred row held 1e-18 residues, not zeros
@example(data=(np.array([[0.0, 0.0, 0.05]]), np.array([[1, 0, 0]]), np.array([[0.05] * 3])))
def test_batch_metrics_equal_scalar_metrics_row_by_row(data) -> None:
    scores, labels, gold = data
    # Spearman as compare_models computes it on resamples: Pearson of the rows' ranks
    spearman = batch_pearson(rankdata(scores, axis=1), rankdata(gold, axis=1))
    pearson = batch_pearson(scores, gold)
    auc, ap = batch_roc_auc(scores, labels), batch_average_precision(scores, labels)
    threshold = float(np.median(scores))
    thr = batch_threshold_metrics(scores, labels, threshold)
    for i in range(scores.shape[0]):
        if np.ptp(scores[i]) > 0 and np.ptp(gold[i]) > 0:
            corr = correlation_metrics(scores[i], gold[i])
            assert spearman[i] == pytest.approx(corr["spearman"], abs=1e-9)
            assert pearson[i] == pytest.approx(corr["pearson"], abs=1e-9)
        else:
            assert np.isnan(spearman[i]) and np.isnan(pearson[i])
        rank = ranking_metrics(scores[i], labels[i])
        assert auc[i] == pytest.approx(rank["roc_auc"], abs=1e-12)
        assert ap[i] == pytest.approx(rank["average_precision"], abs=1e-12)  # ties included
        scalar = threshold_metrics(scores[i], labels[i], threshold)
        assert {k: v[i] for k, v in thr.items()} == pytest.approx(scalar, abs=1e-12)


def test_batch_average_precision_tie_handling_by_hand() -> None:
    # One tied group {0.5+, 0.5-}: sklearn's step gives the tied positive precision 2/3.
    scores = np.array([[0.9, 0.5, 0.5, 0.1], [0.9, 0.6, 0.5, 0.1]])
    labels = np.array([[1, 1, 0, 0], [1, 1, 0, 0]])
    got = batch_average_precision(scores, labels)
    np.testing.assert_allclose(got, [(1 + 2 / 3) / 2, 1.0], atol=1e-15)
    for i in range(2):
        assert got[i] == pytest.approx(average_precision_score(labels[i], scores[i]), abs=1e-15)


def test_batch_metrics_on_a_real_sized_matrix_match_sklearn() -> None:
    gold, labels, scores = synthetic(300, 0.3, seed=1)
    idx = bootstrap_indices(300, 20, seed=0, labels=labels)
    ap = batch_average_precision(scores[idx], labels[idx])
    auc = batch_roc_auc(scores[idx], labels[idx])
    for i in range(20):
        expected = ranking_metrics(scores[idx[i]], labels[idx[i]])
        assert ap[i] == pytest.approx(expected["average_precision"], abs=1e-9)
        assert auc[i] == pytest.approx(expected["roc_auc"], abs=1e-12)


# --------------------------------------------------------------------------- comparison


def comparison(delta_ci: tuple[float, float], greater_is_better: bool) -> MetricComparison:
    return MetricComparison(
        metric="x",
        candidate=0.5,
        baseline=0.4,
        delta=0.1,
        delta_ci=delta_ci,
        candidate_ci=(0.45, 0.55),
        baseline_ci=(0.35, 0.45),
        confidence=0.95,
        n_resamples=100,
        greater_is_better=greater_is_better,
    )


def test_improvement_interval_orientation_and_beats() -> None:
    up = comparison((0.02, 0.2), greater_is_better=True)
    assert up.improvement_ci == (0.02, 0.2) and up.improvement == 0.1
    assert up.beats(0.0) and up.beats(0.01) and not up.beats(0.02)
    down = comparison((0.02, 0.2), greater_is_better=False)  # e.g. fp_rate went up: worse
    assert down.improvement_ci == (-0.2, -0.02) and down.improvement == -0.1
    assert not down.beats(0.0)
    better_fp = comparison((-0.2, -0.02), greater_is_better=False)
    assert better_fp.improvement_ci == (0.02, 0.2) and better_fp.beats(0.0)


def test_clear_improvement_beats_baseline() -> None:
    gold, labels, base = synthetic(400, 0.35, seed=0)
    rng = np.random.default_rng(9)
    cand = gold / 5 + rng.normal(0, 0.15, 400)
    res = run(ALL, cand, base, gold, labels, n_resamples=300)
    assert list(res) == ALL  # in the order asked
    for name in ("spearman", "pearson", "roc_auc", "average_precision", "f1", "mcc"):
        assert res[name].delta > 0 and res[name].beats(0.0), name
    assert res["fp_rate"].improvement_ci[0] > 0 and res["fp_rate"].delta_ci[1] < 0


def test_noise_does_not_beat_the_baseline() -> None:
    # "Beating" by about 0.001: the candidate is the baseline plus a tiny perturbation.
    gold, labels, base = synthetic(1000, 0.3, seed=2)
    cand = base + np.random.default_rng(5).normal(0, 0.01, 1000)
    res = run(["spearman", "roc_auc"], cand, base, gold, labels, n_resamples=500)
    for name in ("spearman", "roc_auc"):
        assert abs(res[name].delta) < 0.005
        low, high = res[name].delta_ci
        assert low < 0 < high and not res[name].beats(0.0)
        assert not res[name].beats(0.001)


def test_much_worse_fp_rate_is_reported_as_negative_improvement() -> None:
    # A candidate whose scores are all shifted up calls most negatives positive.
    gold, labels, base = synthetic(500, 0.2, seed=3)
    res = run(["fp_rate"], base + 0.4, base, gold, labels, n_resamples=300)["fp_rate"]
    assert res.candidate > 0.6 and res.baseline < 0.25
    assert res.delta > 0 and res.improvement < 0 and res.improvement_ci[1] < 0
    assert not res.beats(0.0)


def test_graded_only_comparison_needs_no_labels() -> None:
    gold, _, base = synthetic(100, 0.3, seed=4)
    res = compare_models(["spearman", "pearson"], base * 2, base, gold_scores=gold, n_resamples=50)
    assert res["spearman"].delta == 0.0  # scaling keeps ranks
    assert res["spearman"].delta_ci == (0.0, 0.0)


def test_point_estimates_are_the_scalar_metrics() -> None:
    gold, labels, base = synthetic(200, 0.3, seed=6)
    cand = base + np.random.default_rng(1).normal(0, 0.1, 200)
    res = run(ALL, cand, base, gold, labels, n_resamples=20, candidate_threshold=0.45)
    assert res["spearman"].candidate == correlation_metrics(cand, gold)["spearman"]
    assert res["average_precision"].baseline == ranking_metrics(base, labels)["average_precision"]
    assert res["mcc"].candidate == threshold_metrics(cand, labels, 0.45)["mcc"]
    assert res["mcc"].baseline == threshold_metrics(base, labels, 0.5)["mcc"]
    for r in res.values():
        assert r.delta == r.candidate - r.baseline
        assert r.n_resamples == 20 and r.confidence == 0.95


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_resamples": 0}, "n_resamples"),
        ({"confidence": 1.0}, "confidence"),
        ({"metrics": ["spearman", "ndcg"]}, "unknown metrics"),
        ({"metrics": []}, "no metrics"),
        ({"metrics": ["spearman"], "gold_scores": None}, "'spearman' .* needs gold_scores"),
        ({"metrics": ["roc_auc"], "labels": None}, "'roc_auc' .* needs labels"),
        ({"metrics": ["fp_rate"], "baseline_threshold": None}, "'fp_rate' .* baseline_threshold"),
        ({"baseline_scores": np.zeros(9)}, "candidate has 10 scores but baseline has 9"),
        ({"gold_scores": np.zeros(11)}, "gold_scores has 11"),
        ({"labels": np.zeros(3)}, "labels has shape"),
    ],
)
def test_compare_models_errors(kwargs: dict, match: str) -> None:
    gold, labels, scores = synthetic(10, 0.3, seed=0)
    args = {
        "metrics": ["spearman", "roc_auc", "fp_rate"],
        "candidate_scores": scores,
        "baseline_scores": scores,
        "gold_scores": gold,
        "labels": labels,
        "candidate_threshold": 0.5,
        "baseline_threshold": 0.5,
        "n_resamples": 10,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        compare_models(**args)


def test_identical_to_baseline_within_the_noise_tolerance() -> None:
    """1e-7 is float noise (identical at the float32 CPU tolerance, not at bit equality); a
    real change of 1e-4 on one pair is not identical."""
    atol = identical_scores_atol("float32", "cpu")
    base = np.array([0.1, 0.5, 0.9])
    noise = base + np.array([0, 1e-7, 0])
    assert identical_to_baseline(base.copy(), base, atol=0.0)
    assert identical_to_baseline(noise, base, atol=atol)
    assert not identical_to_baseline(noise, base, atol=0.0)
    assert not identical_to_baseline(base + np.array([0, 1e-4, 0]), base, atol=atol)
    assert max_score_difference(noise, base) == pytest.approx(1e-7)
    assert not identical_to_baseline(base[:2], base, atol=atol)


# --------------------------------------------------------------------------- properties


@FEW
@given(st.integers(0, 2**32 - 1), st.integers(20, 80), st.integers(1, 60))
def test_identical_models_have_zero_delta_and_interval(seed: int, n: int, n_resamples: int) -> None:
    gold, labels, scores = synthetic(n, 0.3, seed)
    labels[0], labels[1] = 1, 0
    res = run(ALL, scores, scores.copy(), gold, labels, n_resamples=n_resamples, seed=seed)
    for r in res.values():
        assert r.delta == 0.0 and r.delta_ci == (0.0, 0.0), r.metric
        assert r.candidate_ci == r.baseline_ci
        assert not r.beats(0.0)


@FEW
@given(st.integers(0, 2**32 - 1), st.floats(0.1, 0.5), st.floats(0.1, 0.5))
def test_interval_contains_point_estimate(seed: int, noise_c: float, noise_b: float) -> None:
    gold, labels, base = synthetic(150, noise_b, seed)
    cand = gold / 5 + np.random.default_rng(seed + 1).normal(0, noise_c, 150)
    res = run(ALL, cand, base, gold, labels, n_resamples=200, seed=seed)
    for r in res.values():
        assert r.candidate_ci[0] <= r.candidate <= r.candidate_ci[1], r.metric
        assert r.baseline_ci[0] <= r.baseline <= r.baseline_ci[1], r.metric
        assert r.delta_ci[0] <= r.delta <= r.delta_ci[1], r.metric


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_same_seed_gives_same_intervals(seed: int) -> None:
    gold, labels, base = synthetic(60, 0.3, seed=1)
    cand = base + np.random.default_rng(2).normal(0, 0.05, 60)
    first = run(ALL, cand, base, gold, labels, n_resamples=50, seed=seed)
    second = run(ALL, cand, base, gold, labels, n_resamples=50, seed=seed)
    assert first == second
    other = run(ALL, cand, base, gold, labels, n_resamples=50, seed=seed + 1)
    assert any(other[k].delta_ci != first[k].delta_ci for k in ALL)
