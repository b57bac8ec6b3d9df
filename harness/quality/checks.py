"""The quality battery: beat the baseline with confidence, meet targets, keep the FP rate down.

Each check returns None when it passes, else every miss with its number, target and interval.
"""

from __future__ import annotations

from harness.analysis_config import FpRateSpec
from harness.checkpoint.discover import KIND_FULL_MODEL
from harness.config import ComparisonSpec
from harness.quality.evaluate import Evaluation
from harness.quality.metrics import METRICS
from harness.quality.retrieval import is_retrieval_metric

IDENTICAL = (
    "the candidate's scores are identical to the baseline's on all {n} pairs of '{dataset}' "
    "(largest per-pair score difference {difference}, within the tolerance {tolerance:g} for "
    "float noise): "
)
NOT_APPLIED = (
    "it behaves exactly like its base, the signature of an adapter that was never applied "
    "(keys that did not match, every LoRA B left at zero, lora_alpha 0, or the adapter "
    "disabled). See test_adapter_loaded_exactly and test_adapter_changes_embeddings for "
    "the diagnosis."
)
NO_CHANGE = (
    "no change from the baseline ({baseline}): this full model scores like the model it was "
    "meant to improve on (the baseline's weights saved in place of the fine-tuned ones, or "
    "training that never updated them)."
)


def identical_message(evaluation: Evaluation) -> str:
    """Why a candidate whose scores are the baseline's fails: an adapter never applied, or a
    full model with no change from the baseline."""
    difference = evaluation.max_score_difference
    found = IDENTICAL.format(
        n=len(evaluation.scores),
        dataset=evaluation.dataset,
        difference="not measured" if difference is None else f"{difference:.2g}",
        tolerance=evaluation.identical_tolerance,
    )
    if evaluation.checkpoint_kind == KIND_FULL_MODEL:
        return found + NO_CHANGE.format(baseline=evaluation.compared_with)
    return found + NOT_APPLIED


def _interval(low: float, high: float) -> str:
    return f"[{low:+.4f}, {high:+.4f}]"


def non_inferiority(min_delta: float) -> str | None:
    """A negative min_delta is a non-inferiority margin: what it asks of a candidate, in words
    (never "beats"); None for min_delta >= 0, where a candidate must beat the baseline."""
    if min_delta >= 0:
        return None
    return f"not worse than the baseline by more than {-min_delta:g}"


def margin_note(metrics: list[str] | tuple[str, ...], min_delta: float) -> str | None:
    """The line the summary and the reports show for a non-inferiority margin, else None."""
    margin = non_inferiority(min_delta)
    if margin is None:
        return None
    return (
        f"comparison: each candidate must be {margin} on {', '.join(metrics)} "
        f"(min_delta {min_delta:g}, a non-inferiority margin)"
    )


def check_beats_baseline(evaluation: Evaluation, spec: ComparisonSpec) -> str | None:
    """On each configured metric the improvement interval's lower bound clears min_delta."""
    if evaluation.identical_to_baseline:
        return identical_message(evaluation)
    misses = []
    metrics = spec.retrieval_metrics if evaluation.kind == "retrieval" else spec.metrics
    for metric in metrics:
        comparison = evaluation.comparisons.get(metric)
        if comparison is None:
            misses.append(f"{metric}: not defined on '{evaluation.dataset}' (no data for it)")
            continue
        if comparison.beats(spec.min_delta):
            continue
        low, high = comparison.improvement_ci
        misses.append(
            f"{metric}: candidate {comparison.candidate:.4f} vs baseline {comparison.baseline:.4f} "
            f"({evaluation.compared_with}), improvement {comparison.improvement:+.4f}, "
            f"{comparison.confidence:.0%} interval {_interval(low, high)} does not clear "
            f"min_delta {spec.min_delta:g}"
        )
    if not misses:
        return None
    margin = non_inferiority(spec.min_delta)
    verdict = f"is not shown to be {margin}" if margin else "does not beat the baseline"
    return (
        f"{verdict} on '{evaluation.dataset}' ({spec.n_resamples} paired bootstrap resamples "
        f"over {evaluation.n_resampled} {evaluation.unit}):\n  " + "\n  ".join(misses)
    )


