"""Metrics per slice, and the paired permutation test (Holm-adjusted) over slices x metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.quality.bootstrap import compare_models, model_intervals
from harness.quality.pairs import PairDataset
from harness.quality.slices import (
    holm,
    needed_permutations,
    permutation_test,
    slice_comparisons,
    slice_intervals,
    slice_test,
)

N_SLICES, PER_SLICE, BROKEN = 10, 29, "s03"
METRICS = ["spearman", "roc_auc"]  # 10 slices x 2 metrics = 20 comparisons


def synthetic(seed: int, *, noise: str = "own", broken: bool = False):
    """Ten slices of 29 labelled pairs with gold scores and two models' cosine scores.

    Positives score about N(0.7, 0.1), negatives N(0.4, 0.1), a little higher with the gold
    score. noise="own": the two models are equally good (the same scores, each with its own
    N(0, 0.02) noise); noise="jitter": the candidate is the baseline plus N(0, 0.005).
    broken: the candidate's scores on slice s03 collapse to N(0.55, 0.1), whatever the label.
    """
    rng = np.random.default_rng(seed)
    n = N_SLICES * PER_SLICE
    labels = np.tile(np.r_[np.ones(14), np.zeros(15)], N_SLICES).astype(np.int64)
    gold = np.where(labels == 1, rng.uniform(3, 5, n), rng.uniform(0, 3, n))
    true = np.where(labels == 1, rng.normal(0.7, 0.1, n), rng.normal(0.4, 0.1, n))
    true += 0.03 * (gold - 2.5)
    if noise == "own":
        base, cand = true + rng.normal(0, 0.02, n), true + rng.normal(0, 0.02, n)
    else:
        base, cand = true, true + rng.normal(0, 0.005, n)
    names = [f"s{i:02d}" for i in range(N_SLICES) for _ in range(PER_SLICE)]
    if broken:
        rows = np.flatnonzero(np.array(names) == BROKEN)
        cand[rows] = rng.normal(0.55, 0.1, rows.size)
    data = PairDataset.build(
        "synthetic",
        "synthetic.jsonl",
        [f"question {i}" for i in range(n)],
        [f"answer {i}" for i in range(n)],
        scores=gold,
        labels=labels,
        slices=names,
    )
    return data, cand, base


# --------------------------------------------------------------------------- the slice gate


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fires_on_the_one_broken_slice_among_ten(seed):
    data, cand, base = synthetic(seed, broken=True)
    # 50 permutations could never reach 0.05 / 20: the test raises them to what is needed
    result = slice_test(data, cand, base, metrics=METRICS, n_permutations=50, seed=seed)
    assert result.n_comparisons == 20
    assert result.n_permutations == needed_permutations(20, 0.05) == 4000
    worse = {(row.slice, row.metric): row for row in result.worse}
    # (another slice may show up now and then: Holm keeps that below alpha, see the noise tests)
    assert {(BROKEN, "spearman"), (BROKEN, "roc_auc")} <= set(worse)
    assert worse[BROKEN, "spearman"].improvement < -0.3
    assert worse[BROKEN, "roc_auc"].improvement < -0.2


@pytest.mark.parametrize("seed", [1, 2])
def test_fires_when_the_candidate_scores_on_another_scale(seed):
    # the candidate's scores squeezed into [0.8, 1], as an anisotropic model's are: swapping raw
    # scores between the two scales would blur the test until it misses the broken slice
    data, cand, base = synthetic(seed, broken=True)
    squeezed = 0.8 + 0.2 * (cand - cand.min()) / np.ptp(cand)
    result = slice_test(data, squeezed, base, metrics=METRICS, seed=seed)
    flagged = {(row.slice, row.metric) for row in result.worse}
    assert {(BROKEN, "spearman"), (BROKEN, "roc_auc")} <= flagged


@pytest.mark.parametrize("noise", ["own", "jitter"])
@pytest.mark.parametrize("seed", [10, 11, 12, 13])
def test_silent_on_noise(seed, noise):
    data, cand, base = synthetic(seed, noise=noise)
    result = slice_test(data, cand, base, metrics=METRICS, alpha=0.05, seed=seed)
    assert result.n_comparisons == 20
    assert result.worse == [], [(r.slice, r.metric, r.p_value) for r in result.worse]


def test_report_shape():
    data, cand, base = synthetic(0, broken=True)
    data_dict = slice_test(data, cand, base, metrics=METRICS, n_permutations=5000).to_dict()
    assert json.loads(json.dumps(data_dict, allow_nan=False)) == data_dict
    assert data_dict["n_permutations"] == 5000  # more than needed: the configured number
    assert (data_dict["n_comparisons"], data_dict["alpha"]) == (20, 0.05)
    assert "permutation" in data_dict["method"] and "Holm" in data_dict["method"]
    assert [(r["slice"], r["metric"]) for r in data_dict["rows"][:3]] == [
        ("s00", "spearman"),
        ("s00", "roc_auc"),
        ("s01", "spearman"),
    ]
    assert set(data_dict["rows"][0]) == {
        "slice", "metric", "improvement", "p_value", "p_adjusted", "significantly_worse",
    }
    assert data_dict["worse"] == [
        {"slice": BROKEN, "metric": "spearman"},
        {"slice": BROKEN, "metric": "roc_auc"},
    ]


def test_a_one_class_slice_is_not_tested_on_roc_auc():
    data, cand, base = synthetic(0)
    labels = np.array(data.labels)
    labels[np.array(data.slices) == "s05"] = 1
    one_class = PairDataset.build(
        data.name, data.path, data.sentence1, data.sentence2,
        scores=data.scores, labels=labels, slices=data.slices,
    )
    result = slice_test(one_class, cand, base, metrics=METRICS)
    assert result.n_comparisons == 19
    assert ("s05", "roc_auc") not in {(r.slice, r.metric) for r in result.rows}


# --------------------------------------------------------------------------- permutation test


def test_p_value_floor_is_one_over_n_plus_one():
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(20), np.zeros(20)]
    base = labels + rng.normal(0, 0.1, 40)  # perfect separation
    cand = -base  # the ranking reversed: every permutation is better than it
    for n in (9, 99, 999):
        p = permutation_test(cand, base, metric="roc_auc", labels=labels, n_permutations=n)
        assert p == 1 / (n + 1)


def test_identical_ranks_give_p_one_whatever_the_scale():
    rng = np.random.default_rng(1)
    labels = np.r_[np.ones(15), np.zeros(14)]
    gold = labels * 2 + rng.uniform(0, 2, 29)
    base = 0.4 + 0.3 * labels + rng.normal(0, 0.1, 29)
    cand = 3 * base - 1  # another scale, the same order and the same decisions
    for metric in ("spearman", "roc_auc", "average_precision"):
        p = permutation_test(
            cand, base, metric=metric, gold_scores=gold, labels=labels, n_permutations=200
        )
        assert p == 1.0, metric
    p = permutation_test(
        cand, base, metric="fp_rate", labels=labels, candidate_threshold=3 * 0.55 - 1,
        baseline_threshold=0.55, n_permutations=200,
    )
    assert p == 1.0


def test_p_values_are_valid_under_the_null():
    # two equally good models: P(p <= 0.05) must not exceed 0.05 beyond sampling error
    rng = np.random.default_rng(2)
    labels = np.r_[np.ones(14), np.zeros(15)]
    p_values = []
    for seed in range(400):
        true = 0.4 + 0.3 * labels + rng.normal(0, 0.1, 29)
        base, cand = true + rng.normal(0, 0.05, 29), true + rng.normal(0, 0.05, 29)
        p_values.append(
            permutation_test(cand, base, metric="roc_auc", labels=labels, n_permutations=199,
                             seed=seed)
        )
    share = np.mean(np.array(p_values) <= 0.05)
    assert share <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 400)  # 3 standard errors


def test_a_worse_candidate_on_pearson_and_threshold_metrics():
    rng = np.random.default_rng(3)
    labels = np.r_[np.ones(30), np.zeros(30)]
    gold = labels * 3 + rng.uniform(0, 2, 60)
    base = 0.4 + 0.3 * labels + rng.normal(0, 0.05, 60)
    cand = rng.normal(0.55, 0.1, 60)
    kwargs = dict(gold_scores=gold, labels=labels, n_permutations=999,
                  candidate_threshold=0.55, baseline_threshold=0.55)
    assert permutation_test(cand, base, metric="pearson", **kwargs) < 0.01
    assert permutation_test(cand, base, metric="accuracy", **kwargs) < 0.01
    assert permutation_test(cand, base, metric="fp_rate", **kwargs) < 0.05
    # the other way round the candidate is better: nothing to report
    assert permutation_test(base, cand, metric="accuracy", **kwargs) > 0.5


def test_an_undefined_metric_is_refused():
    with pytest.raises(ValueError, match="undefined"):
        permutation_test([0.1, 0.2], [0.3, 0.1], metric="roc_auc", labels=[1, 1])
    with pytest.raises(ValueError, match="needs labels"):
        permutation_test([0.1, 0.2], [0.3, 0.1], metric="roc_auc")


# --------------------------------------------------------------------------- Holm, permutations


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    # the values statsmodels' multipletests(..., method="holm") gives
    np.testing.assert_allclose(
        holm([0.01, 0.02, 0.03, 0.04, 0.05]), [0.05, 0.08, 0.09, 0.09, 0.09]
    )
    np.testing.assert_allclose(holm([0.3, 0.9, 0.02]), [0.6, 0.9, 0.06])
    assert holm([0.5, 0.6]).tolist() == [1.0, 1.0]  # capped at 1
    assert holm([0.04]).tolist() == [0.04]
    assert holm([]).shape == (0,)


def test_holm_lies_between_the_raw_and_the_bonferroni_p_values():
    p = np.random.default_rng(4).uniform(0, 0.2, 30)
    adjusted = holm(p)
    assert np.all(adjusted >= p) and np.all(adjusted <= np.minimum(1, 30 * p))
    order = np.argsort(p)
    assert np.all(np.diff(adjusted[order]) >= 0)


@pytest.mark.parametrize("m", [1, 2, 7, 20, 64])
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
def test_needed_permutations_put_the_smallest_adjusted_p_below_alpha(m, alpha):
    n = needed_permutations(m, alpha)
    assert m / (n + 1) < alpha / 10 <= m / n  # the smallest such n, with the factor of 10
    assert needed_permutations(m, alpha, safety=1) < n
    assert m / (needed_permutations(m, alpha, safety=1) + 1) < alpha


def test_needed_permutations_values():
    assert needed_permutations(20, 0.05) == 4000
    assert needed_permutations(20, 0.05, safety=1) == 400  # 20 / 401 < 0.05 = 20 / 400


# --------------------------------------------------------------------------- bootstrap per slice


def test_slice_comparisons_are_compare_models_on_each_slice():
    data, cand, base = synthetic(5)
    rows = slice_comparisons(
        data, cand, base, metrics=["spearman", "roc_auc", "f1"], candidate_threshold=0.55,
        baseline_threshold=0.55, n_resamples=50, seed=3,
    )
    assert [r.slice for r in rows] == sorted({*data.slices})
    mask = np.array(data.slices) == "s04"
    expected = compare_models(
        ["spearman", "roc_auc", "f1"], cand[mask], base[mask], gold_scores=data.scores[mask],
        labels=data.labels[mask], candidate_threshold=0.55, baseline_threshold=0.55,
        n_resamples=50, seed=3,
    )
    assert rows[4].metrics == expected and rows[4].n_pairs == 29 and rows[4].undefined == ()
    own = slice_intervals(data, base, metrics=["roc_auc"], n_resamples=50, seed=3)
    assert own[4].metrics == model_intervals(
        ["roc_auc"], base[mask], labels=data.labels[mask], n_resamples=50, seed=3
    )
    entry = rows[4].to_dict()
    assert json.loads(json.dumps(entry, allow_nan=False)) == entry
    assert set(entry["metrics"]["spearman"]) == {"value", "ci", "baseline", "delta", "delta_ci"}


def test_a_metric_a_slice_cannot_define_is_left_out():
    data = PairDataset.build(
        "tiny", "tiny.jsonl", list("abcdef"), list("ghijkl"),
        labels=[1, 0, 1, 1, 1, 0], slices=["x", "x", "y", "y", "y", "x"],
    )
    cand = np.array([0.9, 0.2, 0.8, 0.7, 0.6, 0.3])
    rows = slice_comparisons(data, cand, cand + 0.01, metrics=["roc_auc"], n_resamples=20)
    assert [(r.slice, list(r.metrics), r.undefined) for r in rows] == [
        ("x", ["roc_auc"], ()),
        ("y", [], ("roc_auc",)),
    ]
    assert rows[1].to_dict()["undefined"] == ["roc_auc"]


def test_missing_columns_are_refused():
    data, cand, base = synthetic(0)
    no_slices = PairDataset.build("d", "d.jsonl", data.sentence1, data.sentence2,
                                  labels=data.labels)
    with pytest.raises(ValueError, match="no slice column"):
        slice_test(no_slices, cand, base, metrics=["roc_auc"])
    with pytest.raises(ValueError, match="threshold"):
        slice_test(data, cand, base, metrics=["f1"])
