"""The one-sided Clopper-Pearson upper bound and the error bounds of a confusion matrix."""

from __future__ import annotations

import json

import pytest
from scipy.stats import binomtest

from harness.quality.error_bounds import ErrorBounds, upper_bound
from harness.quality.metrics import Confusion


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("k, n", [(0, 1), (0, 40), (1, 40), (3, 17), (12, 250), (99, 100)])
def test_upper_bound_is_the_upper_end_of_the_exact_two_sided_interval(k, n, confidence):
    # a one-sided bound at c is the upper end of the two-sided exact interval at 2c - 1
    exact = binomtest(k, n).proportion_ci(confidence_level=2 * confidence - 1, method="exact")
    assert upper_bound(k, n, confidence) == pytest.approx(exact.high, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("n", [10, 30, 100, 1000])
def test_no_errors_gives_the_textbook_bound(n):
    # with k = 0 the bound solves (1 - p)^n = 1 - c: 1 - 0.05^(1/n), about 3/n (rule of three)
    assert upper_bound(0, n) == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-12)
    assert upper_bound(0, 30) == pytest.approx(0.0950, abs=5e-5)  # the tabulated value


def test_bounds_lie_above_the_observed_rate_and_grow_with_confidence():
    assert 5 / 40 < upper_bound(5, 40, 0.9) < upper_bound(5, 40, 0.95) < upper_bound(5, 40, 0.99)


def test_edge_cases():
    assert upper_bound(7, 7) == 1.0
    assert upper_bound(0, 0) is None
    for k, n in [(-1, 5), (6, 5)]:
        with pytest.raises(ValueError, match="0 <= k <= n"):
            upper_bound(k, n)
    with pytest.raises(ValueError, match="confidence"):
        upper_bound(1, 5, confidence=1.0)


def test_error_bounds_from_a_confusion_matrix():
    bounds = ErrorBounds.from_confusion(Confusion(tp=45, fp=3, tn=37, fn=5), confidence=0.95)
    data = bounds.to_dict()
    assert data == {
        "fp": {"count": 3, "total": 40, "rate": 3 / 40, "upper": upper_bound(3, 40)},
        "fn": {"count": 5, "total": 50, "rate": 5 / 50, "upper": upper_bound(5, 50)},
        "confidence": 0.95,
        "method": "Clopper-Pearson, one-sided",
    }
    assert all(type(data[k]["upper"]) is float for k in ("fp", "fn"))
    json.dumps(data, allow_nan=False)


def test_a_class_that_is_absent_has_no_rate():
    data = ErrorBounds.from_confusion(Confusion(tp=0, fp=2, tn=8, fn=0)).to_dict()
    assert data["fn"] == {"count": 0, "total": 0, "rate": None, "upper": None}
    json.dumps(data, allow_nan=False)
