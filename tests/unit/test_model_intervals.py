"""The first baseline's own intervals come from one resampling of it, and equal what
bootstrapping it against itself gives (which the gate no longer does)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.quality.bootstrap import compare_models, model_intervals


@pytest.fixture
def pairs():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 300)
    gold = labels * 3 + rng.normal(0, 1, 300)
    scores = 0.3 * labels + rng.normal(0.5, 0.2, 300)
    return scores, gold, labels


def test_own_intervals_equal_a_comparison_with_itself(pairs):
    scores, gold, labels = pairs
    metrics = ["spearman", "pearson", "roc_auc", "average_precision", "f1", "fp_rate"]
    kwargs = dict(gold_scores=gold, labels=labels, n_resamples=200, seed=3)
    own = model_intervals(metrics, scores, threshold=0.6, **kwargs)
    twice = compare_models(
        metrics, scores, scores.copy(), candidate_threshold=0.6, baseline_threshold=0.6, **kwargs
    )
    assert list(own) == metrics
    assert own == twice


def test_own_intervals_are_real_intervals_around_the_point(pairs):
    scores, gold, labels = pairs
    own = model_intervals(["spearman", "roc_auc"], scores, gold_scores=gold, labels=labels)
    for row in own.values():
        low, high = row.candidate_ci
        assert low < row.candidate < high
        assert row.delta == 0.0 and row.delta_ci == (0.0, 0.0)


def test_own_intervals_validate_like_a_comparison(pairs):
    scores, _, labels = pairs
    with pytest.raises(ValueError, match="needs gold_scores"):
        model_intervals(["spearman"], scores, labels=labels)
    with pytest.raises(ValueError, match="needs labels, candidate_threshold"):
        model_intervals(["f1"], scores, labels=labels)
