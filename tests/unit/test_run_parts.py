"""The run's parts without a model: check outcomes and completeness, the quality battery's
checks on evaluations computed from made-up scores, and promotion from a results document."""

from __future__ import annotations

import json

import numpy as np
import pytest
from results_factory import build

from harness.config import ComparisonSpec
from harness.quality.bootstrap import compare_models
from harness.quality.checks import check_beats_baseline, check_fp_rate, check_targets
from harness.quality.evaluate import Evaluation
from harness.run.outcomes import CheckOutcome, Outcomes, incomplete_reasons
from harness.runs.promotion import RECORD, promote

# ---- outcomes ------------------------------------------------------------------------------


def test_a_test_keeps_its_worst_phase():
    outcomes = Outcomes()
    outcomes.record("t[a]", CheckOutcome("a", "t", "passed"))
    outcomes.record("t[a]", CheckOutcome("a", "t", "error", "teardown broke"))
    outcomes.record("t[a]", CheckOutcome("a", "t", "failed", "later, milder"))
    assert outcomes.by_test["t[a]"].outcome == "error"
    assert outcomes.by_test["t[a]"].message == "teardown broke"


def test_failed_unsound_and_gated():
    outcomes = Outcomes()
    outcomes.record("x[a]", CheckOutcome("a", "x", "passed"))
    outcomes.record("y[b]", CheckOutcome("b", "y", "failed", "no"))
    outcomes.record("z[c]", CheckOutcome("c", "z", "skipped", "why"))
    assert not outcomes.has_failed("a") and outcomes.has_failed("b") and outcomes.has_failed("c")
    assert [o.checkpoint for o in outcomes.unsound()] == ["c"]
    assert bool(outcomes) and not Outcomes()


def test_incomplete_reasons_name_each_gap():
    outcomes = Outcomes()
    outcomes.record("x[a]", CheckOutcome("a", "x", "error", "boom"))
    missing = {"a": [f"check_{i}" for i in range(8)], "b": ["x", "y"], "c": []}
    reasons = incomplete_reasons(outcomes, missing, {"it": "/data/it.jsonl: gone\n  fix: x"})
    assert reasons == [
        "1 gate test(s) were skipped or errored, so their checks have no verdict (FAILED CLOSED)",
        "gating data set 'it' could not be read: /data/it.jsonl: gone",
        "checkpoint 'a' is INCOMPLETE: 8 required check(s) did not run: check_0, check_1, "
        "check_2, check_3, check_4, check_5 and 2 more",
        "checkpoint 'b' was not gated: none of its 2 required checks ran",
    ]
    worker = incomplete_reasons(outcomes, {}, {})
    assert worker == [reasons[0]], "a worker's share: no checkpoint's missing checks judged"


# ---- the quality battery's checks ----------------------------------------------------------

SPEC = ComparisonSpec(
    ("spearman", "roc_auc"), min_delta=0.0, n_resamples=300, confidence=0.95, seed=1
)


def evaluation(quality: float, *, baseline: np.ndarray | None = None, n: int = 400):
    """Scores that follow the labels with `quality`, compared with `baseline` scores."""
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    gold = labels * 4.0 + rng.normal(0, 0.5, n)
    scores = quality * labels + rng.normal(0.3, 0.2, n)
    threshold = 0.3 + quality / 2
    metrics_names = ["spearman", "roc_auc", "fp_rate"]
    base = scores if baseline is None else baseline
    comparisons = compare_models(
        metrics_names, scores, base, gold_scores=gold, labels=labels,
        candidate_threshold=threshold, baseline_threshold=threshold,
        n_resamples=SPEC.n_resamples, seed=SPEC.seed,
    )  # fmt: skip
    metrics = {name: c.candidate for name, c in comparisons.items()}
    fp = int(((scores >= threshold) & (labels == 0)).sum())
    tn = int((labels == 0).sum()) - fp
    return Evaluation(
        "cand", "candidate", "it", scores, metrics, threshold=threshold,
        threshold_policy="fixed threshold", confusion=[[tn, fp], [0, int(labels.sum())]],
        comparisons=comparisons, compared_with="base",
    )  # fmt: skip


