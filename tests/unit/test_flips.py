"""Decision flips between baseline and candidate, McNemar's exact test, the worst flips."""

from __future__ import annotations

import json
from math import comb

import numpy as np
import pytest

from harness.quality.flips import decision_flips, mcnemar_exact

# label, baseline score, candidate score; thresholds: baseline 0.6, candidate 0.5
ROWS = [
    (1, 0.90, 0.80),  # both right
    (0, 0.20, 0.30),  # both right
    (1, 0.70, 0.10),  # right -> wrong, 0.40 on the wrong side
    (0, 0.30, 0.95),  # right -> wrong, 0.45 on the wrong side
    (1, 0.65, 0.45),  # right -> wrong, 0.05 on the wrong side
    (1, 0.50, 0.70),  # wrong -> right, 0.20 on the right side
    (0, 0.70, 0.20),  # wrong -> right, 0.30 on the right side
    (0, 0.80, 0.90),  # both wrong
    (1, 0.10, 0.20),  # both wrong
    (0, 0.59, 0.50),  # right -> wrong: a score equal to the threshold is a positive
]


@pytest.fixture
def flips():
    labels, base, cand = (np.array(col) for col in zip(*ROWS, strict=True))
    s1 = [f"left {i}" for i in range(len(ROWS))]
    s2 = [f"right {i}" for i in range(len(ROWS))]
    return decision_flips(labels, cand, base, 0.5, 0.6, s1, s2, worst=10)


def test_counts_by_hand(flips):
    assert (flips.both_right, flips.both_wrong) == (2, 2)
    assert (flips.wrong_to_right, flips.right_to_wrong) == (2, 4)
    assert flips.n_pairs == len(ROWS)


def test_worst_are_furthest_on_the_wrong_side_first_and_best_on_the_right_side(flips):
    assert [f.index for f in flips.worst] == [3, 2, 4, 9]
    assert [f.index for f in flips.best] == [6, 5]
    first = flips.worst[0]
    assert (first.sentence1, first.sentence2, first.label) == ("left 3", "right 3", 0)
    assert (first.candidate_score, first.baseline_score) == (0.95, 0.30)


def test_worst_keeps_only_as_many_as_asked():
    labels, base, cand = (np.array(col) for col in zip(*ROWS, strict=True))
    s = [str(i) for i in range(len(ROWS))]
    two = decision_flips(labels, cand, base, 0.5, 0.6, s, s, worst=2)
    assert [f.index for f in two.worst] == [3, 2]
    assert two.right_to_wrong == 4  # the counts are not truncated


def test_mcnemar_by_the_binomial_formula(flips):
    # two-sided exact: 2 * P(X <= min(b, c)) for X ~ Binomial(b + c, 1/2), capped at 1
    def by_hand(b, c):
        n = b + c
        return min(1.0, 2 * sum(comb(n, i) for i in range(min(b, c) + 1)) / 2**n)

    assert flips.mcnemar_p == pytest.approx(44 / 64)  # b=2, c=4
    for b, c in [(2, 8), (0, 5), (13, 4), (30, 12), (7, 7)]:
        assert mcnemar_exact(b, c) == pytest.approx(by_hand(b, c), rel=1e-12)
    assert mcnemar_exact(2, 8) == pytest.approx(112 / 1024)
    assert mcnemar_exact(0, 0) == 1.0


def test_to_dict_is_plain_json(flips):
    data = flips.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert data["worst"][0] == {
        "index": 3,
        "sentence1": "left 3",
        "sentence2": "right 3",
        "label": 0,
        "candidate_score": 0.95,
        "baseline_score": 0.30,
    }
    assert {k: data[k] for k in ("both_right", "both_wrong", "wrong_to_right")} == {
        "both_right": 2,
        "both_wrong": 2,
        "wrong_to_right": 2,
    }


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="one length"):
        decision_flips([1, 0], [0.1, 0.2, 0.3], [0.1, 0.2], 0.5, 0.5, ["a", "b"], ["c", "d"])
