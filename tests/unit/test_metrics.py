"""Unit tests for harness.quality.metrics: hand-checked examples and hypothesis properties."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
)

from harness.quality.metrics import (
    METRICS,
    Confusion,
    MetricSpec,
    ThresholdPolicy,
    best_f1_threshold,
    correlation_metrics,
    cosine_scores,
    ranking_metrics,
    recall_threshold,
    threshold_metrics,
)

RATES = ("accuracy", "precision", "recall", "f1", "fp_rate", "fn_rate")
FEW = settings(max_examples=60, deadline=None)


@st.composite
def scored_pairs(draw: st.DrawFn, min_size: int = 2, max_size: int = 30, both: bool = True):
    """Scores on a 0.1 grid (many ties; safe under monotone maps) and 0/1 labels."""
    n = draw(st.integers(min_size, max_size))
    scores = np.array(draw(st.lists(st.integers(-10, 10), min_size=n, max_size=n))) / 10
    labels = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if both:
        labels[0], labels[-1] = 1, 0
    return scores, labels


MONOTONE = [
    lambda x: 3 * x + 1,
    np.exp,
    np.arctan,
    lambda x: x**3 + x,
]


# --------------------------------------------------------------------------- examples


def test_cosine_scores_by_hand() -> None:
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [2.0, 0.0]])
    b = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [-3.0, 0.0]])
    got = cosine_scores(a, b)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, [0.0, 1 / math.sqrt(2), 0.0, -1.0], atol=1e-15)


def test_cosine_scores_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="one shape"):
        cosine_scores(np.ones((3, 2)), np.ones((2, 2)))


def test_correlation_by_hand() -> None:
    # Ranks differ by d = [0, 1, -1, 0]: Spearman = 1 - 6 * 2 / (4 * 15) = 0.8, and so Pearson
    # (the values are linear in their ranks).
    got = correlation_metrics([1.0, 2.0, 3.0, 4.0], [2.0, 6.0, 4.0, 8.0])
    assert got == pytest.approx({"spearman": 0.8, "pearson": 0.8}, abs=1e-12)


def test_correlation_undefined_for_constant_input() -> None:
    with pytest.raises(ValueError, match="all 3 scores are equal"):
        correlation_metrics([0.5, 0.5, 0.5], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="differ in length"):
        correlation_metrics([0.1, 0.2], [1.0, 2.0, 3.0])


def test_ranking_by_hand() -> None:
    # High to low: 0.8 (+), 0.4 (-), 0.35 (+), 0.1 (-). AUC: 3 of 4 (pos, neg) pairs ordered.
    # AP: precision at the positives 1/1 and 2/3 -> (1 + 2/3) / 2.
    got = ranking_metrics([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    assert got == pytest.approx({"roc_auc": 0.75, "average_precision": 5 / 6}, abs=1e-12)


def test_ranking_with_ties_by_hand() -> None:
    # The tied group {0.5+, 0.5-} counts as one step: precision 2/3 for the tied positive.
    got = ranking_metrics([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0])
    assert got["average_precision"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-12)
    assert got["roc_auc"] == pytest.approx(3.5 / 4, abs=1e-12)


@pytest.mark.parametrize("label", [0, 1])
def test_ranking_one_class_is_an_error(label: int) -> None:
    with pytest.raises(ValueError, match=f"ROC-AUC is undefined: all 4 labels are {label}"):
        ranking_metrics([0.1, 0.2, 0.3, 0.4], [label] * 4)


def test_threshold_metrics_by_hand() -> None:
    # Threshold 0.6 includes the pair scoring exactly 0.6 (>=, as the evaluator).
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    labels = [1, 1, 0, 1, 0, 0]
    got = threshold_metrics(scores, labels, 0.6)
    expected = {
        "tp": 3.0,
        "fp": 1.0,
        "tn": 2.0,
        "fn": 0.0,
        "accuracy": 5 / 6,
        "precision": 3 / 4,
        "recall": 1.0,
        "f1": 6 / 7,
        "mcc": 6 / math.sqrt(4 * 3 * 3 * 2),
        "fp_rate": 1 / 3,
        "fn_rate": 0.0,
    }
    assert got == pytest.approx(expected, abs=1e-12)


def test_threshold_metrics_zero_over_zero_is_zero() -> None:
    got = threshold_metrics([0.1, 0.2, 0.3], [1, 0, 1], 0.5)  # nothing predicted positive
    assert got["precision"] == 0.0 and got["f1"] == 0.0 and got["mcc"] == 0.0
    assert got["recall"] == 0.0 and got["fn_rate"] == 1.0 and got["fp_rate"] == 0.0
    got = threshold_metrics([0.1, 0.2], [1, 1], 0.0)  # no negatives: FP rate is 0/0
    assert got["fp_rate"] == 0.0 and got["mcc"] == 0.0 and got["accuracy"] == 1.0


def test_threshold_metrics_rejects_bad_labels() -> None:
    with pytest.raises(ValueError, match="0 or 1"):
        threshold_metrics([0.1, 0.2], [0, 2], 0.5)
    with pytest.raises(ValueError, match="one per score"):
        threshold_metrics([0.1, 0.2], [0, 1, 1], 0.5)
    with pytest.raises(ValueError, match="non-finite"):
        threshold_metrics([0.1, float("nan")], [0, 1], 0.5)


def test_confusion_matrix_layout() -> None:
    c = Confusion(tp=4, fp=3, tn=2, fn=1)
    assert c.as_matrix() == [[2, 3], [1, 4]]
    assert c.n == 10


def test_best_f1_threshold_by_hand() -> None:
    assert best_f1_threshold([0.9, 0.7, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(0.6)
    # The last group wins -> the lowest score itself, not a midpoint.
    assert best_f1_threshold([0.9, 0.8, 0.8, 0.3], [1, 0, 1, 1]) == 0.3
    # Equal F1 (2/3 at k=1 and k=4): the higher threshold wins, as in the evaluator.
    assert best_f1_threshold([4.0, 3.0, 2.0, 1.0], [1, 0, 0, 1]) == 3.5
    # No positives: the evaluator reports threshold 0.
    assert best_f1_threshold([0.4, 0.2], [0, 0]) == 0.0


def test_midpoint_is_computed_in_the_scores_dtype() -> None:
    s = np.array([0.3, 0.1], dtype=np.float32)
    assert best_f1_threshold(s, [1, 0]) == float((s[0] + s[1]) / 2)
    assert best_f1_threshold(np.array([0.3, 0.1]), [1, 0]) == (0.3 + 0.1) / 2


def test_rounded_midpoint_never_includes_the_next_group() -> None:
    s = np.array([1.0, np.nextafter(1.0, 0.0)])
    t = best_f1_threshold(s, [1, 0])
    assert threshold_metrics(s, [1, 0], t)["accuracy"] == 1.0


def test_recall_threshold_by_hand() -> None:
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    labels = [1, 0, 1, 1, 0]  # positives 0.9, 0.7, 0.6
    assert recall_threshold(scores, labels, 1 / 3) == 0.9
    assert recall_threshold(scores, labels, 0.5) == 0.7
    assert recall_threshold(scores, labels, 1.0) == 0.6


@pytest.mark.parametrize("target", [0.0, -0.1, 1.01])
def test_recall_threshold_rejects_bad_targets(target: float) -> None:
    with pytest.raises(ValueError, match="target_recall"):
        recall_threshold([0.1, 0.2], [0, 1], target)


def test_recall_threshold_needs_positives() -> None:
    with pytest.raises(ValueError, match="no positive labels"):
        recall_threshold([0.1, 0.2], [0, 0], 0.9)


def test_threshold_policy() -> None:
    scores, labels = [0.9, 0.7, 0.5, 0.1], [1, 1, 0, 0]
    assert ThresholdPolicy("fixed", 0.42).choose(scores, labels) == 0.42
    assert ThresholdPolicy("best_f1").choose(scores, labels) == pytest.approx(0.6)
    assert ThresholdPolicy("target_recall", 0.5).choose(scores, labels) == 0.9
    assert ThresholdPolicy("fixed", 0.42).describe() == "fixed threshold 0.42"
    assert ThresholdPolicy("best_f1").describe() == "best F1 on the calibration split"
    assert "recall >= 0.9" in ThresholdPolicy("target_recall", 0.9).describe()


@pytest.mark.parametrize(
    ("kind", "value", "match"),
    [
        ("fixed", None, "finite value"),
        ("fixed", float("nan"), "finite value"),
        ("best_f1", 0.5, "no value"),
        ("target_recall", None, "needs a value"),
        ("target_recall", 1.5, "target_recall"),
        ("best_accuracy", None, "kind must be"),
    ],
)
def test_threshold_policy_validation(kind: str, value: float | None, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ThresholdPolicy(kind, value)  # type: ignore[arg-type]


def test_threshold_policy_needs_both_classes_to_calibrate() -> None:
    with pytest.raises(ValueError, match="all 2 labels are 1"):
        ThresholdPolicy("best_f1").choose([0.2, 0.3], [1, 1])


def test_metric_registry() -> None:
    assert set(METRICS) == {
        "spearman",
        "pearson",
        "roc_auc",
        "average_precision",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "mcc",
        "fp_rate",
        "fn_rate",
    }
    assert all(name == spec.name for name, spec in METRICS.items())
    assert {n for n, s in METRICS.items() if not s.greater_is_better} == {"fp_rate", "fn_rate"}
    assert METRICS["spearman"].family == "graded"
    assert METRICS["roc_auc"].family == "ranking"
    assert METRICS["mcc"].family == "threshold"
    with pytest.raises(ValueError, match="family"):
        MetricSpec("x", "other", True)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties


@FEW
@given(scored_pairs(), st.sampled_from(MONOTONE))
def test_roc_auc_and_spearman_invariant_to_monotone_transform(data, f) -> None:
    scores, labels = data
    transformed = f(scores)
    auc = ranking_metrics(scores, labels)["roc_auc"]
    assert ranking_metrics(transformed, labels)["roc_auc"] == pytest.approx(auc, abs=1e-12)
    gold = labels + np.arange(labels.size) / 7  # any non-constant gold
    if np.ptp(scores) > 0:
        rho = correlation_metrics(scores, gold)["spearman"]
        assert correlation_metrics(transformed, gold)["spearman"] == pytest.approx(rho, abs=1e-12)


@FEW
@given(scored_pairs(min_size=1, both=False), st.integers(-11, 11))
# every prediction wrong: the two square roots of MCC's denominator rounded it to -1 - 2e-16
@example(data=(np.array([0.0, 0.0, -0.1, 0.0]), np.array([0, 0, 1, 0])), t=0)
def test_rates_in_unit_interval_and_counts_sum_to_n(data, t) -> None:
    scores, labels = data
    got = threshold_metrics(scores, labels, t / 10)
    for key in RATES:
        assert 0.0 <= got[key] <= 1.0, key
    assert -1.0 <= got["mcc"] <= 1.0
    assert got["tp"] + got["fp"] + got["tn"] + got["fn"] == labels.size


@FEW
@given(scored_pairs(min_size=1, both=False), st.integers(-11, 11))
def test_threshold_metrics_agree_with_sklearn(data, t) -> None:
    scores, labels = data
    pred = (scores >= t / 10).astype(int)
    got = threshold_metrics(scores, labels, t / 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on one-class input
        (tn, fp), (fn, tp) = confusion_matrix(labels, pred, labels=[0, 1])
        expected = {
            "accuracy": accuracy_score(labels, pred),
            "precision": precision_score(labels, pred, zero_division=0.0),
            "recall": recall_score(labels, pred, zero_division=0.0),
            "f1": f1_score(labels, pred, zero_division=0.0),
            "mcc": matthews_corrcoef(labels, pred),
            "fp_rate": fp / (fp + tn) if fp + tn else 0.0,
            "fn_rate": fn / (fn + tp) if fn + tp else 0.0,
            "tp": tp,
            "fp": fp,
            "tn": tn,
            "fn": fn,
        }
    assert got == pytest.approx(expected, abs=1e-12)


@FEW
@given(scored_pairs(min_size=1, both=False))
def test_best_f1_threshold_is_optimal(data) -> None:
    scores, labels = data
    candidates = [*np.unique(scores), np.inf]
    best_f1 = max(threshold_metrics(scores, labels, c)["f1"] for c in candidates)
    at_f1 = threshold_metrics(scores, labels, best_f1_threshold(scores, labels))
    assert at_f1["f1"] == pytest.approx(best_f1, abs=1e-12)


@FEW
@given(scored_pairs(), st.floats(0.01, 1.0))
def test_recall_threshold_is_the_highest_meeting_the_target(data, target) -> None:
    scores, labels = data
    t = recall_threshold(scores, labels, target)
    assert threshold_metrics(scores, labels, t)["recall"] >= target
    assert threshold_metrics(scores, labels, np.nextafter(t, np.inf))["recall"] < target
