"""Errors by word overlap: are the mistakes the pairs that merely share words?

Each pair gets a lexical overlap in [0, 1], the TF-IDF cosine of its two sentences
(:func:`lexical_overlap`), and the pairs are grouped into the fixed buckets
:data:`OVERLAP_EDGES` (:func:`overlap_buckets`). Negatives with high overlap are the hard
negatives a sentence-embedding model most often scores too high
(:func:`high_overlap_fp_rate`).

TF-IDF settings (sklearn ``TfidfVectorizer``): fitted on the data set's own distinct sentences
(both columns, each distinct text once, so a sentence repeated across many pairs does not lower
the weight of its own words); ``lowercase=True`` and the default token pattern (words of two or
more letters or digits; punctuation ignored), so overlap means shared words, not shared
casing; ``sublinear_tf=True`` (1 + log tf), so a word repeated within one sentence does not
dominate it; smoothed idf and L2 normalisation as sklearn's defaults. Identical sentences
have overlap exactly 1; a sentence with no word (e.g. only punctuation) has overlap 0 with any
other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.feature_extraction.text import TfidfVectorizer

from harness.quality.metrics import confusion_at, ranking_metrics

__all__ = [
    "HIGH_OVERLAP",
    "OVERLAP_EDGES",
    "HighOverlap",
    "OverlapBucket",
    "high_overlap_fp_rate",
    "lexical_overlap",
    "overlap_buckets",
    "tfidf_vectorizer",
]

#: bucket edges of the overlap; each bucket is [low, high), the last one [0.8, 1.0] closed
OVERLAP_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)

#: negatives whose overlap is at or above this are "high-overlap negatives"
HIGH_OVERLAP = 0.6


def tfidf_vectorizer() -> TfidfVectorizer:
    """The vectorizer :func:`lexical_overlap` fits (settings in the module docstring)."""
    return TfidfVectorizer(lowercase=True, sublinear_tf=True, norm="l2", smooth_idf=True)


def lexical_overlap(sentence1: Sequence[str], sentence2: Sequence[str]) -> np.ndarray:
    """TF-IDF cosine of each pair's two sentences, in [0, 1], fitted on these sentences."""
    s1, s2 = list(sentence1), list(sentence2)
    if len(s1) != len(s2):
        raise ValueError(f"sentence1 has {len(s1)} rows, sentence2 has {len(s2)}")
    out = np.zeros(len(s1))
    if not s1:
        return out
    texts = list(dict.fromkeys(s1 + s2))
    try:
        vectors = tfidf_vectorizer().fit(texts)
    except ValueError:  # no sentence has a single word: no overlap to measure
        vectors = None
    if vectors is not None:
        a, b = vectors.transform(s1), vectors.transform(s2)
        out = np.asarray(a.multiply(b).sum(axis=1), dtype=np.float64).ravel()
    same = np.fromiter((x == y for x, y in zip(s1, s2, strict=True)), dtype=bool, count=len(s1))
    out[same] = 1.0
    return np.clip(out, 0.0, 1.0)


def _bucket_index(overlap: np.ndarray) -> np.ndarray:
    if overlap.size and (np.any(~np.isfinite(overlap)) or overlap.min() < 0 or overlap.max() > 1):
        raise ValueError("overlap values must lie in [0, 1]")
    idx = np.searchsorted(np.asarray(OVERLAP_EDGES), overlap, side="right") - 1
    return np.minimum(idx, len(OVERLAP_EDGES) - 2)  # 1.0 belongs to the last bucket


@dataclass(frozen=True)
class OverlapBucket:
    """The pairs whose overlap lies in [low, high) (the last bucket includes 1.0).

    Rates are None when the bucket has no pair of the class they divide by; ``roc_auc`` is
    None unless the bucket holds both classes, ``spearman`` unless gold scores were given and
    are not constant there.
    """

    low: float
    high: float
    n_pairs: int
    n_positives: int
    n_negatives: int
    fp: int
    fn: int
    fp_rate: float | None
    fn_rate: float | None
    roc_auc: float | None
    spearman: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "high": self.high,
            "n_pairs": self.n_pairs,
            "n_positives": self.n_positives,
            "n_negatives": self.n_negatives,
            "fp": self.fp,
            "fn": self.fn,
            "fp_rate": self.fp_rate,
            "fn_rate": self.fn_rate,
            "roc_auc": self.roc_auc,
            "spearman": self.spearman,
        }


