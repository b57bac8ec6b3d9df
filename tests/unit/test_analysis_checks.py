"""The analyses as gates, on evaluations built by hand: the FP rate judged on its exact bound,
the slice gate, the high-overlap FP target, Matryoshka targets and leakage; and which of them
the battery requires."""

from __future__ import annotations

import numpy as np
import pytest
from config_edits import edited
from paths import GATE_TOML, REPO

from harness.analysis_config import (
    AnalysisSpecs,
    FpRateSpec,
    MatryoshkaSpec,
    OverlapSpec,
)
from harness.checkpoint.discover import checkpoints_from_paths
from harness.config import load_config
from harness.quality.analysis_checks import (
    check_high_overlap_fp_rate,
    check_matryoshka_targets,
    check_no_leakage,
    check_no_slice_worse,
)
from harness.quality.checks import check_fp_rate
from harness.quality.error_bounds import ErrorBounds
from harness.quality.evaluate import Evaluation
from harness.quality.metrics import Confusion
from harness.run.battery import required_checks


def evaluation(fp: int, tn: int, **analyses) -> Evaluation:
    """A candidate on 'tickets' with `fp` of `fp + tn` negatives called similar (and 50 of 50
    positives found)."""
    ev = Evaluation(
        "cand", "candidate", "tickets", np.zeros(fp + tn + 50), {"fp_rate": fp / (fp + tn)}
    )
    ev.threshold, ev.threshold_policy = 0.5, "best F1"
    ev.confusion = [[tn, fp], [0, 50]]
    bounds = ErrorBounds.from_confusion(Confusion(tp=50, fp=fp, tn=tn, fn=0), 0.95)
    ev.analyses = {"error_bounds": bounds.to_dict(), **analyses}
    return ev


def test_the_fp_rate_judged_on_its_upper_bound_needs_more_evidence():
    # 15 of 150 (0.10) and 3 of 30 (0.10): the same estimate, very different evidence
    strong, weak = evaluation(15, 135), evaluation(3, 27)
    bound = FpRateSpec(judged_on="upper_bound")

    assert check_fp_rate(strong, 0.15) is None and check_fp_rate(weak, 0.15) is None
    assert check_fp_rate(strong, 0.15, bound) is None  # its bound: 0.1498
    message = check_fp_rate(weak, 0.15, bound)
    assert message is not None
    assert "its 95% upper bound 0.2386 (Clopper-Pearson, 3 of 30) misses its target <= 0.15" in (
        message
    )
    assert "3 of 30 unrelated pairs called similar" in message


def test_the_upper_bound_mode_refuses_a_set_without_negatives():
    ev = evaluation(0, 1)
    ev.analyses["error_bounds"]["fp"].update(total=0, rate=None, upper=None)

    message = check_fp_rate(ev, 0.2, FpRateSpec(judged_on="upper_bound"))
    assert message is not None and "has no negatives to bound it with" in message


def slices(worse: bool) -> dict:
    return {
        "metrics": ["spearman"],
        "rows": [
            {"slice": "vpn", "n_pairs": 29, "metrics": {"spearman": {
                "value": 0.41, "ci": [0.2, 0.6], "baseline": 0.75, "delta": -0.34,
                "delta_ci": [-0.5, -0.2]}}},
        ],
        "test": {
            "method": "paired permutation", "n_permutations": 10000, "n_comparisons": 20,
            "alpha": 0.05,
            "rows": [{"slice": "vpn", "metric": "spearman", "improvement": -0.34,
                      "p_value": 1e-4, "p_adjusted": 2e-3 if worse else 0.2,
                      "significantly_worse": worse}],
            "worse": [{"slice": "vpn", "metric": "spearman"}] if worse else [],
        },
    }


def test_the_slice_gate_names_each_slice_significantly_worse():
    assert check_no_slice_worse(evaluation(1, 99, slices=slices(False))) is None

    message = check_no_slice_worse(evaluation(1, 99, slices=slices(True)))
    assert message is not None
    assert "1 slice comparison(s) of 'tickets' significantly worse" in message
    assert "Holm-Bonferroni over 20 comparisons" in message
    assert "slice 'vpn' (29 pairs), spearman: candidate 0.4100 vs baseline 0.7500" in message
    assert "Holm-adjusted 0.002 < alpha 0.05" in message


def test_the_slice_gate_fails_a_set_without_slices():
    message = check_no_slice_worse(evaluation(1, 99, slices=None))
    assert message is not None and "has no slice column" in message


def overlap(fp: int, negatives: int) -> dict:
    return {"high_overlap": {"threshold": 0.6, "negatives": negatives, "fp": fp,
                             "fp_rate": fp / negatives if negatives else None}}


def test_the_high_overlap_target_judges_the_hard_negatives():
    analyses = AnalysisSpecs(overlap=OverlapSpec(fp_rate_target=0.3))

    assert check_high_overlap_fp_rate(evaluation(1, 99, overlap=overlap(2, 10)), analyses) is None
    message = check_high_overlap_fp_rate(evaluation(1, 99, overlap=overlap(29, 29)), analyses)
    assert message is not None and "29 of 29 negatives whose texts overlap" in message
    empty = check_high_overlap_fp_rate(evaluation(1, 99, overlap=overlap(0, 0)), analyses)
    assert empty is not None and "cannot be judged" in empty


