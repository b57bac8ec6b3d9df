"""The analyses as gates, where gate.toml asks for them: no slice significantly worse than the
baseline, the high-overlap negatives' FP rate, targets at truncated dimensions, no leakage of
evaluation pairs into training. Each returns None when it passes, else every miss in numbers.
"""

from __future__ import annotations

from typing import Any

from harness.analysis_config import AnalysisSpecs
from harness.quality.checks import target_gap
from harness.quality.evaluate import Evaluation


def _interval(low: float, high: float) -> str:
    return f"[{low:+.4f}, {high:+.4f}]"


def check_no_slice_worse(evaluation: Evaluation) -> str | None:
    """No slice is significantly worse than the baseline on a compared metric, after
    Holm-Bonferroni over every slice and metric."""
    slices = evaluation.analyses.get("slices")
    if slices is None:
        return (
            f"'{evaluation.dataset}' has no slice column: the slice gate has nothing to test. "
            "Give its pairs a slice column, or set [slices] gate = false in gate.toml."
        )
    if not slices["metrics"]:
        return (
            f"none of the slice metrics is defined on '{evaluation.dataset}' (it defines "
            f"{', '.join(evaluation.metrics)}): the slice gate has nothing to test. Set [slices] "
            "metrics to metrics it defines."
        )
    test = slices.get("test")
    if test is None:
        return f"the slices of '{evaluation.dataset}' were not compared with the baseline"
    if not test["n_comparisons"]:
        return (
            f"no slice of '{evaluation.dataset}' defines {', '.join(slices['metrics'])} (a "
            "slice with one class has no ROC-AUC, one with constant gold scores no Spearman): "
            "the slice gate tested nothing. Give the slices both classes, or set [slices] "
            "metrics to metrics they define."
        )
    worse = [row for row in test["rows"] if row["significantly_worse"]]
    if not worse:
        return None
    by_slice = {row["slice"]: row for row in slices["rows"]}
    lines = []
    for row in worse:
        metric = by_slice[row["slice"]]["metrics"].get(row["metric"], {})
        shown = (
            f"candidate {metric['value']:.4f} vs baseline {metric['baseline']:.4f}, "
            f"improvement {row['improvement']:+.4f}, interval {_interval(*metric['delta_ci'])}, "
            if "baseline" in metric and "delta_ci" in metric
            else f"improvement {row['improvement']:+.4f}, "
        )
        lines.append(
            f"slice '{row['slice']}' ({by_slice[row['slice']]['n_pairs']} pairs), "
            f"{row['metric']}: {shown}p {row['p_value']:.2g}, Holm-adjusted "
            f"{row['p_adjusted']:.2g} < alpha {test['alpha']:g}"
        )
    return (
        f"{len(worse)} slice comparison(s) of '{evaluation.dataset}' significantly worse than "
        f"the baseline ({evaluation.compared_with}) after Holm-Bonferroni over "
        f"{test['n_comparisons']} comparisons ({test['method']}, "
        f"{test['n_permutations']} permutations):\n  " + "\n  ".join(lines)
    )


def check_high_overlap_fp_rate(evaluation: Evaluation, analyses: AnalysisSpecs) -> str | None:
    """The FP rate of the negatives whose two texts overlap most stays under [overlap]
    fp_rate_target."""
    target = analyses.overlap.fp_rate_target
    assert target is not None  # the check exists only with a target
    overlap = evaluation.analyses.get("overlap")
    if overlap is None:
        return f"'{evaluation.dataset}' has no labels: the high-overlap FP rate is undefined"
    high = overlap["high_overlap"]
    if not high["negatives"]:
        return (
            f"'{evaluation.dataset}' has no negatives with lexical overlap >= "
            f"{high['threshold']:g}: the high-overlap FP rate cannot be judged. Add such hard "
            "negatives, or remove [overlap] fp_rate_target."
        )
    if high["fp_rate"] <= target:
        return None
    return (
        f"high-overlap FP rate {high['fp_rate']:.4f} on '{evaluation.dataset}' misses its target "
        f"<= {target:g}: {high['fp']} of {high['negatives']} negatives whose texts overlap "
        f"(TF-IDF cosine >= {high['threshold']:g}) called similar at threshold "
        f"{evaluation.threshold:.4f}. The report's overlap table and worst flips show them."
    )


def check_matryoshka_targets(evaluation: Evaluation, analyses: AnalysisSpecs) -> str | None:
    """Every [matryoshka] target is met at its truncated dimension."""
    table = evaluation.analyses.get("matryoshka")
    if table is None:
        return f"'{evaluation.dataset}' was not evaluated at truncated dimensions"
    if table.get("error"):
        return f"'{evaluation.dataset}' at truncated dimensions: {table['error']}"
    rows = {row["dimension"]: row["metrics"] for row in table["rows"]}
    misses = []
    for dimension, targets in sorted(analyses.matryoshka.targets.items(), reverse=True):
        for metric, target in targets.items():
            value = rows.get(dimension, {}).get(metric)
            if value is None:
                misses.append(f"{metric} at {dimension} dimensions: not defined here")
                continue
            gap = target_gap(metric, value, target)
            if gap is not None:
                misses.append(f"{metric} at {dimension} dimensions {value:.4f} {gap}")
    if not misses:
        return None
    return (
        f"misses its truncated-dimension targets on '{evaluation.dataset}' (embeddings cut to "
        "the first d dimensions and re-normalised):\n  " + "\n  ".join(misses)
    )


def check_no_leakage(name: str, report: dict[str, Any]) -> str | None:
    """No gating set shares more than [leakage] max_share of the distinct pairs it is judged on
    with the training pairs (after normalising case, whitespace and punctuation)."""
    if report.get("error"):
        return f"{name}: {report['error']}"
    if not any(row["role"] == "gate" for row in report["datasets"]):
        return (
            f"{name}: no gating data set could be checked for leakage (none was readable), "
            "so no_leakage has nothing to pass on"
        )
    misses = []
    for row in report["datasets"]:
        pairs = row["pairs"]
        if row["role"] != "gate" or (pairs["normalised_share"] or 0.0) <= report["max_share"]:
            continue
        examples = "; ".join(
            f"{e['sentence1']!r} / {e['sentence2']!r}" for e in row["examples"][:3]
        )
        misses.append(
            f"'{row['dataset']}': {pairs['normalised']} of {pairs['total']} distinct pairs "
            f"({pairs['normalised_share']:.1%}) are training pairs after normalising case, "
            f"whitespace and punctuation ({pairs['exact']} exactly), e.g. {examples}"
        )
    if not misses:
        return None
    return (
        f"{name}: evaluation pairs leaked into training ({report['training_pairs']}, from "
        f"{report['source']}; [leakage] max_share {report['max_share']:g}): its numbers on "
        "these sets measure memory, not generalisation. Remove them from training or from the "
        "evaluation set.\n  " + "\n  ".join(misses)
    )