def _inputs(
    overlap: ArrayLike, labels: ArrayLike, scores: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    o = np.asarray(overlap, dtype=np.float64)
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if o.ndim != 1 or y.shape != o.shape or s.shape != o.shape:
        raise ValueError(
            f"overlap {o.shape}, labels {y.shape} and scores {s.shape} must be 1-D of one length"
        )
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0 or 1")
    return o, y.astype(np.int64), s


def _spearman(scores: np.ndarray, gold: np.ndarray) -> float | None:
    if scores.size < 2 or np.ptp(scores) == 0 or np.ptp(gold) == 0:
        return None
    return float(stats.spearmanr(scores, gold).statistic)


def overlap_buckets(
    overlap: ArrayLike,
    labels: ArrayLike,
    scores: ArrayLike,
    threshold: float,
    gold_scores: ArrayLike | None = None,
) -> list[OverlapBucket]:
    """One row per bucket of :data:`OVERLAP_EDGES`, empty buckets included.

    A pair is predicted positive iff ``score >= threshold``; fp_rate = FP / negatives and
    fn_rate = FN / positives within the bucket.
    """
    o, y, s = _inputs(overlap, labels, scores)
    gold = None if gold_scores is None else np.asarray(gold_scores, dtype=np.float64)
    if gold is not None and gold.shape != o.shape:
        raise ValueError(f"gold_scores has shape {gold.shape}, overlap has {o.shape}")
    which = _bucket_index(o)
    rows = []
    for k in range(len(OVERLAP_EDGES) - 1):
        mask = which == k
        n_pos = int(y[mask].sum())
        n_neg = int(mask.sum()) - n_pos
        fp = fn = 0
        if mask.any():
            c = confusion_at(s[mask], y[mask], threshold)
            fp, fn = c.fp, c.fn
        rows.append(
            OverlapBucket(
                low=OVERLAP_EDGES[k],
                high=OVERLAP_EDGES[k + 1],
                n_pairs=int(mask.sum()),
                n_positives=n_pos,
                n_negatives=n_neg,
                fp=fp,
                fn=fn,
                fp_rate=fp / n_neg if n_neg else None,
                fn_rate=fn / n_pos if n_pos else None,
                roc_auc=ranking_metrics(s[mask], y[mask])["roc_auc"] if n_pos and n_neg else None,
                spearman=None if gold is None else _spearman(s[mask], gold[mask]),
            )
        )
    return rows


@dataclass(frozen=True)
class HighOverlap:
    """The negatives with overlap at or above ``threshold`` and how many the model accepts."""

    threshold: float
    negatives: int
    fp: int
    fp_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        """``{threshold, negatives, fp, fp_rate}`` (fp_rate None without such negatives)."""
        return {
            "threshold": self.threshold,
            "negatives": self.negatives,
            "fp": self.fp,
            "fp_rate": self.fp_rate,
        }


def high_overlap_fp_rate(
    overlap: ArrayLike,
    labels: ArrayLike,
    scores: ArrayLike,
    threshold: float,
    *,
    cutoff: float = HIGH_OVERLAP,
) -> HighOverlap:
    """The false-positive rate among the negatives with overlap >= ``cutoff``."""
    o, y, s = _inputs(overlap, labels, scores)
    hard = (o >= cutoff) & (y == 0)
    negatives = int(hard.sum())
    fp = int(np.count_nonzero(s[hard] >= threshold))
    return HighOverlap(
        threshold=float(cutoff),
        negatives=negatives,
        fp=fp,
        fp_rate=fp / negatives if negatives else None,
    )
