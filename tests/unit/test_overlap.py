"""Lexical overlap (TF-IDF cosine) and the error rates per overlap bucket."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import cosine_similarity

from harness.quality.overlap import (
    HIGH_OVERLAP,
    OVERLAP_EDGES,
    high_overlap_fp_rate,
    lexical_overlap,
    overlap_buckets,
)

S1 = [
    "The VPN drops every hour",
    "Printer on floor 3 is out of toner",
    "Reset my password please",
    "Outlook crashes on start",
    "The VPN drops every hour",
    "disk disk disk full on the build server",
    "?!",
]
S2 = [
    "VPN disconnects hourly",
    "printer out of toner on floor 3",
    "Reset my password please",
    "OUTLOOK CRASHES ON START",
    "The build server disk is full",
    "the build server disk is full",
    "anything",
]


def test_overlap_is_sklearn_cosine_of_the_tfidf_fitted_on_the_data_sets_texts():
    vectorizer = TfidfVectorizer(lowercase=True, sublinear_tf=True)
    vectorizer.fit(list(dict.fromkeys(S1 + S2)))  # each distinct text once, both columns
    reference = np.diag(cosine_similarity(vectorizer.transform(S1), vectorizer.transform(S2)))
    got = lexical_overlap(S1, S2)
    np.testing.assert_allclose(got[:2], reference[:2], atol=1e-12)
    np.testing.assert_allclose(got[4:], reference[4:], atol=1e-12)
    assert 0.0 < got[0] < got[1] < 1.0


def test_identical_texts_overlap_exactly_one_and_fall_in_the_last_bucket():
    got = lexical_overlap(S1, S2)
    assert got[2] == 1.0
    assert got[3] == pytest.approx(1.0)  # only the casing differs
    assert got[6] == 0.0  # no word at all
    rows = overlap_buckets(got[2:3], [1], [0.9], threshold=0.5)
    assert [r.n_pairs for r in rows] == [0, 0, 0, 0, 1]
    assert (rows[-1].low, rows[-1].high) == (0.8, 1.0)


def test_overlap_without_any_word():
    assert lexical_overlap(["!", "?"], ["...", "?"]).tolist() == [0.0, 1.0]
    assert lexical_overlap([], []).shape == (0,)


def test_bucket_counts_by_hand():
    overlap = [0.0, 0.1, 0.2, 0.39, 0.4, 0.6, 0.79, 0.8, 1.0, 0.95, 0.85]
    labels = [0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0]
    scores = [0.6, 0.4, 0.1, 0.2, 0.9, 0.7, 0.3, 0.6, 0.2, 0.9, 0.4]
    gold = [0.0, 4.0, 1.0, 0.5, 4.5, 2.0, 1.5, 3.0, 5.0, 1.0, 0.5]
    rows = overlap_buckets(overlap, labels, scores, threshold=0.5, gold_scores=gold)
    edges = list(zip(OVERLAP_EDGES[:-1], OVERLAP_EDGES[1:], strict=True))
    assert [(r.low, r.high) for r in rows] == edges
    by_hand = [
        # n_pairs, n_positives, n_negatives, fp, fn, fp_rate, fn_rate
        (2, 1, 1, 1, 1, 1.0, 1.0),
        (2, 0, 2, 0, 0, 0.0, None),
        (1, 1, 0, 0, 0, None, 0.0),
        (2, 0, 2, 1, 0, 0.5, None),
        (4, 2, 2, 1, 1, 0.5, 0.5),
    ]
    got = [
        (r.n_pairs, r.n_positives, r.n_negatives, r.fp, r.fn, r.fp_rate, r.fn_rate) for r in rows
    ]
    assert got == by_hand
    assert rows[0].roc_auc == 0.0 and rows[1].roc_auc is None and rows[2].roc_auc is None
    last = slice(7, 11)
    assert rows[4].roc_auc == roc_auc_score(labels[last], scores[last])
    assert rows[2].spearman is None  # a single pair
    data = [r.to_dict() for r in rows]
    assert json.loads(json.dumps(data, allow_nan=False)) == data


def test_high_overlap_negatives():
    overlap = [0.59, 0.6, 0.7, 0.9, 0.95, 0.1]
    labels = [0, 0, 0, 1, 0, 0]
    scores = [0.9, 0.8, 0.2, 0.9, 0.55, 0.9]
    high = high_overlap_fp_rate(overlap, labels, scores, threshold=0.5)
    assert HIGH_OVERLAP == 0.6
    assert high.to_dict() == {"threshold": 0.6, "negatives": 3, "fp": 2, "fp_rate": 2 / 3}
    none = high_overlap_fp_rate([0.1], [0], [0.9], threshold=0.5)
    assert none.to_dict() == {"threshold": 0.6, "negatives": 0, "fp": 0, "fp_rate": None}


def test_overlap_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        overlap_buckets([1.2], [1], [0.5], threshold=0.5)
