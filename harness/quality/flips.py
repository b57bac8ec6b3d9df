"""Which decisions changed between the baseline and the candidate, and is the change real?

Each model decides every pair at its own threshold (positive iff ``score >= threshold``).
:func:`decision_flips` counts the pairs both get right, both get wrong, and those that flip
either way; McNemar's exact test says whether the flips lean one way more than chance allows.
The worst flips (right before, wrong now, the candidate furthest on the wrong side of its
threshold) are listed to read, and the best ones beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import binomtest

__all__ = ["Flip", "Flips", "decision_flips", "mcnemar_exact"]

MCNEMAR = "McNemar exact (binomial), two-sided"


def mcnemar_exact(wrong_to_right: int, right_to_wrong: int) -> float:
    """Two-sided exact McNemar p-value: ``wrong_to_right`` of the flips under Binomial(n, 1/2),
    n the number of flips; 1.0 when nothing flipped."""
    b, c = int(wrong_to_right), int(right_to_wrong)
    if b < 0 or c < 0:
        raise ValueError(f"flip counts must be non-negative, got {b}, {c}")
    if b + c == 0:
        return 1.0
    return float(binomtest(min(b, c), b + c, 0.5, alternative="two-sided").pvalue)


@dataclass(frozen=True)
class Flip:
    """One pair whose decision changed, with both models' scores."""

    index: int
    sentence1: str
    sentence2: str
    label: int
    candidate_score: float
    baseline_score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "sentence1": self.sentence1,
            "sentence2": self.sentence2,
            "label": self.label,
            "candidate_score": self.candidate_score,
            "baseline_score": self.baseline_score,
        }


@dataclass(frozen=True)
class Flips:
    """Decisions of the candidate against the baseline's, pair by pair.

    ``worst``: right_to_wrong pairs, the candidate's score furthest on the wrong side of its
    threshold first; ``best``: wrong_to_right pairs, furthest on the right side first.
    """

    both_right: int
    both_wrong: int
    wrong_to_right: int
    right_to_wrong: int
    mcnemar_p: float
    worst: tuple[Flip, ...]
    best: tuple[Flip, ...]
    test: str = MCNEMAR

    @property
    def n_pairs(self) -> int:
        return self.both_right + self.both_wrong + self.wrong_to_right + self.right_to_wrong

    def to_dict(self) -> dict[str, Any]:
        """Counts, ``n_pairs``, ``mcnemar_p``, ``test`` and the ``worst`` and ``best`` lists."""
        return {
            "n_pairs": self.n_pairs,
            "both_right": self.both_right,
            "both_wrong": self.both_wrong,
            "wrong_to_right": self.wrong_to_right,
            "right_to_wrong": self.right_to_wrong,
            "mcnemar_p": self.mcnemar_p,
            "test": self.test,
            "worst": [f.to_dict() for f in self.worst],
            "best": [f.to_dict() for f in self.best],
        }


def decision_flips(
    labels: ArrayLike,
    candidate_scores: ArrayLike,
    baseline_scores: ArrayLike,
    candidate_threshold: float,
    baseline_threshold: float,
    sentence1: Sequence[str],
    sentence2: Sequence[str],
    worst: int = 10,
) -> Flips:
    """Count the decision flips and list up to ``worst`` of the worst and of the best.

    Ties in the distance to the threshold keep the pairs' order.
    """
    y = np.asarray(labels)
    cand = np.asarray(candidate_scores, dtype=np.float64)
    base = np.asarray(baseline_scores, dtype=np.float64)
    n = y.shape[0] if y.ndim == 1 else -1
    if n < 0 or cand.shape != (n,) or base.shape != (n,) or len(sentence1) != n:
        raise ValueError("labels, both score arrays and sentence1 must be 1-D of one length")
    if len(sentence2) != n:
        raise ValueError(f"sentence2 has {len(sentence2)} rows, the labels {n}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0 or 1")
    if worst < 0:
        raise ValueError(f"worst must be non-negative, got {worst}")
    positive = y == 1
    cand_right = (cand >= candidate_threshold) == positive
    base_right = (base >= baseline_threshold) == positive
    # how far the candidate's score lies on the right side of its threshold (negative: wrong)
    margin = np.where(positive, cand - candidate_threshold, candidate_threshold - cand)

    def listed(mask: np.ndarray, key: np.ndarray) -> tuple[Flip, ...]:
        idx = np.flatnonzero(mask)
        idx = idx[np.argsort(-key[idx], kind="stable")][:worst]
        return tuple(
            Flip(
                index=i,
                sentence1=sentence1[i],
                sentence2=sentence2[i],
                label=int(y[i]),
                candidate_score=float(cand[i]),
                baseline_score=float(base[i]),
            )
            for i in (int(j) for j in idx)
        )

    to_right = ~base_right & cand_right
    to_wrong = base_right & ~cand_right
    b, c = int(to_right.sum()), int(to_wrong.sum())
    return Flips(
        both_right=int((base_right & cand_right).sum()),
        both_wrong=int((~base_right & ~cand_right).sum()),
        wrong_to_right=b,
        right_to_wrong=c,
        mcnemar_p=mcnemar_exact(b, c),
        worst=listed(to_wrong, -margin),
        best=listed(to_right, margin),
    )