def test_matryoshka_targets_are_held_at_their_dimension():
    table = {"dimensions": [384, 64], "rows": [
        {"dimension": 384, "metrics": {"spearman": 0.82, "fp_rate": 0.1}},
        {"dimension": 64, "metrics": {"spearman": 0.61, "fp_rate": 0.3}},
    ]}
    ev = evaluation(1, 99, matryoshka=table)
    met = AnalysisSpecs(matryoshka=MatryoshkaSpec((384, 64), {384: {"spearman": 0.8}}))
    missed = AnalysisSpecs(
        matryoshka=MatryoshkaSpec((384, 64), {64: {"spearman": 0.7, "fp_rate": 0.2}})
    )

    assert check_matryoshka_targets(ev, met) is None
    message = check_matryoshka_targets(ev, missed)
    assert message is not None
    assert "spearman at 64 dimensions 0.6100 misses its target >= 0.7 by 0.0900" in message
    assert "fp_rate at 64 dimensions 0.3000 misses its target <= 0.2 by 0.1000" in message


def leakage_row(dataset: str, leaked: int, role: str) -> dict:
    pairs = {"total": 290, "exact": leaked, "normalised": leaked,
             "normalised_share": leaked / 290, "exact_share": leaked / 290}
    return {"dataset": dataset, "role": role, "pairs": pairs,
            "examples": [{"sentence1": "vpn down", "sentence2": "no vpn"}]}


def leakage_report(*rows: dict) -> dict:
    return {
        "training_pairs": "/data/train.csv", "source": "train_settings.json field data.file",
        "max_share": 0.0, "error": None, "datasets": list(rows),
    }


@pytest.mark.parametrize(("leaked", "role", "fails"), [
    (0, "gate", False), (3, "gate", True), (400, "reference", False),
])
def test_leakage_fails_a_gating_set_only(leaked, role, fails):
    rows = [leakage_row("tickets", leaked, role), leakage_row("clean", 0, "gate")]
    message = check_no_leakage("cand", leakage_report(*rows))

    assert (message is not None) == fails
    if fails:
        assert "'tickets': 3 of 290 distinct pairs (1.0%) are training pairs" in message
        assert "'vpn down' / 'no vpn'" in message


def test_leakage_with_no_gating_set_checked_is_not_a_pass():
    message = check_no_leakage("cand", leakage_report(leakage_row("shown", 0, "reference")))
    assert message is not None and "no gating data set could be checked" in message


def test_a_training_pairs_file_that_cannot_be_read_fails_the_leakage_check():
    report = {**leakage_report(leakage_row("t", 0, "gate")), "error": "x.csv: gone"}
    assert check_no_leakage("cand", report) == "cand: x.csv: gone"


def test_the_battery_holds_the_analyses_gate_toml_asks_for(tmp_path):
    (example,) = checkpoints_from_paths([str(REPO / "models" / "minilm-stsb-lora")])
    required = required_checks(example, load_config(GATE_TOML), "cpu")

    assert "beats_baseline[it_incidents_retrieval]" in required
    assert "meets_targets[it_incidents_retrieval]" in required
    assert "fp_rate_under_target[it_incidents_retrieval]" not in required  # pairs only
    assert "no_slice_worse[it_incidents]" in required
    assert "no_leakage" in required  # its train_settings.json names its training pairs
    assert "no_slice_worse[it_incidents_retrieval]" not in required
    assert not any(c.startswith(("matryoshka_targets", "high_overlap")) for c in required)

    no_gate = load_config(edited(tmp_path, r"^gate = true", "gate = false"))
    assert "no_slice_worse[it_incidents]" not in required_checks(example, no_gate, "cpu")


def test_a_matryoshka_table_that_could_not_be_computed_fails_its_targets():
    table = {"dimensions": [2], "rows": [], "error": "scores are constant"}
    spec = AnalysisSpecs(matryoshka=MatryoshkaSpec((2,), {2: {"spearman": 0.1}}))

    message = check_matryoshka_targets(evaluation(1, 99, matryoshka=table), spec)
    assert message == "'tickets' at truncated dimensions: scores are constant"


def test_a_slice_gate_that_tested_nothing_is_not_a_pass():
    untested = slices(False)
    untested["test"].update(n_comparisons=0, rows=[], worse=[])
    message = check_no_slice_worse(evaluation(1, 99, slices=untested))
    assert message is not None and "the slice gate tested nothing" in message

    undefined = {"metrics": [], "rows": [], "test": None}
    message = check_no_slice_worse(evaluation(1, 99, slices=undefined))
    assert message is not None and "none of the slice metrics is defined on 'tickets'" in message


def test_the_upper_bound_mode_on_a_set_without_labels_fails_saying_so():
    ev = evaluation(1, 9)
    ev.analyses["error_bounds"] = None  # a graded-only set: no threshold, no error counts

    message = check_fp_rate(ev, 0.2, FpRateSpec(judged_on="upper_bound"))
    assert message is not None and "has no negatives to bound it with" in message
