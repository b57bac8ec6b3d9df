"""Unit tests for harness.runs.diff and `python -m harness compare`."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from paths import REPO
from results_factory import HALF_WIDTH, build, evaluation_of, with_metric

from harness.runs.diff import compare_metric, compare_results, main


@pytest.fixture(scope="module")
def run() -> dict:
    """One run: cand-a PROMOTE, cand-b REJECT, on one graded and labelled data set."""
    results, _ = build(candidates={"cand-a": 0.9, "cand-b": 0.2},
                       rejected={"cand-b": ("beats_baseline[sts]", "does not beat the baseline")})
    return results


def write(folder: Path, results: dict, name: str) -> Path:
    path = folder / name / "results.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(results), encoding="utf-8")
    return path


def compare(tmp_path: Path, capsys, old: dict, new: dict) -> tuple[int, str]:
    status = main(str(write(tmp_path, old, "old")), str(write(tmp_path, new, "new")))
    out = capsys.readouterr()
    text = out.out + out.err
    assert max(len(line) for line in text.splitlines()) <= 100
    return status, text


def test_identical_runs_report_no_change(tmp_path, capsys, run):
    status, text = compare(tmp_path, capsys, run, copy.deepcopy(run))

    assert status == 0
    assert "no change" in text
    assert "REGRESSION" not in text


def test_report_folders_are_accepted(tmp_path, capsys, run):
    old = write(tmp_path, run, "old").parent
    new = write(tmp_path, run, "new").parent

    assert main(str(old), str(new)) == 0
    assert f"old: {old / 'results.json'}" in capsys.readouterr().out


def test_a_worse_run_is_a_regression_naming_the_metric_and_the_flip(tmp_path, capsys, run):
    worse = with_metric(run, "cand-a", "sts", "roc_auc", 0.60)
    checkpoint = next(c for c in worse["checkpoints"] if c["name"] == "cand-a")
    checkpoint.update(verdict="REJECT", first_failure={
        "check": "meets_targets[sts]", "outcome": "failed", "message": "roc_auc misses 0.95"})

    status, text = compare(tmp_path, capsys, run, worse)

    assert status == 1
    assert "REGRESSIONS (2)" in text
    assert "cand-a: PROMOTE -> REJECT (meets_targets[sts] failed: roc_auc misses 0.95)" in text
    old_value = evaluation_of(run, "cand-a", "sts")["metrics"]["roc_auc"]["value"]
    assert f"cand-a on sts: roc_auc {old_value:.4f} -> 0.6000" in text
    assert "WORSE" in text
    assert text.rstrip().endswith("result: REGRESSION")


def test_a_change_within_the_intervals_is_noise(tmp_path, capsys, run):
    value = evaluation_of(run, "cand-a", "sts")["metrics"]["spearman"]["value"]
    moved = with_metric(run, "cand-a", "sts", "spearman", value - HALF_WIDTH / 2)

    status, text = compare(tmp_path, capsys, run, moved)

    assert status == 0
    assert "1 metric change(s) within both runs' intervals" in text
    assert "spearman" not in text


def test_direction_comes_from_the_metric(tmp_path, capsys, run):
    fp_rate = evaluation_of(run, "cand-a", "sts")["metrics"]["fp_rate"]["value"]
    lower = with_metric(run, "cand-a", "sts", "fp_rate", max(fp_rate - 0.2, 0.0))
    higher = with_metric(run, "cand-a", "sts", "fp_rate", fp_rate + 0.2)

    status, text = compare(tmp_path / "down", capsys, run, lower)
    assert status == 0
    assert "IMPROVEMENTS (1)" in text and "fp_rate" in text and "better" in text

    status, text = compare(tmp_path / "up", capsys, run, higher)
    assert status == 1
    assert "REGRESSIONS (1)" in text and "fp_rate" in text and "WORSE" in text


def test_the_rule_also_flags_the_old_value_outside_the_new_interval():
    old = {"value": 0.80, "ci": [0.60, 0.95]}  # a wide old interval holds the new value
    new = {"value": 0.70, "ci": [0.68, 0.72]}  # a narrow new one excludes the old value

    change = compare_metric("m", "d", "roc_auc", old, new)

    assert change is not None and change.regression
    assert compare_metric("m", "d", "roc_auc", old, dict(new, ci=[0.6, 0.9])).text == ""


def test_a_metric_without_intervals_is_listed_but_never_a_regression():
    change = compare_metric("m", "d", "spearman", {"value": 0.8}, {"value": 0.5})

    assert change is not None and not change.regression
    assert "no interval to judge it" in change.text


def test_new_and_vanished_checkpoints_are_listed(tmp_path, capsys, run):
    renamed = copy.deepcopy(run)
    for checkpoint in renamed["checkpoints"]:
        if checkpoint["name"] == "cand-b":
            checkpoint["name"] = "cand-c"
    for evaluation in renamed["evaluations"]:
        if evaluation["model"] == "cand-b":
            evaluation["model"] = "cand-c"

    status, text = compare(tmp_path, capsys, run, renamed)

    assert status == 0
    assert "NEW CHECKPOINTS\n  cand-c (REJECT)" in text
    assert "VANISHED CHECKPOINTS\n  cand-b (was REJECT)" in text


def test_reject_to_promote_is_an_improvement(tmp_path, capsys, run):
    fixed = copy.deepcopy(run)
    checkpoint = next(c for c in fixed["checkpoints"] if c["name"] == "cand-b")
    checkpoint.update(verdict="PROMOTE", first_failure=None)

    status, text = compare(tmp_path, capsys, run, fixed)

    assert status == 0
    assert "IMPROVEMENTS (1)\n  cand-b: REJECT -> PROMOTE" in text


def test_changed_data_is_warned_about_and_marked(tmp_path, capsys, run):
    other_data = with_metric(run, "cand-a", "sts", "roc_auc", 0.5)
    other_data["datasets"][0]["fingerprint"] = "ff" * 32

    status, text = compare(tmp_path, capsys, run, other_data)

    assert status == 1  # still counted: fail closed
    assert "WARNING: data set 'sts' changed (test fingerprint" in text
    assert "different data" in text


def test_context_changes_are_noted(run):
    moved = copy.deepcopy(run)
    moved["environment"]["versions"]["torch"] = "9.9.9"
    moved["config"]["fingerprint"] = "00" * 32

    comparison = compare_results(run, moved)

    assert not comparison.regressed
    assert any("torch 2.13.0 -> 9.9.9" in line for line in comparison.other)
    assert any("gate config changed" in line for line in comparison.other)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file or folder"),
        ('{"checkpoints": [', "not valid JSON"),
        ("[1, 2]", "not a gate results.json: the top level is a list"),
        ('{"checkpoints": []}', "not a gate results.json: no list 'evaluations', 'datasets'"),
        ('{"checkpoints": [{"x": 1}], "evaluations": [], "datasets": []}', "lacks name, verdict"),
    ],
)
def test_unreadable_input_exits_2_naming_the_file_and_the_fix(tmp_path, capsys, run, content,
                                                              problem):
    good = write(tmp_path, run, "good")
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content, encoding="utf-8")

    status = main(str(good), str(bad))

    err = capsys.readouterr().err
    assert status == 2
    assert str(bad) in err and problem in err
    assert "fix:" in err


def test_a_folder_without_results_json_exits_2(tmp_path, capsys, run):
    status = main(str(tmp_path), str(write(tmp_path, run, "good")))

    assert status == 2
    assert f"{tmp_path}: this folder has no results.json" in capsys.readouterr().err


def test_the_command_line(tmp_path, run):
    worse = with_metric(run, "cand-a", "sts", "roc_auc", 0.5)
    old, new = write(tmp_path, run, "old"), write(tmp_path, worse, "new")
    python = [sys.executable, "-m", "harness"]

    helped = subprocess.run([*python, "--help"], capture_output=True, text=True, cwd=REPO)
    compared = subprocess.run([*python, "compare", str(old), str(new)], capture_output=True,
                              text=True, cwd=REPO)

    assert helped.returncode == 0 and "compare" in helped.stdout
    assert compared.returncode == 1, compared.stderr
    assert "roc_auc" in compared.stdout and "REGRESSION" in compared.stdout


def with_slices(results: dict, worse: bool, spearman: float) -> dict:
    """cand-a with one slice of the data set: its Spearman (interval +-0.05) and whether the
    slice test called it significantly worse."""
    doc = copy.deepcopy(results)
    evaluation = evaluation_of(doc, "cand-a", "sts")
    row = {"value": spearman, "ci": [spearman - 0.05, spearman + 0.05]}
    evaluation["slices"] = {
        "metrics": ["spearman"],
        "rows": [{"slice": "vpn", "n_pairs": 29, "metrics": {"spearman": row}}],
        "test": {
            "rows": [
                {"slice": "vpn", "metric": "spearman", "improvement": -0.2, "p_value": 1e-4,
                 "p_adjusted": 1e-3 if worse else 0.5, "significantly_worse": worse}
            ]
        },
    }
    return doc


def test_a_slice_newly_significantly_worse_is_a_regression(run):
    old, new = with_slices(run, False, 0.80), with_slices(run, True, 0.60)

    comparison = compare_results(old, new)

    texts = [c.text for c in comparison.regressions]
    assert any("sts [slice vpn]: spearman 0.8000 -> 0.6000" in t and "WORSE" in t for t in texts)
    assert any("slice 'vpn' is now significantly worse than the baseline on spearman" in t
               for t in texts)
    assert not compare_results(new, old).regressed


def with_leakage(results: dict, leaked: int, role: str = "gate") -> dict:
    doc = copy.deepcopy(results)
    pairs = {"total": 100, "exact": leaked, "normalised": leaked}
    next(c for c in doc["checkpoints"] if c["name"] == "cand-a")["leakage"] = {
        "datasets": [{"dataset": "sts", "role": role, "pairs": pairs}]
    }
    return doc


def test_more_leaked_pairs_on_a_gating_set_is_a_regression(run):
    comparison = compare_results(with_leakage(run, 0), with_leakage(run, 3))

    assert [c.text for c in comparison.regressions] == [
        "cand-a: 0 -> 3 test pairs of 'sts' found in training"
    ]
    reference = compare_results(
        with_leakage(run, 0, "reference"), with_leakage(run, 3, "reference")
    )
    assert not reference.regressed and reference.other


def test_a_retrieval_metric_has_a_direction():
    old, new = {"value": 0.80, "ci": [0.78, 0.82]}, {"value": 0.70, "ci": [0.68, 0.72]}
    change = compare_metric("cand", "it_retrieval", "recall@5", old, new)

    assert change is not None and change.regression and "WORSE" in change.text
