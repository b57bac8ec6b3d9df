"""Unit tests for harness.report.leaderboard: ranking, primary metric, Markdown and text tables."""

from __future__ import annotations

import copy
import re

import pytest
from results_factory import GRADED, LABELS, build, evaluation_of

from harness.report.leaderboard import (
    leaderboard_rows,
    primary_metric,
    render_markdown,
    render_text,
    verdict_reason,
)


def names(rows: list[dict]) -> list[str]:
    return [r["model"] for r in rows]


def test_ranks_best_first_with_the_baseline_among_the_candidates():
    results, _ = build(candidates={"good": 0.95, "poor": 0.1}, baselines={"base": 0.5})

    rows = leaderboard_rows(results, "sts")

    assert primary_metric(results, "sts") == "spearman"
    assert names(rows) == ["good", "base (baseline)", "poor"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    values = [r["spearman"] for r in rows]
    assert values == sorted(values, reverse=True)


def test_the_baseline_shows_no_delta_and_candidates_their_interval():
    results, _ = build(candidates={"good": 0.95})

    rows = {r["model"]: r for r in leaderboard_rows(results, "sts")}

    assert rows["base (baseline)"]["delta"] == "-"
    assert re.fullmatch(r"[+-]\d\.\d{4} \[[+-]\d\.\d{4}, [+-]\d\.\d{4}\]", rows["good"]["delta"])
    assert rows["good"]["verdict"] == "PROMOTE"
    assert rows["base (baseline)"]["verdict"] == "baseline"


def test_primary_metric_is_the_first_comparison_metric_the_data_set_defines():
    results, _ = build(datasets={"pairs": LABELS, "graded": GRADED})

    assert primary_metric(results, "pairs") == "roc_auc"  # no gold scores: no spearman
    assert primary_metric(results, "graded") == "spearman"


@pytest.mark.parametrize("metric", ["fp_rate", "fn_rate"])
def test_a_lower_is_better_primary_metric_ranks_ascending(metric):
    results, _ = build(candidates={"a": 0.9, "b": 0.3}, baselines={"base": 0.6},
                       datasets={"pairs": LABELS}, comparison_metrics=(metric,))
    rates = {"a": 0.30, "b": 0.05, "base": 0.60}
    for model, rate in rates.items():
        evaluation_of(results, model, "pairs")["metrics"][metric]["value"] = rate

    rows = leaderboard_rows(results, "pairs")

    assert primary_metric(results, "pairs") == metric
    assert names(rows) == ["b", "a", "base (baseline)"]


def test_a_model_without_the_primary_metric_ranks_last():
    results, _ = build(candidates={"a": 0.9, "b": 0.95})
    del evaluation_of(results, "b", "sts")["metrics"]["spearman"]

    assert names(leaderboard_rows(results, "sts"))[-1] == "b"


def test_markdown_tables_are_well_formed():
    results, _ = build(candidates={"good": 0.95, "poor": 0.1},
                       datasets={"sts": "both", "pairs": LABELS},
                       rejected={"poor": ("beats_baseline[sts]", "does not beat\nthe baseline")})

    markdown = render_markdown(results)

    tables = [block for block in markdown.split("\n\n") if block.startswith("|")]
    assert len(tables) == 2
    for table in tables:
        lines = table.splitlines()
        assert len(lines) == 2 + 3  # header, separator, three models
        widths = {line.count("|") for line in lines}
        assert len(widths) == 1, f"rows have different column counts:\n{table}"
        assert re.fullmatch(r"\|(?:-{3}:?\|)+", lines[1])
        assert lines[1].startswith("|---:|---|")  # rank right-aligned, model left-aligned
    assert "## sts (gating)" in markdown and "## pairs (reference, never fails)" in markdown
    assert "- **PROMOTE** `good`" in markdown
    assert "- **REJECT** `poor`: beats_baseline[sts] failed: does not beat the baseline" in markdown


def test_text_tables_fit_100_columns_for_realistic_names():
    results, _ = build(
        candidates={"minilm-stsb-lora-r16-v3": 0.9, "minilm-hardneg-lora": 0.7},
        baselines={"all-MiniLM-L6-v2": 0.5},
        datasets={"it_incidents": "both", "stsb_reference": GRADED},
    )

    text = render_text(results)

    assert "it_incidents (gating)" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    header = text.splitlines()[1]
    assert header.split()[:2] == ["#", "model"]


def test_long_checkpoint_names_are_shortened_in_the_terminal_only():
    long_name = "team-incidents-minilm-lora-r16-alpha32-lr2e-4-epoch3-seed1234-final"
    results, _ = build(
        candidates={long_name: 0.9, "short": 0.7},
        baselines={"all-MiniLM-L6-v2": 0.5},
        datasets={"it_incidents": "both"},
    )

    text = render_text(results)

    assert max(len(line) for line in text.splitlines()) <= 100
    shown = next(line for line in text.splitlines() if line.startswith("1 "))
    assert "team-incidents" in shown and "seed1234-final" in shown and "..." in shown
    assert "short" in text and "all-MiniLM-L6-v2 (baseline)" in text
    assert long_name in render_markdown(results)  # the paste-able table keeps the full name


def test_verdict_reason_is_one_bounded_line():
    results, _ = build(rejected={"cand-a": ("meets_targets[sts]", "line one\n  line two" * 80)})
    checkpoint = results["checkpoints"][0]

    reason = verdict_reason(checkpoint, ": ")

    assert reason.startswith(": meets_targets[sts] failed: line one line two")
    assert "\n" not in reason and reason.endswith("...")
    passed = copy.deepcopy(checkpoint) | {"first_failure": None}
    assert verdict_reason(passed) == ""
