"""How high the error rates could really be: one-sided Clopper-Pearson upper bounds.

An observed false-positive rate of 0 on 40 negatives does not mean the model never errs: with
95% confidence the true rate is below 7.2%. :func:`upper_bound` gives that number for any count
``k`` of errors among ``n`` trials; :class:`ErrorBounds` applies it to a confusion matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scipy.stats import beta

from harness.quality.metrics import Confusion

__all__ = ["METHOD", "ErrorBounds", "ErrorRate", "upper_bound"]

METHOD = "Clopper-Pearson, one-sided"


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(confidence)


def upper_bound(k: int, n: int, confidence: float = 0.95) -> float | None:
    """The one-sided Clopper-Pearson upper bound of a rate seen as ``k`` errors in ``n`` trials.

    The true rate is below it with probability ``confidence`` (exact, never too low). 1.0 when
    ``k == n``; None when ``n == 0`` (nothing was observed). ValueError unless ``0 <= k <= n``.
    """
    conf = _check_confidence(confidence)
    k, n = int(k), int(n)
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return None
    if k == n:
        return 1.0
    return float(beta.ppf(conf, k + 1, n - k))


@dataclass(frozen=True)
class ErrorRate:
    """One error rate: ``count`` errors among ``total`` pairs, the rate and its upper bound.

    ``rate`` and ``upper`` are None when ``total`` is 0.
    """

    count: int
    total: int
    rate: float | None
    upper: float | None

    @classmethod
    def of(cls, count: int, total: int, confidence: float) -> ErrorRate:
        return cls(
            count=int(count),
            total=int(total),
            rate=None if total == 0 else count / total,
            upper=upper_bound(count, total, confidence),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "total": self.total, "rate": self.rate, "upper": self.upper}


@dataclass(frozen=True)
class ErrorBounds:
    """Upper bounds of the false-positive rate (FP among FP+TN) and the false-negative rate
    (FN among FN+TP) of one model at its threshold."""

    fp: ErrorRate
    fn: ErrorRate
    confidence: float
    method: str = METHOD

    @classmethod
    def from_confusion(cls, confusion: Confusion, confidence: float = 0.95) -> ErrorBounds:
        """The bounds of one model's confusion counts (from ``metrics.confusion_at``)."""
        conf = _check_confidence(confidence)
        c = confusion
        return cls(
            fp=ErrorRate.of(c.fp, c.fp + c.tn, conf),
            fn=ErrorRate.of(c.fn, c.fn + c.tp, conf),
            confidence=conf,
        )

    def to_dict(self) -> dict[str, Any]:
        """``{fp: {count, total, rate, upper}, fn: {...}, confidence, method}``."""
        return {
            "fp": self.fp.to_dict(),
            "fn": self.fn.to_dict(),
            "confidence": self.confidence,
            "method": self.method,
        }
