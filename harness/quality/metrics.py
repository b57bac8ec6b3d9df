"""Metrics on cosine scores of sentence pairs: correlation, ranking and threshold metrics.

Everything here takes numpy arrays and returns numbers or small dataclasses (no torch, no files,
no model). Threshold choice reproduces sentence-transformers' ``BinaryClassificationEvaluator``:
a pair is predicted positive iff ``score >= threshold``, and the best-F1 threshold is a midpoint
between consecutive distinct observed scores, chosen exactly as ``find_best_f1_and_threshold``
chooses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

__all__ = [
    "METRICS",
    "Confusion",
    "MetricSpec",
    "ThresholdPolicy",
    "best_f1_threshold",
    "confusion_at",
    "correlation_metrics",
    "cosine_distances",
    "cosine_scores",
    "ranking_metrics",
    "rates_from_counts",
    "recall_threshold",
    "threshold_metrics",
]

Family = Literal["graded", "ranking", "threshold"]


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is: its key, the data it needs and which direction is better.

    ``family``: "graded" needs gold scores, "ranking" needs binary labels, "threshold" needs
    binary labels and a threshold.
    """

    name: str
    family: Family
    greater_is_better: bool

    def __post_init__(self) -> None:
        if self.family not in ("graded", "ranking", "threshold"):
            raise ValueError(
                f"metric {self.name!r}: family must be 'graded', 'ranking' or 'threshold', "
                f"got {self.family!r}"
            )


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("spearman", "graded", True),
        MetricSpec("pearson", "graded", True),
        MetricSpec("roc_auc", "ranking", True),
        MetricSpec("average_precision", "ranking", True),
        MetricSpec("accuracy", "threshold", True),
        MetricSpec("precision", "threshold", True),
        MetricSpec("recall", "threshold", True),
        MetricSpec("f1", "threshold", True),
        MetricSpec("mcc", "threshold", True),
        MetricSpec("fp_rate", "threshold", False),
        MetricSpec("fn_rate", "threshold", False),
    )
}


# --------------------------------------------------------------------------- input checks


def _scores(scores: ArrayLike, name: str = "scores") -> np.ndarray:
    """1-D finite float array; float dtypes are kept (thresholds are computed in that dtype)."""
    arr = np.asarray(scores)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains {int(np.sum(~np.isfinite(arr)))} non-finite values")
    return arr


