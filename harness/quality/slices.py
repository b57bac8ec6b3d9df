"""Metrics per slice of a data set, and a test of whether the candidate is worse on any slice.

A data set with a slice column (a team, a product, a language) is measured slice by slice with
the paired bootstrap of :mod:`harness.quality.bootstrap` (:func:`slice_comparisons`,
:func:`slice_intervals`). Whether the candidate is worse on some slice is decided by
:func:`slice_test`: a one-sided paired permutation test per slice and metric, with the
Holm-Bonferroni correction over all of them, so that looking at many slices does not by itself
produce a failure.

The permutation test swaps, pair by pair and at random, which model produced which value. So
that the two models are exchangeable although their scores may sit on different scales, each
model's scores are first replaced by their within-slice ranks for the rank-based metrics
(spearman, roc_auc, average_precision, which a monotone transform leaves unchanged) and by its
0/1 decision at its own threshold for the threshold metrics; pearson uses the raw scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata

from harness.quality.bootstrap import (
    MetricComparison,
    batch_average_precision,
    batch_pearson,
    batch_roc_auc,
    batch_threshold_metrics,
    compare_models,
    model_intervals,
)
from harness.quality.metrics import METRICS
from harness.quality.pairs import PairDataset

__all__ = [
    "RANK_METRICS",
    "SAFETY_FACTOR",
    "SliceComparison",
    "SliceTest",
    "SliceTestRow",
    "holm",
    "needed_permutations",
    "permutation_test",
    "slice_comparisons",
    "slice_intervals",
    "slice_test",
]

#: metrics that only depend on the order of the scores: tested on within-slice ranks
RANK_METRICS = frozenset({"spearman", "roc_auc", "average_precision"})

#: the smallest attainable Holm-adjusted p-value is kept this many times below alpha
SAFETY_FACTOR = 10

#: permuted rows computed at once are limited to about this many values
_CHUNK_VALUES = 2_000_000


# --------------------------------------------------------------------------- per-slice intervals


@dataclass(frozen=True)
class SliceComparison:
    """One slice: its size, the bootstrap comparison of each metric defined on it, and the
    metrics left out because the slice cannot define them (e.g. ROC-AUC with one class)."""

    slice: str
    n_pairs: int
    metrics: dict[str, MetricComparison]
    undefined: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """``{slice, n_pairs, metrics: {name: {value, ci, baseline, delta, delta_ci}},
        undefined: [names]}``."""
        return {
            "slice": self.slice,
            "n_pairs": self.n_pairs,
            "metrics": {
                name: {
                    "value": c.candidate,
                    "ci": list(c.candidate_ci),
                    "baseline": c.baseline,
                    "delta": c.delta,
                    "delta_ci": list(c.delta_ci),
                }
                for name, c in self.metrics.items()
            },
            "undefined": list(self.undefined),
        }


def _slice_members(data: PairDataset) -> list[tuple[str, np.ndarray]]:
    """(slice name, row indices) for every slice, sorted by name."""
    if data.slices is None:
        raise ValueError(f"data set {data.name!r} has no slice column")
    names = np.asarray(data.slices, dtype=object)
    return [(name, np.flatnonzero(names == name)) for name in sorted(set(data.slices))]


def _scores_of(data: PairDataset, scores: ArrayLike, what: str) -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.shape != (len(data),):
        raise ValueError(f"{what} has shape {arr.shape}; {data.name!r} has {len(data)} rows")
    return arr


def _check_metrics(metrics: Sequence[str], data: PairDataset, thresholds_known: bool) -> list[str]:
    """The requested metrics, deduplicated; ValueError when the data set can never define one."""
    names = list(dict.fromkeys(metrics))
    if not names:
        raise ValueError("no metrics requested")
    for name in names:
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; known: {sorted(METRICS)}")
        family = METRICS[name].family
        if family == "graded" and data.scores is None:
            raise ValueError(f"metric {name!r} needs gold scores; {data.name!r} has none")
        if family != "graded" and data.labels is None:
            raise ValueError(f"metric {name!r} needs labels; {data.name!r} has none")
        if family == "threshold" and not thresholds_known:
            raise ValueError(f"metric {name!r} needs a threshold for each model")
    return names


def _defined(name: str, rows: np.ndarray, data: PairDataset, *scores: np.ndarray) -> bool:
    """Whether metric ``name`` is defined on the rows ``rows`` for every model's ``scores``."""
    family = METRICS[name].family
    if family == "graded":
        assert data.scores is not None
        return rows.size >= 2 and all(np.ptp(a[rows]) > 0 for a in (data.scores, *scores))
    if family == "ranking":
        assert data.labels is not None
        n_pos = int(data.labels[rows].sum())
        return 0 < n_pos < rows.size
    assert data.labels is not None
    n_pos = int(data.labels[rows].sum())
    # a rate over a class the slice lacks is 0/0, not 0: FP rate needs negatives, recall and
    # FN rate positives
    needs = {"fp_rate": rows.size - n_pos, "recall": n_pos, "fn_rate": n_pos}
    return rows.size > 0 and needs.get(name, 1) > 0


