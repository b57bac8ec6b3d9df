"""The questions after a pair set's metrics, answered from the scores and embeddings the run
already has (nothing is encoded again): the FP and FN rates' exact bounds, the metrics per
lexical-overlap bucket, per slice, at truncated dimensions, and which decisions flipped.

Each fills `Evaluation.analyses` with JSON-ready data; the checks in
:mod:`harness.quality.analysis_checks` and the report read it there.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any

import numpy as np

from harness.analysis_config import AnalysisSpecs, MatryoshkaSpec
from harness.config import ComparisonSpec
from harness.quality.error_bounds import ErrorBounds
from harness.quality.evaluate import (
    Encode,
    Evaluation,
    LoadedDataset,
    operating_threshold,
    pair_metrics,
)
from harness.quality.flips import decision_flips
from harness.quality.matryoshka import truncate
from harness.quality.metrics import Confusion, ThresholdPolicy, cosine_scores
from harness.quality.overlap import OVERLAP_EDGES, high_overlap_fp_rate, overlap_buckets
from harness.quality.pairs import PairDataset
from harness.quality.slices import slice_comparisons, slice_intervals, slice_test

#: how many flipped pairs the report shows, each way
WORST_FLIPS = 10


def describe_model(
    evaluation: Evaluation,
    dataset: LoadedDataset,
    encode: Encode,
    policy: ThresholdPolicy,
    analyses: AnalysisSpecs,
) -> None:
    """One model on one pair set: its error bounds, its overlap buckets and its metrics at the
    truncated dimensions [matryoshka] lists."""
    test = dataset.test
    if evaluation.confusion is not None:  # labels and a threshold: its errors, counted
        assert test.labels is not None and evaluation.threshold is not None
        (tn, fp), (fn, tp) = evaluation.confusion
        evaluation.analyses["error_bounds"] = ErrorBounds.from_confusion(
            Confusion(tp=tp, fp=fp, tn=tn, fn=fn), analyses.fp_rate.confidence
        ).to_dict()
        evaluation.analyses["overlap"] = overlap_table(
            dataset.lexical_overlap,
            test.labels,
            evaluation.scores,
            evaluation.threshold,
            test.scores,
        )
    else:  # graded only: no threshold, no errors to bound or bucket
        evaluation.analyses.update(error_bounds=None, overlap=None)
    if not analyses.matryoshka.dimensions:
        evaluation.analyses["matryoshka"] = None
        return
    try:
        table = truncated_metrics(dataset, encode, policy, analyses.matryoshka)
    except ValueError as exc:  # e.g. constant scores at a tiny dimension: shown, not raised
        dimensions = list(analyses.matryoshka.dimensions)
        table = {"dimensions": dimensions, "rows": [], "error": str(exc)}
    evaluation.analyses["matryoshka"] = table


def overlap_table(
    overlap: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    gold_scores: np.ndarray | None,
) -> dict[str, Any]:
    """The metrics per lexical-overlap bucket, and the high-overlap negatives' FP rate."""
    return {
        "edges": list(OVERLAP_EDGES),
        "rows": [
            bucket.to_dict()
            for bucket in overlap_buckets(overlap, labels, scores, threshold, gold_scores)
        ],
        "high_overlap": high_overlap_fp_rate(overlap, labels, scores, threshold).to_dict(),
    }