def _labels(labels: ArrayLike, n: int) -> np.ndarray:
    """1-D int64 array of 0/1 labels of length ``n``."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"labels must be 1-D with {n} entries (one per score), got {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"labels must be 0 or 1, got values {sorted(set(arr.tolist()))[:5]}")
    return arr.astype(np.int64)


def _pair(scores: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = _scores(scores)
    return s, _labels(labels, s.shape[0])


def _target_recall(target_recall: float) -> float:
    if not 0.0 < target_recall <= 1.0:
        raise ValueError(f"target_recall must be in (0, 1], got {target_recall}")
    return float(target_recall)


# --------------------------------------------------------------------------- scores


def cosine_scores(emb1: ArrayLike, emb2: ArrayLike) -> np.ndarray:
    """Row-wise cosine similarity of two (n, d) embedding arrays, as float64.

    Rows are divided by ``max(norm, 1e-12)`` like ``torch.nn.functional.normalize``, so a zero
    vector scores 0.
    """
    a = np.asarray(emb1, dtype=np.float64)
    b = np.asarray(emb2, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(
            f"embeddings must be two (n, d) arrays of one shape, got {a.shape}, {b.shape}"
        )
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.einsum("ij,ij->i", a, b)


def cosine_distances(emb1: ArrayLike, emb2: ArrayLike) -> np.ndarray:
    """1 - cosine similarity, row by row: how far each embedding moved."""
    return 1.0 - cosine_scores(emb1, emb2)


# --------------------------------------------------------------------------- graded, ranking


def correlation_metrics(scores: ArrayLike, gold: ArrayLike) -> dict[str, float]:
    """Spearman and Pearson correlation of ``scores`` with ``gold`` (scipy.stats).

    Raises ValueError when either side has fewer than 2 values or is constant (undefined).
    """
    s = _scores(scores)
    g = _scores(gold, "gold")
    if s.shape != g.shape:
        raise ValueError(f"scores and gold differ in length: {s.shape[0]} != {g.shape[0]}")
    if s.shape[0] < 2:
        raise ValueError("correlation is undefined for fewer than 2 pairs")
    for name, arr in (("scores", s), ("gold", g)):
        if np.all(arr == arr[0]):
            raise ValueError(f"correlation is undefined: all {arr.shape[0]} {name} are equal")
    s64, g64 = s.astype(np.float64), g.astype(np.float64)
    return {
        "spearman": float(stats.spearmanr(s64, g64).statistic),
        "pearson": float(stats.pearsonr(s64, g64).statistic),
    }


def _require_both_classes(labels: np.ndarray, what: str) -> None:
    n_pos = int(labels.sum())
    if n_pos in (0, labels.shape[0]):
        raise ValueError(f"{what} is undefined: all {labels.shape[0]} labels are {int(labels[0])}")


def ranking_metrics(scores: ArrayLike, labels: ArrayLike) -> dict[str, float]:
    """ROC-AUC and average precision of ``scores`` for binary ``labels`` (sklearn).

    Raises ValueError if the labels hold only one class.
    """
    s, y = _pair(scores, labels)
    _require_both_classes(y, "ROC-AUC")
    return {
        "roc_auc": float(roc_auc_score(y, s)),
        "average_precision": float(average_precision_score(y, s)),
    }


# --------------------------------------------------------------------------- threshold


@dataclass(frozen=True)
class Confusion:
    """Confusion counts of a binary classification."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    def as_matrix(self) -> list[list[int]]:
        """``[[tn, fp], [fn, tp]]``, the layout of ``sklearn.metrics.confusion_matrix``."""
        return [[self.tn, self.fp], [self.fn, self.tp]]


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0/0 (and x/0) defined as 0.0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def rates_from_counts(
    tp: ArrayLike, fp: ArrayLike, tn: ArrayLike, fn: ArrayLike
) -> dict[str, np.ndarray]:
    """Threshold metrics from confusion counts (scalars or arrays, vectorised); 0/0 is 0.0."""
    tp, fp, tn, fn = (np.asarray(c, dtype=np.float64) for c in (tp, fp, tn, fn))
    mcc_den = np.sqrt((tp + fp) * (tp + fn)) * np.sqrt((tn + fp) * (tn + fn))
    return {
        "accuracy": _div(tp + tn, tp + fp + tn + fn),
        "precision": _div(tp, tp + fp),
        "recall": _div(tp, tp + fn),
        "f1": _div(2 * tp, 2 * tp + fp + fn),
        # in [-1, 1]; the two square roots can round a perfect (anti-)correlation past it
        "mcc": np.clip(_div(tp * tn - fp * fn, mcc_den), -1.0, 1.0),
        "fp_rate": _div(fp, fp + tn),
        "fn_rate": _div(fn, fn + tp),
    }


def confusion_at(scores: ArrayLike, labels: ArrayLike, threshold: float) -> Confusion:
    """Confusion counts when a pair is predicted positive iff ``score >= threshold``."""
    s, y = _pair(scores, labels)
    pred = s >= threshold
    pos = y == 1
    tp = int(np.count_nonzero(pred & pos))
    fp = int(np.count_nonzero(pred & ~pos))
    fn = int(np.count_nonzero(~pred & pos))
    return Confusion(tp=tp, fp=fp, tn=s.shape[0] - tp - fp - fn, fn=fn)


def threshold_metrics(scores: ArrayLike, labels: ArrayLike, threshold: float) -> dict[str, float]:
    """Classification metrics with a pair predicted positive iff ``score >= threshold``.

    The ``>=`` is the comparison sentence-transformers' BinaryClassificationEvaluator uses.
    Returns accuracy, precision, recall, f1, mcc, fp_rate (FP/(FP+TN)), fn_rate (FN/(FN+TP))
    and the counts tp, fp, tn, fn (as floats). Any 0/0 (e.g. precision with no predicted
    positives, MCC with a constant prediction) is defined as 0.0, as sklearn's metrics do with
    ``zero_division=0.0`` (its ``matthews_corrcoef`` also gives 0.0). Computed from the counts
    (the tests check every value against sklearn's functions).
    """
    c = confusion_at(scores, labels, threshold)
    out = {key: float(value) for key, value in rates_from_counts(c.tp, c.fp, c.tn, c.fn).items()}
    out.update(tp=float(c.tp), fp=float(c.fp), tn=float(c.tn), fn=float(c.fn))
    return out


