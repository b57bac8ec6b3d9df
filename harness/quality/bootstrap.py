"""Candidate vs baseline on the same pairs: paired bootstrap confidence intervals.

One matrix of resample indices, shape ``(n_resamples, n)``, drawn from
``np.random.default_rng(seed)``, is applied to both models' scores (a paired bootstrap), so
the interval of ``candidate - baseline`` reflects only how the two models differ on the same
pairs. When binary labels are given the resampling is stratified: positives and negatives are
resampled separately, keeping their counts, so every resample has both classes and ROC-AUC,
average precision and the rates are always defined. Intervals are percentile intervals.

Metrics are computed for all resamples at once (``batch_*``); each batch function equals the
scalar metric in :mod:`harness.quality.metrics` on every row. Threshold metrics use a FIXED
threshold per model (chosen beforehand on a calibration split), so their intervals do not
include the uncertainty of choosing the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata

from harness.quality.metrics import (
    METRICS,
    correlation_metrics,
    ranking_metrics,
    rates_from_counts,
    threshold_metrics,
)

__all__ = [
    "MetricComparison",
    "batch_average_precision",
    "batch_pearson",
    "batch_roc_auc",
    "batch_threshold_metrics",
    "bootstrap_indices",
    "check_resampling",
    "compare_models",
    "identical_to_baseline",
    "max_score_difference",
    "model_intervals",
    "percentile_interval",
]


# --------------------------------------------------------------------------- resampling


def bootstrap_indices(
    n: int, n_resamples: int, seed: int = 0, labels: ArrayLike | None = None
) -> np.ndarray:
    """Resample indices, shape ``(n_resamples, n)``, from ``np.random.default_rng(seed)``.

    With ``labels``, stratified: the first ``n_pos`` columns resample the positives and the
    rest the negatives, so each row keeps the class counts of the data.
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if n < 1:
        raise ValueError(f"cannot resample {n} pairs")
    rng = np.random.default_rng(seed)
    if labels is None:
        return rng.integers(0, n, size=(n_resamples, n))
    y = np.asarray(labels)
    if y.shape != (n,):
        raise ValueError(f"labels must have {n} entries, got shape {y.shape}")
    idx = np.empty((n_resamples, n), dtype=np.int64)
    start = 0
    for cls in (1, 0):
        members = np.flatnonzero(y == cls)
        if members.size:
            draws = rng.integers(0, members.size, size=(n_resamples, members.size))
            idx[:, start : start + members.size] = members[draws]
            start += members.size
    return idx


# --------------------------------------------------------------------------- batch metrics


def _rows(x: ArrayLike) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"batch metrics take (n_resamples, n) arrays, got shape {arr.shape}")
    return arr