def _target_miss(evaluation: Evaluation, metric: str, target: float) -> str | None:
    value = evaluation.metrics.get(metric)
    if value is None:
        return f"{metric}: a target is set but '{evaluation.dataset}' does not define {metric}"
    gap = target_gap(metric, value, target)
    if gap is None:
        return None
    comparison = evaluation.comparisons.get(metric)
    interval = (
        f", {comparison.confidence:.0%} interval {_interval(*comparison.candidate_ci)}"
        if comparison
        else ""
    )
    return f"{metric} {value:.4f} {gap}{interval}"


def target_gap(metric: str, value: float, target: float) -> str | None:
    """None when `value` meets `target` (at least, or at most for a rate to keep down), else
    how far it misses it: "misses its target >= 0.8 by 0.0210"."""
    higher = greater_is_better(metric)
    if (value >= target) if higher else (value <= target):
        return None
    sign = ">=" if higher else "<="
    return f"misses its target {sign} {target:g} by {abs(value - target):.4f}"


def greater_is_better(metric: str) -> bool | None:
    """Whether higher is better: pair metrics say so in the registry, and every retrieval
    metric (recall@5, ...) is better higher; None for a name that is neither."""
    if metric in METRICS:
        return METRICS[metric].greater_is_better
    return True if is_retrieval_metric(metric) else None


def check_targets(evaluation: Evaluation, targets: dict[str, float]) -> str | None:
    """Every target of the data set except the FP rate (which has its own check) is met."""
    misses = [
        miss
        for metric, target in targets.items()
        if metric != "fp_rate"
        if (miss := _target_miss(evaluation, metric, target))
    ]
    if not misses:
        return None
    return f"misses its targets on '{evaluation.dataset}':\n  " + "\n  ".join(misses)


def check_fp_rate(
    evaluation: Evaluation, target: float, spec: FpRateSpec | None = None
) -> str | None:
    """The FP rate at the operating threshold stays under its target: its point estimate, or
    with [fp_rate] judged_on = "upper_bound" its exact upper bound."""
    bound = (evaluation.analyses.get("error_bounds") or {}).get("fp")
    if spec is not None and spec.judged_on == "upper_bound":
        miss = _bound_miss(evaluation, bound, target)
    else:
        miss = _target_miss(evaluation, "fp_rate", target)
    if miss is None:
        return None
    if evaluation.confusion is None:
        return miss
    (tn, fp), (fn, tp) = evaluation.confusion
    return (
        f"{miss} on '{evaluation.dataset}': {fp} of {fp + tn} unrelated pairs called similar "
        f"at threshold {evaluation.threshold:.4f} ({evaluation.threshold_policy}); "
        f"confusion matrix [[TN {tn}, FP {fp}], [FN {fn}, TP {tp}]]. Look at the score "
        "distributions in report.html: negatives that score like positives need hard negatives "
        "in training."
    )


def _bound_miss(evaluation: Evaluation, bound: dict | None, target: float) -> str | None:
    """The FP rate's exact upper bound against its target (judged_on = "upper_bound")."""
    if bound is None or bound.get("upper") is None:
        return (
            f"fp_rate: judged on its upper bound, but '{evaluation.dataset}' has no negatives "
            "to bound it with"
        )
    upper = bound["upper"]
    if upper <= target:
        return None
    level = evaluation.analyses["error_bounds"]["confidence"]
    return (
        f"fp_rate {bound['rate']:.4f}: its {level * 100:g}% upper bound {upper:.4f} "
        f"(Clopper-Pearson, {bound['count']} of {bound['total']}) misses its target <= "
        f"{target:g} by {upper - target:.4f} ([fp_rate] judged_on = \"upper_bound\")"
    )