def _midpoint(s_sorted: np.ndarray, i: int) -> float:
    """The evaluator's threshold after position ``i`` of the descending scores."""
    if i == s_sorted.shape[0] - 1:
        return float(s_sorted[i])
    mid = (s_sorted[i] + s_sorted[i + 1]) / 2  # in the scores' dtype, as the evaluator does
    # A rounded midpoint must not include the next score group.
    return float(s_sorted[i] if mid == s_sorted[i + 1] else mid)


def best_f1_threshold(scores: ArrayLike, labels: ArrayLike) -> float:
    """Threshold of best F1, exactly as ``find_best_f1_and_threshold`` picks it.

    Candidates are, for each group of tied scores taken high to low, the midpoint to the next
    lower distinct score (the lowest score itself for the last group); the highest threshold
    wins among equal F1. With no positive labels it returns 0.0, as the evaluator does.
    """
    s, y = _pair(scores, labels)
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    cum_pos = np.cumsum(y[order])
    is_end = np.ones(s.shape[0], dtype=bool)  # the last pair of each group of tied scores
    is_end[:-1] = s_sorted[:-1] != s_sorted[1:]
    ends = np.flatnonzero(is_end & (cum_pos > 0))
    if ends.size == 0:  # no positive labels: the evaluator reports F1 0 at threshold 0
        return 0.0
    tp = cum_pos[ends].astype(np.float64)
    precision = tp / (ends + 1)
    recall = tp / int(y.sum())
    f1 = 2 * precision * recall / (precision + recall)
    return _midpoint(s_sorted, int(ends[int(np.argmax(f1))]))


def recall_threshold(scores: ArrayLike, labels: ArrayLike, target_recall: float) -> float:
    """The highest threshold whose recall is at least ``target_recall`` (in (0, 1]).

    That is an observed positive score: the k-th highest, for the smallest k with
    ``k / n_positive >= target_recall``. Raises ValueError if there are no positive labels.
    """
    s, y = _pair(scores, labels)
    target = _target_recall(target_recall)
    pos = np.sort(s[y == 1])[::-1]
    if pos.size == 0:
        raise ValueError("recall is undefined: there are no positive labels")
    recalls = np.arange(1, pos.size + 1) / pos.size  # same division as threshold_metrics
    k = int(np.argmax(recalls >= target))
    return float(pos[k])


@dataclass(frozen=True)
class ThresholdPolicy:
    """How a decision threshold is chosen on a calibration split.

    ``kind``: "fixed" (``value`` is the threshold), "best_f1" (``value`` must be None) or
    "target_recall" (``value`` is the recall to keep, in (0, 1]).
    """

    kind: Literal["fixed", "best_f1", "target_recall"]
    value: float | None = None

    def __post_init__(self) -> None:
        if self.kind == "fixed":
            if self.value is None or not math.isfinite(self.value):
                raise ValueError(f"a fixed threshold needs a finite value, got {self.value!r}")
        elif self.kind == "best_f1":
            if self.value is not None:
                raise ValueError(f"best_f1 takes no value, got {self.value!r}")
        elif self.kind == "target_recall":
            if self.value is None:
                raise ValueError("target_recall needs a value in (0, 1]")
            _target_recall(self.value)
        else:
            raise ValueError(
                f"threshold policy kind must be 'fixed', 'best_f1' or 'target_recall', "
                f"got {self.kind!r}"
            )

    def choose(self, calibration_scores: ArrayLike, calibration_labels: ArrayLike) -> float:
        """The threshold this policy picks on the calibration split."""
        if self.kind == "fixed":
            assert self.value is not None
            return float(self.value)
        s, y = _pair(calibration_scores, calibration_labels)
        _require_both_classes(y, f"threshold policy {self.kind!r}")
        if self.kind == "best_f1":
            return best_f1_threshold(s, y)
        assert self.value is not None
        return recall_threshold(s, y, self.value)

    def describe(self) -> str:
        """A short human-readable description for reports."""
        if self.kind == "fixed":
            return f"fixed threshold {self.value:g}"
        if self.kind == "best_f1":
            return "best F1 on the calibration split"
        return f"highest threshold with recall >= {self.value:g} on the calibration split"