def _per_slice(
    data: PairDataset,
    metrics: Sequence[str],
    thresholds_known: bool,
    scores: tuple[np.ndarray, ...],
    measure: Any,
) -> list[SliceComparison]:
    names = _check_metrics(metrics, data, thresholds_known)
    out = []
    for slice_name, rows in _slice_members(data):
        defined = [m for m in names if _defined(m, rows, data, *scores)]
        results = measure(defined, rows) if defined else {}
        out.append(
            SliceComparison(
                slice=slice_name,
                n_pairs=int(rows.size),
                metrics=results,
                undefined=tuple(m for m in names if m not in defined),
            )
        )
    return out


def _gold_labels(data: PairDataset, rows: np.ndarray) -> dict[str, Any]:
    return {
        "gold_scores": None if data.scores is None else data.scores[rows],
        "labels": None if data.labels is None else data.labels[rows],
    }


def slice_comparisons(
    data: PairDataset,
    candidate_scores: ArrayLike,
    baseline_scores: ArrayLike,
    *,
    metrics: Sequence[str],
    candidate_threshold: float | None = None,
    baseline_threshold: float | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[SliceComparison]:
    """Candidate vs baseline on each slice (sorted by name): ``compare_models`` on its rows.

    Metrics a slice cannot define are listed in its ``undefined``. ValueError when the data set
    has no slice column or can never define a requested metric.
    """
    cand = _scores_of(data, candidate_scores, "candidate_scores")
    base = _scores_of(data, baseline_scores, "baseline_scores")

    def measure(names: list[str], rows: np.ndarray) -> dict[str, MetricComparison]:
        return compare_models(
            names,
            cand[rows],
            base[rows],
            candidate_threshold=candidate_threshold,
            baseline_threshold=baseline_threshold,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
            **_gold_labels(data, rows),
        )

    known = candidate_threshold is not None and baseline_threshold is not None
    return _per_slice(data, metrics, known, (cand, base), measure)


def slice_intervals(
    data: PairDataset,
    scores: ArrayLike,
    *,
    metrics: Sequence[str],
    threshold: float | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[SliceComparison]:
    """One model's intervals on each slice (``model_intervals``: delta 0, interval [0, 0])."""
    values = _scores_of(data, scores, "scores")

    def measure(names: list[str], rows: np.ndarray) -> dict[str, MetricComparison]:
        return model_intervals(
            names,
            values[rows],
            threshold=threshold,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
            **_gold_labels(data, rows),
        )

    return _per_slice(data, metrics, threshold is not None, (values,), measure)


# --------------------------------------------------------------------------- permutation test


def _transform(metric: str, scores: np.ndarray, threshold: float | None) -> np.ndarray:
    """The values of one model that are exchanged: ranks, 0/1 decisions or raw scores."""
    if metric in RANK_METRICS:
        return rankdata(scores)
    if METRICS[metric].family == "threshold":
        if threshold is None:
            raise ValueError(f"metric {metric!r} needs a threshold for each model")
        return (scores >= threshold).astype(np.float64)
    return scores


def _batch_metric(
    metric: str,
    values: np.ndarray,
    gold_ranks: np.ndarray | None,
    gold: np.ndarray | None,
    labels: np.ndarray | None,
) -> np.ndarray:
    """``metric`` on every row of ``values`` (transformed scores, see :func:`_transform`)."""
    if metric == "spearman":
        assert gold_ranks is not None
        return batch_pearson(rankdata(values, axis=1), np.broadcast_to(gold_ranks, values.shape))
    if metric == "pearson":
        assert gold is not None
        return batch_pearson(values, np.broadcast_to(gold, values.shape))
    assert labels is not None
    y = np.broadcast_to(labels, values.shape)
    if metric == "roc_auc":
        return batch_roc_auc(values, y)
    if metric == "average_precision":
        return batch_average_precision(values, y)
    return batch_threshold_metrics(values, y, 0.5)[metric]  # values are 0/1 decisions


def permutation_test(
    candidate_scores: ArrayLike,
    baseline_scores: ArrayLike,
    *,
    metric: str,
    gold_scores: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    candidate_threshold: float | None = None,
    baseline_threshold: float | None = None,
    n_permutations: int = 10_000,
    seed: int = 0,
) -> float:
    """One-sided paired permutation p-value for "the candidate is worse on ``metric``".

    Each permutation swaps the two models' values on a random half of the pairs (a sign flip
    of each pair's difference). ``p = (1 + #{permuted improvement <= observed}) /
    (1 + n_permutations)``, so it is never below ``1 / (n_permutations + 1)``. Ranks replace
    the scores for rank-based metrics and 0/1 decisions at each model's own threshold for
    threshold metrics (see the module docstring). ValueError when the metric is undefined on
    these pairs (one class, constant scores) or its data is missing.
    """
    return _permutation(
        candidate_scores,
        baseline_scores,
        metric=metric,
        gold_scores=gold_scores,
        labels=labels,
        candidate_threshold=candidate_threshold,
        baseline_threshold=baseline_threshold,
        n_permutations=n_permutations,
        seed=seed,
    )[1]


def _permutation(
    candidate_scores: ArrayLike,
    baseline_scores: ArrayLike,
    *,
    metric: str,
    gold_scores: ArrayLike | None,
    labels: ArrayLike | None,
    candidate_threshold: float | None,
    baseline_threshold: float | None,
    n_permutations: int,
    seed: int,
) -> tuple[float, float]:
    """(observed improvement, p-value) of :func:`permutation_test`."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {sorted(METRICS)}")
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be at least 1, got {n_permutations}")
    cand = np.asarray(candidate_scores, dtype=np.float64)
    base = np.asarray(baseline_scores, dtype=np.float64)
    if cand.ndim != 1 or cand.shape != base.shape or cand.size == 0:
        raise ValueError(
            f"need two non-empty 1-D score arrays of one length, got {cand.shape}, {base.shape}"
        )
    family = METRICS[metric].family
    gold = None if gold_scores is None else np.asarray(gold_scores, dtype=np.float64)
    y = None if labels is None else np.asarray(labels, dtype=np.float64)
    needed = gold if family == "graded" else y
    if needed is None or needed.shape != cand.shape:
        what = "gold_scores" if family == "graded" else "labels"
        raise ValueError(f"metric {metric!r} needs {what} with one entry per pair")
    if y is not None and not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0 or 1")
    gold_ranks = None if gold is None else rankdata(gold)

    c = _transform(metric, cand, candidate_threshold)
    b = _transform(metric, base, baseline_threshold)
    sign = 1.0 if METRICS[metric].greater_is_better else -1.0
    both = np.stack([c, b])
    c_obs, b_obs = _batch_metric(metric, both, gold_ranks, gold, y)
    observed = sign * (c_obs - b_obs)
    if not math.isfinite(observed):
        raise ValueError(f"metric {metric!r} is undefined on these pairs")

    rng = np.random.default_rng(seed)
    n = cand.size
    chunk = max(1, _CHUNK_VALUES // n)
    at_or_below = 0
    for start in range(0, n_permutations, chunk):
        size = min(chunk, n_permutations - start)
        swap = rng.random((size, n)) < 0.5
        perm_c = np.where(swap, b, c)
        perm_b = np.where(swap, c, b)
        values = _batch_metric(metric, np.concatenate([perm_c, perm_b]), gold_ranks, gold, y)
        improvement = sign * (values[:size] - values[size:])
        # an undefined permuted value counts against significance (conservative)
        at_or_below += int(np.count_nonzero(~(improvement > observed)))
    return float(observed), (1 + at_or_below) / (1 + n_permutations)


def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the order given.

    The i-th smallest of m p-values is multiplied by ``m - i + 1``; the results are made
    non-decreasing in that order and capped at 1. Reject where the adjusted value is below
    alpha: this keeps the chance of any false alarm at most alpha, whatever the dependence.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D, got shape {p.shape}")
    if p.size and (np.any(~np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise ValueError("p-values must lie in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def needed_permutations(n_comparisons: int, alpha: float, safety: float = SAFETY_FACTOR) -> int:
    """The fewest permutations for which a clear regression can reach significance.

    A permutation p-value is at least ``1 / (n + 1)`` and Holm multiplies the smallest by the
    number of comparisons m, so ``m / (n + 1)`` must lie below alpha. This returns the smallest
    n with ``m / (n + 1) < alpha / safety``: with ``safety`` (10 by default) the floor is ten
    times below alpha, which leaves room for p-values that are small but not at the floor.
    """
    if n_comparisons < 1:
        raise ValueError(f"n_comparisons must be at least 1, got {n_comparisons}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if safety < 1:
        raise ValueError(f"safety must be at least 1, got {safety}")
    limit = alpha / safety
    n = max(1, math.floor(n_comparisons / limit) - 1)
    while n_comparisons / (n + 1) >= limit:
        n += 1
    while n > 1 and n_comparisons / n < limit:
        n -= 1
    return n


@dataclass(frozen=True)
class SliceTestRow:
    """One slice and metric: the candidate's improvement (negative: worse) and its p-values."""

    slice: str
    metric: str
    improvement: float
    p_value: float
    p_adjusted: float
    significantly_worse: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "slice": self.slice,
            "metric": self.metric,
            "improvement": self.improvement,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "significantly_worse": self.significantly_worse,
        }


@dataclass(frozen=True)
class SliceTest:
    """Whether the candidate is significantly worse on any slice, metric by metric."""

    method: str
    n_permutations: int
    n_comparisons: int
    alpha: float
    rows: tuple[SliceTestRow, ...] = field(default_factory=tuple)

    @property
    def worse(self) -> list[SliceTestRow]:
        """The rows where the candidate is significantly worse."""
        return [row for row in self.rows if row.significantly_worse]

    def to_dict(self) -> dict[str, Any]:
        """``{method, n_permutations, n_comparisons, alpha, rows: [{slice, metric,
        improvement, p_value, p_adjusted, significantly_worse}], worse: [{slice, metric}]}``."""
        return {
            "method": self.method,
            "n_permutations": self.n_permutations,
            "n_comparisons": self.n_comparisons,
            "alpha": self.alpha,
            "rows": [row.to_dict() for row in self.rows],
            "worse": [{"slice": row.slice, "metric": row.metric} for row in self.worse],
        }


METHOD = (
    "one-sided paired permutation test per slice and metric (pairs swapped between the models; "
    "ranks for rank metrics, 0/1 decisions for threshold metrics), Holm-Bonferroni adjusted"
)


def slice_test(
    data: PairDataset,
    candidate_scores: ArrayLike,
    baseline_scores: ArrayLike,
    *,
    metrics: Sequence[str],
    candidate_threshold: float | None = None,
    baseline_threshold: float | None = None,
    n_permutations: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> SliceTest:
    """Test every slice and metric for "the candidate is worse", Holm-adjusted over all of them.

    Only the (slice, metric) combinations the slice defines are tested. The permutations used
    are ``max(n_permutations, needed_permutations(n_comparisons, alpha))``, so that a clear
    regression can be significant after the correction. Comparison k (slices sorted by name,
    metrics in the order given) draws its permutations with seed ``seed + k``.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    cand = _scores_of(data, candidate_scores, "candidate_scores")
    base = _scores_of(data, baseline_scores, "baseline_scores")
    known = candidate_threshold is not None and baseline_threshold is not None
    names = _check_metrics(metrics, data, known)
    cases = [
        (slice_name, rows, metric)
        for slice_name, rows in _slice_members(data)
        for metric in names
        if _defined(metric, rows, data, cand, base)
    ]
    if not cases:
        return SliceTest(METHOD, n_permutations, 0, float(alpha))
    n_perm = max(int(n_permutations), needed_permutations(len(cases), alpha))
    improvements, p_values = [], []
    for k, (_, rows, metric) in enumerate(cases):
        improvement, p_value = _permutation(
            cand[rows],
            base[rows],
            metric=metric,
            candidate_threshold=candidate_threshold,
            baseline_threshold=baseline_threshold,
            n_permutations=n_perm,
            seed=seed + k,
            **_gold_labels(data, rows),
        )
        improvements.append(improvement)
        p_values.append(p_value)
    adjusted = holm(p_values)
    rows_out = tuple(
        SliceTestRow(
            slice=slice_name,
            metric=metric,
            improvement=improvements[k],
            p_value=float(p_values[k]),
            p_adjusted=float(adjusted[k]),
            significantly_worse=bool(adjusted[k] < alpha),
        )
        for k, (slice_name, _, metric) in enumerate(cases)
    )
    return SliceTest(METHOD, n_perm, len(cases), float(alpha), rows_out)