def batch_pearson(x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Pearson correlation of each row of ``x`` with the same row of ``y`` (NaN if constant)."""
    x, y = _rows(x), _rows(y)
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    num = np.einsum("ij,ij->i", xc, yc)
    den = np.sqrt(np.einsum("ij,ij->i", xc, xc)) * np.sqrt(np.einsum("ij,ij->i", yc, yc))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / den
    # a constant row whose mean rounds off it leaves residues of 1e-18, not zeros: NaN by value
    r[(np.ptp(x, axis=1) == 0) | (np.ptp(y, axis=1) == 0)] = np.nan
    return np.clip(r, -1.0, 1.0)


def _check_batch_labels(scores: np.ndarray, labels: np.ndarray) -> None:
    if scores.shape != labels.shape:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} differ in shape")


def batch_roc_auc(
    scores: ArrayLike, labels: ArrayLike, *, ranks: np.ndarray | None = None
) -> np.ndarray:
    """ROC-AUC per row from the Mann-Whitney U statistic (ties count one half, as sklearn).

    ``ranks`` may pass precomputed ``rankdata(scores, axis=1)``. NaN for a one-class row.
    """
    s, y = _rows(scores), _rows(labels)
    _check_batch_labels(s, y)
    r = rankdata(s, axis=1) if ranks is None else ranks
    n_pos = y.sum(axis=1)
    n_neg = y.shape[1] - n_pos
    u = np.einsum("ij,ij->i", r, y) - n_pos * (n_pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return u / (n_pos * n_neg)


def batch_average_precision(scores: ArrayLike, labels: ArrayLike) -> np.ndarray:
    """Average precision per row, with sklearn's handling of tied scores (exact).

    AP = sum over positives of the precision at the END of that positive's group of tied
    scores (scores sorted high to low), divided by the number of positives: the step
    integral sklearn's ``average_precision_score`` computes. NaN for a row with no positives.
    """
    s, y = _rows(scores), _rows(labels)
    _check_batch_labels(s, y)
    n = s.shape[1]
    order = np.argsort(-s, axis=1, kind="stable")
    s_sorted = np.take_along_axis(s, order, axis=1)
    y_sorted = np.take_along_axis(y, order, axis=1)
    tp = np.cumsum(y_sorted, axis=1)
    is_end = np.ones_like(s_sorted, dtype=bool)
    is_end[:, :-1] = s_sorted[:, :-1] != s_sorted[:, 1:]
    # For each position, the index of the last member of its tie group.
    cols = np.broadcast_to(np.arange(n), s.shape)
    end_idx = np.minimum.accumulate(np.where(is_end, cols, n)[:, ::-1], axis=1)[:, ::-1]
    precision_at_end = np.take_along_axis(tp, end_idx, axis=1) / (end_idx + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.einsum("ij,ij->i", y_sorted, precision_at_end) / tp[:, -1]


def batch_threshold_metrics(
    scores: ArrayLike, labels: ArrayLike, threshold: float
) -> dict[str, np.ndarray]:
    """Threshold metrics per row, predicted positive iff ``score >= threshold``; 0/0 is 0.0.

    Keys as :func:`harness.quality.metrics.threshold_metrics`, including the counts tp, fp, tn, fn.
    """
    s, y = _rows(scores), _rows(labels)
    _check_batch_labels(s, y)
    pred = s >= threshold
    pos = y == 1
    tp = np.count_nonzero(pred & pos, axis=1)
    fp = np.count_nonzero(pred & ~pos, axis=1)
    fn = np.count_nonzero(~pred & pos, axis=1)
    tn = s.shape[1] - tp - fp - fn
    out = rates_from_counts(tp, fp, tn, fn)
    out.update(
        tp=tp.astype(np.float64),
        fp=fp.astype(np.float64),
        tn=tn.astype(np.float64),
        fn=fn.astype(np.float64),
    )
    return out


# --------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class MetricComparison:
    """One metric, candidate vs baseline, with paired-bootstrap percentile intervals."""

    metric: str
    candidate: float
    baseline: float
    delta: float
    delta_ci: tuple[float, float]
    candidate_ci: tuple[float, float]
    baseline_ci: tuple[float, float]
    confidence: float
    n_resamples: int
    greater_is_better: bool

    @property
    def improvement(self) -> float:
        """``delta`` oriented so that positive means the candidate is better."""
        return self.delta if self.greater_is_better else -self.delta

    @property
    def improvement_ci(self) -> tuple[float, float]:
        """``delta_ci`` oriented so that positive means better (negated for fp_rate etc.)."""
        low, high = self.delta_ci
        return (low, high) if self.greater_is_better else (-high, -low)

    def beats(self, min_delta: float = 0.0) -> bool:
        """True iff the lower bound of the improvement interval exceeds ``min_delta``."""
        return bool(self.improvement_ci[0] > min_delta)


_NEEDS = {
    "graded": "gold_scores",
    "ranking": "labels",
    "threshold": "labels, candidate_threshold and baseline_threshold",
}


def _as_1d(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    return arr


def _point(
    scores: np.ndarray,
    family: str,
    gold: np.ndarray | None,
    labels: np.ndarray | None,
    threshold: float | None,
) -> dict[str, float]:
    """Point estimates of one metric family on all pairs."""
    if family == "graded":
        assert gold is not None
        return correlation_metrics(scores, gold)
    assert labels is not None
    if family == "ranking":
        return ranking_metrics(scores, labels)
    assert threshold is not None
    return threshold_metrics(scores, labels, threshold)


def _batch(
    resampled: np.ndarray,
    ranks: np.ndarray | None,
    family: str,
    gold_rs: np.ndarray | None,
    gold_ranks: np.ndarray | None,
    labels_rs: np.ndarray | None,
    threshold: float | None,
) -> dict[str, np.ndarray]:
    """One metric family on every resample (rows of ``resampled``; ``ranks`` are its ranks)."""
    if family == "graded":
        assert ranks is not None and gold_rs is not None and gold_ranks is not None
        return {
            "spearman": batch_pearson(ranks, gold_ranks),
            "pearson": batch_pearson(resampled, gold_rs),
        }
    assert labels_rs is not None
    if family == "ranking":
        return {
            "roc_auc": batch_roc_auc(resampled, labels_rs, ranks=ranks),
            "average_precision": batch_average_precision(resampled, labels_rs),
        }
    assert threshold is not None
    return batch_threshold_metrics(resampled, labels_rs, threshold)


@dataclass(frozen=True)
class _Resampling:
    """Validated inputs and the shared resamples of one comparison."""

    families: dict[str, list[str]]
    idx: np.ndarray
    gold: np.ndarray | None
    labels: np.ndarray | None
    gold_rs: np.ndarray | None
    gold_ranks: np.ndarray | None
    labels_rs: np.ndarray | None
    confidence: float

    def interval(self, values: np.ndarray) -> tuple[float, float]:
        return percentile_interval(values, self.confidence)

    def measure(
        self, scores: np.ndarray, threshold: float | None
    ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """One model's point estimates on all pairs, and its metrics on every resample."""
        resampled = scores[self.idx]
        # Ranks are shared by spearman and roc_auc: compute them once per model.
        ranks = rankdata(resampled, axis=1) if self.families.keys() - {"threshold"} else None
        points: dict[str, float] = {}
        dists: dict[str, np.ndarray] = {}
        for family in self.families:
            points.update(_point(scores, family, self.gold, self.labels, threshold))
            dists.update(
                _batch(
                    resampled,
                    ranks,
                    family,
                    self.gold_rs,
                    self.gold_ranks,
                    self.labels_rs,
                    threshold,
                )
            )
        return points, dists


def _resampling(
    metrics: list[str],
    n: int,
    gold_scores: ArrayLike | None,
    labels: ArrayLike | None,
    thresholds_known: bool,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> _Resampling:
    if not metrics:
        raise ValueError("no metrics requested")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {sorted(METRICS)}")
    check_resampling(n_resamples, confidence)
    gold = None if gold_scores is None else _as_1d(gold_scores, "gold_scores")
    if gold is not None and gold.shape[0] != n:
        raise ValueError(f"gold_scores has {gold.shape[0]} entries, the scores have {n}")
    y = None
    if labels is not None:
        y = np.asarray(labels)
        if y.shape != (n,):
            raise ValueError(f"labels has shape {y.shape}, the scores have {n} entries")
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("labels must be 0 or 1")
        y = y.astype(np.int64)

    families: dict[str, list[str]] = {}
    available = {
        "graded": gold is not None,
        "ranking": y is not None,
        "threshold": y is not None and thresholds_known,
    }
    for name in dict.fromkeys(metrics):
        fam = METRICS[name].family
        if not available[fam]:
            raise ValueError(f"metric {name!r} ({fam}) needs {_NEEDS[fam]}")
        families.setdefault(fam, []).append(name)

    idx = bootstrap_indices(n, n_resamples, seed, labels=y)
    gold_rs = None if gold is None else gold[idx]
    gold_ranks = None if gold_rs is None or "graded" not in families else rankdata(gold_rs, axis=1)
    return _Resampling(
        families=families,
        idx=idx,
        gold=gold,
        labels=y,
        gold_rs=gold_rs,
        gold_ranks=gold_ranks,
        labels_rs=None if y is None else y[idx],
        confidence=confidence,
    )


def check_resampling(n_resamples: int, confidence: float) -> None:
    """ValueError unless there is at least one resample and 0 < confidence < 1."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central `confidence` percentile interval of resampled `values`."""
    alpha = 1.0 - confidence
    low, high = np.quantile(values, (alpha / 2, 1 - alpha / 2))
    return float(low), float(high)


def compare_models(
    metrics: list[str],
    candidate_scores: ArrayLike,
    baseline_scores: ArrayLike,
    *,
    gold_scores: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    candidate_threshold: float | None = None,
    baseline_threshold: float | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, MetricComparison]:
    """Compare candidate and baseline scores on the same pairs, metric by metric.

    Point estimates use all pairs (:mod:`harness.quality.metrics`); intervals are percentile
    intervals of a paired bootstrap (stratified by label when ``labels`` is given). Graded
    metrics need ``gold_scores``; ranking metrics need ``labels``; threshold metrics need
    ``labels`` and both thresholds (fixed, chosen beforehand). Raises ValueError for unknown
    metrics, missing data, mismatched lengths, ``n_resamples < 1`` or ``confidence`` outside
    (0, 1).
    """
    cand = _as_1d(candidate_scores, "candidate_scores")
    base = _as_1d(baseline_scores, "baseline_scores")
    n = cand.shape[0]
    if base.shape[0] != n:
        raise ValueError(f"candidate has {n} scores but baseline has {base.shape[0]}")
    resampling = _resampling(
        metrics,
        n,
        gold_scores,
        labels,
        candidate_threshold is not None and baseline_threshold is not None,
        n_resamples,
        confidence,
        seed,
    )
    c_points, c_dists = resampling.measure(cand, candidate_threshold)
    b_points, b_dists = resampling.measure(base, baseline_threshold)
    return {
        name: MetricComparison(
            metric=name,
            candidate=c_points[name],
            baseline=b_points[name],
            delta=c_points[name] - b_points[name],
            delta_ci=resampling.interval(c_dists[name] - b_dists[name]),
            candidate_ci=resampling.interval(c_dists[name]),
            baseline_ci=resampling.interval(b_dists[name]),
            confidence=confidence,
            n_resamples=n_resamples,
            greater_is_better=METRICS[name].greater_is_better,
        )
        for name in dict.fromkeys(metrics)
    }


def model_intervals(
    metrics: list[str],
    scores: ArrayLike,
    *,
    gold_scores: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    threshold: float | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, MetricComparison]:
    """One model's bootstrap intervals, as its comparison with itself reads (delta 0, interval
    [0, 0]) without resampling it twice: the same resamples as ``compare_models``."""
    values = _as_1d(scores, "scores")
    resampling = _resampling(
        metrics,
        values.shape[0],
        gold_scores,
        labels,
        threshold is not None,
        n_resamples,
        confidence,
        seed,
    )
    points, dists = resampling.measure(values, threshold)
    return {
        name: MetricComparison(
            metric=name,
            candidate=points[name],
            baseline=points[name],
            delta=0.0,
            delta_ci=(0.0, 0.0),
            candidate_ci=resampling.interval(dists[name]),
            baseline_ci=resampling.interval(dists[name]),
            confidence=confidence,
            n_resamples=n_resamples,
            greater_is_better=METRICS[name].greater_is_better,
        )
        for name in dict.fromkeys(metrics)
    }


def max_score_difference(candidate_scores: ArrayLike, baseline_scores: ArrayLike) -> float:
    """The largest ``|candidate - baseline|`` over the pairs; inf when the shapes differ."""
    c = np.asarray(candidate_scores, dtype=np.float64)
    b = np.asarray(baseline_scores, dtype=np.float64)
    if c.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(c - b))) if c.size else 0.0


def identical_to_baseline(
    candidate_scores: ArrayLike, baseline_scores: ArrayLike, *, atol: float
) -> bool:
    """True iff every candidate score is within ``atol`` of the baseline's (a tolerance of the
    table in :mod:`harness.checkpoint.tolerances`: float noise is not a change).

    The signature of an adapter that was never applied. Different lengths give False.
    """
    return max_score_difference(candidate_scores, baseline_scores) <= atol