@pytest.fixture(scope="module")
def weak():
    return evaluation(0.1)


def test_a_real_improvement_beats_the_baseline(weak):
    assert check_beats_baseline(evaluation(0.6, baseline=weak.scores), SPEC) is None


def test_a_worse_candidate_does_not_and_says_by_how_much(weak):
    strong = evaluation(0.6)
    message = check_beats_baseline(evaluation(0.1, baseline=strong.scores), SPEC)
    assert message is not None
    assert message.startswith("does not beat the baseline on 'it' (300 paired bootstrap")
    assert "spearman: candidate" in message and "roc_auc: candidate" in message
    assert "does not clear min_delta 0" in message and "(base)" in message


def test_an_identical_candidate_is_called_not_applied(weak):
    weak.identical_to_baseline = True
    try:
        message = check_beats_baseline(weak, SPEC)
    finally:
        weak.identical_to_baseline = False
    assert message is not None and "never applied" in message and "400 pairs" in message


def test_a_metric_the_data_cannot_give_is_a_miss(weak):
    spec = ComparisonSpec(
        ("spearman", "f1"), min_delta=0.0, n_resamples=300, confidence=0.95, seed=1
    )
    message = check_beats_baseline(evaluation(0.6, baseline=weak.scores), spec)
    assert message is not None and "f1: not defined on 'it'" in message


def test_targets_and_fp_rate(weak):
    strong = evaluation(0.6)
    assert check_targets(strong, {"roc_auc": 0.9, "fp_rate": 0.0}) is None  # fp_rate: own check
    miss = check_targets(weak, {"roc_auc": 0.95})
    assert miss is not None and "roc_auc" in miss and "misses its target >= 0.95 by" in miss
    fp = check_fp_rate(weak, 0.2)
    assert fp is not None and "unrelated pairs called similar at threshold 0.3500" in fp
    assert check_fp_rate(strong, 0.2) is None


# ---- promotion -----------------------------------------------------------------------------


def test_only_a_promoted_checkpoint_is_moved_with_its_record(tmp_path):
    results, _ = build(
        candidates={"good": 0.9, "bad": 0.8}, rejected={"bad": ("beats_baseline[sts]", "no")}
    )
    staging, target = tmp_path / "out" / ".staging", tmp_path / "out"
    for name in ("good", "bad"):
        (staging / name).mkdir(parents=True)
        (staging / name / "model.safetensors").write_bytes(name.encode())
    (target / "good").mkdir()
    (target / "good" / "old.txt").write_text("an older promotion")

    promoted = promote(results, staging, target)

    assert promoted == ["good"]
    assert sorted(p.name for p in target.iterdir()) == ["good"]  # bad deleted, staging gone
    assert sorted(p.name for p in (target / "good").iterdir()) == [RECORD, "model.safetensors"]
    record = json.loads((target / "good" / RECORD).read_text())
    assert record["checkpoint"]["name"] == "good" and record["checkpoint"]["verdict"] == "PROMOTE"
    assert {e["model"] for e in record["evaluations"]} == {"good"}
    assert len(record["model_fingerprint"]) == 64
    assert record["complete"] is True
    assert record["checks_passed"] == ["adapter_changes_embeddings", "beats_baseline[sts]"]


def test_an_incomplete_battery_is_never_promoted(tmp_path):
    results, _ = build(candidates={"partial": 0.9, "forged": 0.9})
    partial, forged = results["checkpoints"]
    partial.update(verdict="INCOMPLETE", missing_checks=["beats_baseline[sts]"])
    forged["missing_checks"] = ["beats_baseline[sts]"]  # a PROMOTE with a check missing
    staging, target = tmp_path / "out" / ".staging", tmp_path / "out"
    for name in ("partial", "forged"):
        (staging / name).mkdir(parents=True)

    assert promote(results, staging, target) == []
    assert list(target.iterdir()) == []  # staged copies deleted
