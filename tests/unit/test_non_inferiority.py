"""A negative min_delta is a non-inferiority margin: the beats_baseline check, the summary,
leaderboard.md and report.html say "not worse than the baseline by more than |min_delta|",
never "beats"; with min_delta >= 0 they say what they always said."""

from __future__ import annotations

import numpy as np
import pytest
from results_factory import build

from harness.config import ComparisonSpec
from harness.quality.bootstrap import compare_models
from harness.quality.checks import check_beats_baseline
from harness.quality.evaluate import Evaluation
from harness.report.html import render_html
from harness.report.leaderboard import render_markdown
from harness.report.terminal import render_summary

N = 400
LABELS = np.arange(N) % 2
GOLD = LABELS * 4.0 + np.random.default_rng(0).normal(0, 0.5, N)
BASELINE = 0.5 * LABELS + np.random.default_rng(1).normal(0.3, 0.2, N)


def spec(min_delta: float) -> ComparisonSpec:
    return ComparisonSpec(("spearman", "roc_auc"), min_delta, n_resamples=300, confidence=0.95,
                          seed=1)  # fmt: skip


def candidate(shift: float, min_delta: float) -> Evaluation:
    """The baseline's scores with `shift` of each pair's label signal taken away (plus noise)."""
    scores = BASELINE - shift * LABELS + np.random.default_rng(2).normal(0, 0.01, N)
    comparisons = compare_models(
        ["spearman", "roc_auc"], scores, BASELINE, gold_scores=GOLD, labels=LABELS,
        n_resamples=300, seed=1,
    )  # fmt: skip
    metrics = {name: c.candidate for name, c in comparisons.items()}
    return Evaluation("cand", "candidate", "it", scores, metrics, comparisons=comparisons,
                      compared_with="base")  # fmt: skip


def test_a_slightly_worse_candidate_passes_a_margin_but_does_not_beat():
    slightly_worse = candidate(0.02, -0.05)
    assert check_beats_baseline(slightly_worse, spec(-0.05)) is None
    message = check_beats_baseline(slightly_worse, spec(0.0))
    assert message is not None and message.startswith("does not beat the baseline on 'it'")


def test_a_candidate_outside_the_margin_is_not_said_to_beat_anything():
    message = check_beats_baseline(candidate(0.3, -0.01), spec(-0.01))
    assert message is not None
    assert message.startswith(
        "is not shown to be not worse than the baseline by more than 0.01 on 'it' (300 paired "
        "bootstrap resamples over 400 pairs):"
    )
    assert "does not clear min_delta -0.01" in message
    assert "beat" not in message


@pytest.mark.parametrize(
    "render",
    [render_summary, render_markdown, lambda results: render_html(results, {})],
    ids=["summary", "leaderboard.md", "report.html"],
)
def test_summary_and_reports_name_the_margin(render):
    results, _ = build()
    results["config"]["comparison"]["min_delta"] = -0.02
    text = " ".join(render(results).split())
    assert (
        "omparison: each candidate must be not worse than the baseline by more than 0.02 on "
        "spearman, roc_auc (min_delta -0.02, a non-inferiority margin)"
    ) in text
    assert "beats the baseline" not in text

    results["config"]["comparison"]["min_delta"] = 0.0
    assert "non-inferiority" not in render(results)