def truncated_metrics(
    dataset: LoadedDataset, encode: Encode, policy: ThresholdPolicy, spec: MatryoshkaSpec
) -> dict[str, Any]:
    """Every metric again on embeddings cut to each dimension and re-normalised; the threshold
    is chosen again on the calibration part at that dimension, as a deployment of the
    truncated model would."""
    test = dataset.test

    @cache  # each part's embeddings gathered once, whatever the number of dimensions
    def embedded(part: PairDataset) -> tuple[np.ndarray, np.ndarray]:
        return encode(list(part.sentence1)), encode(list(part.sentence2))

    spec.check_width(embedded(test)[0].shape[1])

    def scores_at(part: PairDataset, dimension: int) -> np.ndarray:
        first, second = embedded(part)
        return cosine_scores(truncate(first, dimension), truncate(second, dimension))

    rows = []
    for dimension in spec.dimensions:
        threshold = operating_threshold(dataset, policy, partial(scores_at, dimension=dimension))
        metrics = pair_metrics(scores_at(test, dimension), test, threshold)
        rows.append({"dimension": dimension, "threshold": threshold, "metrics": metrics})
    return {"dimensions": list(spec.dimensions), "rows": rows}


def slice_metrics(
    evaluation: Evaluation, comparison: ComparisonSpec, analyses: AnalysisSpecs
) -> list[str]:
    """The metrics compared per slice: [slices] metrics, else [comparison] metrics, each as far
    as the evaluation defines it."""
    wanted = analyses.slices.metrics or comparison.metrics
    return [m for m in wanted if m in evaluation.metrics]


def compare_slices_and_flips(
    candidate: Evaluation,
    baseline: Evaluation,
    dataset: LoadedDataset,
    comparison: ComparisonSpec,
    analyses: AnalysisSpecs,
) -> None:
    """Candidate vs baseline per slice (intervals and the Holm-corrected permutation test) and
    decision by decision (the flips and McNemar's exact test)."""
    test = dataset.test
    metrics = slice_metrics(candidate, comparison, analyses)
    if test.slices is None:
        candidate.analyses["slices"] = None
    elif not metrics:  # none of the slice metrics is defined here: the slice gate says so
        candidate.analyses["slices"] = {"metrics": [], "rows": [], "test": None}
    else:
        thresholds = {
            "candidate_threshold": candidate.threshold,
            "baseline_threshold": baseline.threshold,
        }
        rows = slice_comparisons(
            test,
            candidate.scores,
            baseline.scores,
            metrics=metrics,
            n_resamples=comparison.n_resamples,
            confidence=comparison.confidence,
            seed=comparison.seed,
            **thresholds,
        )
        tested = slice_test(
            test,
            candidate.scores,
            baseline.scores,
            metrics=metrics,
            n_permutations=analyses.slices.n_permutations,
            alpha=analyses.slices.alpha,
            seed=comparison.seed,
            **thresholds,
        )
        candidate.analyses["slices"] = {
            "metrics": metrics,
            "rows": [row.to_dict() for row in rows],
            "test": tested.to_dict(),
        }
    if test.labels is not None and candidate.threshold is not None:
        assert baseline.threshold is not None
        candidate.analyses["flips"] = decision_flips(
            test.labels,
            candidate.scores,
            baseline.scores,
            candidate.threshold,
            baseline.threshold,
            test.sentence1,
            test.sentence2,
            worst=WORST_FLIPS,
        ).to_dict()
    else:
        candidate.analyses["flips"] = None


def own_slice_intervals(
    evaluation: Evaluation,
    dataset: LoadedDataset,
    comparison: ComparisonSpec,
    analyses: AnalysisSpecs,
) -> None:
    """The first baseline's own intervals per slice (what every candidate is compared with)."""
    test = dataset.test
    metrics = slice_metrics(evaluation, comparison, analyses)
    evaluation.analyses["flips"] = None  # what the others' flips are counted against
    if test.slices is None or not metrics:
        evaluation.analyses["slices"] = None if test.slices is None else {
            "metrics": [], "rows": [], "test": None
        }
        return
    rows = slice_intervals(
        test,
        evaluation.scores,
        metrics=metrics,
        threshold=evaluation.threshold,
        n_resamples=comparison.n_resamples,
        confidence=comparison.confidence,
        seed=comparison.seed,
    )
    evaluation.analyses["slices"] = {
        "metrics": metrics,
        "rows": [row.to_dict() for row in rows],
        "test": None,
    }
