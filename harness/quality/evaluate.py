"""Evaluate a model on a pair data set, and compare it with the baseline on the same pairs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from harness.checkpoint.tolerances import identical_scores_atol
from harness.config import ComparisonSpec, DatasetSpec
from harness.errors import DataError
from harness.quality.bootstrap import (
    MetricComparison,
    compare_models,
    identical_to_baseline,
    max_score_difference,
    model_intervals,
)
from harness.quality.metrics import (
    METRICS,
    ThresholdPolicy,
    confusion_at,
    correlation_metrics,
    cosine_scores,
    ranking_metrics,
    threshold_metrics,
)
from harness.quality.pairs import PairDataset, read_pairs

Encode = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class LoadedDataset:
    """A configured data set read from disk: the split reported on and the calibration split."""

    spec: DatasetSpec
    test: PairDataset
    calibration: PairDataset | None
    #: pairs (sentence order ignored) in both parts: refused for a gating set, shown otherwise
    calibration_overlap: int = 0

    @cached_property
    def lexical_overlap(self) -> np.ndarray:
        """Each test pair's TF-IDF cosine between its two texts (fitted on the test part)."""
        from harness.quality.overlap import lexical_overlap

        return lexical_overlap(self.test.sentence1, self.test.sentence2)

    def texts(self) -> list[str]:
        """Every distinct sentence of both splits, so each is encoded once."""
        parts = [self.test] + ([self.calibration] if self.calibration is not None else [])
        return list(dict.fromkeys(t for part in parts for t in part.unique_texts()))


def load_dataset(spec: DatasetSpec, policy: ThresholdPolicy) -> LoadedDataset:
    """Read a configured data set, split it into calibration and test parts, and check that
    every metric asked of each part is defined there (the threshold `policy` says whether the
    calibration part is used)."""
    _check_paths_exist(spec)
    data = read_pairs(
        spec.path,
        spec.format,
        name=spec.name,
        binary_cutoff=spec.binary_cutoff,
        columns=spec.columns,
    )
    if spec.calibration_path is not None:
        calibration = read_pairs(
            spec.calibration_path,
            spec.format,
            name=f"{spec.name}/calibration",
            binary_cutoff=spec.binary_cutoff,
            columns=spec.columns,
        )
        test = data.split(spec.test_split) if spec.test_split else data
    elif spec.calibration_split:
        calibration = data.split(spec.calibration_split)
        test = (
            data.split(spec.test_split)
            if spec.test_split
            else data.select([s != spec.calibration_split for s in (data.splits or ())])
        )
    else:
        calibration, test = None, data
    _check_test_part(spec, test)
    _check_calibration_part(spec, test, calibration, policy)
    overlap = _calibration_overlap(spec, test, calibration)
    return LoadedDataset(spec, test, calibration, len(overlap))


def _part(spec: DatasetSpec, which: str) -> tuple[Path, str]:
    """The file that holds a part ("test" or "calibration") and how a message names it."""
    if which == "calibration" and spec.calibration_path is not None:
        return spec.calibration_path, "the calibration part (calibration_path)"
    split = spec.test_split if which == "test" else spec.calibration_split
    if split:
        return spec.path, f"the {which} part (split {split!r})"
    if which == "test" and spec.calibration_split:
        return spec.path, f"the test part (every split but {spec.calibration_split!r})"
    return spec.path, f"the {which} part"


def _check_test_part(spec: DatasetSpec, test: PairDataset) -> None:
    """The test part has pairs, both classes if labelled, and gold scores that vary if graded."""
    path, part = _part(spec, "test")
    if not len(test):
        raise DataError(
            path,
            f"{part} holds no pairs",
            "add test pairs to the file, or set test_split to a split it has",
        )
    if test.labels is not None and _one_class(test.labels):
        raise DataError(
            path,
            f"all {len(test)} pairs of {part} carry label {int(test.labels[0])}: ROC-AUC, F1 "
            "and the FP rate are undefined with one class",
            "add pairs of the other class, or set binary_cutoff so both classes occur",
        )
    if test.scores is not None and np.all(test.scores == test.scores[0]):
        raise DataError(
            path,
            f"all {len(test)} pair(s) of {part} carry gold score {test.scores[0]:g}: Spearman "
            "and Pearson correlation are undefined when the gold scores do not vary",
            "add pairs with other scores (at least two distinct scores are needed)",
        )


def _check_calibration_part(
    spec: DatasetSpec, test: PairDataset, calibration: PairDataset | None, policy: ThresholdPolicy
) -> None:
    """A policy that picks the threshold on the calibration part (any but a fixed one) needs
    that part, labelled, with both classes; only a labelled test part has a threshold."""
    if policy.kind == "fixed" or test.labels is None:
        return
    if calibration is None:
        raise DataError(
            spec.path,
            f"the threshold policy '{policy.kind}' picks the threshold on a labelled calibration "
            "part, and this data set has none",
            f"set calibration_path (or calibration_split and test_split) under "
            f"[datasets.{spec.name}] in gate.toml, or use a fixed threshold",
        )
    path, part = _part(spec, "calibration")
    if calibration.labels is None:
        raise DataError(
            path,
            f"{part} has no labels, and the threshold policy '{policy.kind}' picks the threshold "
            "on labelled pairs",
            "give its rows a 0/1 label, set binary_cutoff so its scores give labels, or use a "
            "fixed threshold",
        )
    if _one_class(calibration.labels):
        raise DataError(
            path,
            f"all {len(calibration)} pairs of {part} carry label {int(calibration.labels[0])}: "
            f"the threshold policy '{policy.kind}' cannot pick a threshold with one class",
            "add calibration pairs of the other class, set binary_cutoff so both classes occur, "
            "or use a fixed threshold",
        )


def _one_class(labels: np.ndarray) -> bool:
    return int(labels.sum()) in (0, len(labels))


def _calibration_overlap(
    spec: DatasetSpec, test: PairDataset, calibration: PairDataset | None
) -> list[tuple[str, str]]:
    """The pairs the calibration part shares with the test part; a gating set sharing any is
    refused (its threshold would be tuned on pairs it is judged on)."""
    shared = [] if calibration is None else test.shared_pairs(calibration)
    if shared and spec.gates:
        first, second = shared[0]
        raise DataError(
            spec.calibration_path or spec.path,
            f"{len(shared)} pair(s) of gating data set '{spec.name}' are in both its calibration "
            f"and its test part (sentence order ignored), e.g. {first!r} / {second!r}: the "
            "threshold would be tuned on pairs it is judged on",
            "remove the shared pairs from one of the parts, or make the data set "
            'role = "reference" (shown, never fails)',
        )
    return shared


def _check_paths_exist(spec: DatasetSpec) -> None:
    """A configured path that does not exist is named with its gate.toml key, not just the file."""
    for key, path in (("path", spec.path), ("calibration_path", spec.calibration_path)):
        if path is not None and not path.exists():
            raise DataError(
                path,
                f"the file does not exist ([datasets.{spec.name}] {key} in gate.toml, "
                f"role {spec.role})",
                f"correct {key} under [datasets.{spec.name}]: a relative path is relative to "
                "gate.toml's folder, and {datasets} is $GATE_DATASETS, else ../shared/datasets "
                "beside the project",
            )


def score_pairs(encode: Encode, data: PairDataset) -> np.ndarray:
    """Cosine similarity of each pair's embeddings."""
    return cosine_scores(encode(list(data.sentence1)), encode(list(data.sentence2)))


@dataclass
class Evaluation:
    """One model on one data set: test scores, metrics at the calibrated threshold, comparisons."""

    model: str
    role: str  # candidate | baseline
    dataset: str
    scores: np.ndarray
    metrics: dict[str, float]
    threshold: float | None = None
    threshold_policy: str = ""
    confusion: list[list[int]] | None = None
    comparisons: dict[str, MetricComparison] = field(default_factory=dict)
    identical_to_baseline: bool = False
    max_score_difference: float | None = None  # largest |score - baseline score|, if compared
    identical_tolerance: float = 0.0  # the largest difference called identical
    checkpoint_kind: str = ""  # a candidate's (adapter | full_model); "" for a baseline
    compared_with: str = ""
    kind: str = "pairs"  # pairs | retrieval
    #: a retrieval evaluation's per-query metric values (what its bootstrap resamples); its
    #: `scores` are the cosine scores of every (query, relevant document) pair
    per_query: dict[str, np.ndarray] = field(default_factory=dict)
    #: what is shown beside the metrics, JSON-ready: error_bounds, overlap, slices, flips and
    #: matryoshka (pair sets); n_queries, n_corpus and recall_curve (retrieval sets)
    analyses: dict[str, Any] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        """What the bootstrap resamples: pairs, or a retrieval set's queries."""
        return "queries" if self.kind == "retrieval" else "pairs"

    @property
    def n_resampled(self) -> int:
        if self.kind == "retrieval":
            return len(next(iter(self.per_query.values()), ()))
        return len(self.scores)

    def to_dict(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        for name, value in self.metrics.items():
            row: dict[str, Any] = {"value": value}
            comparison = self.comparisons.get(name)
            if comparison is not None:
                row.update(
                    ci=list(comparison.candidate_ci),
                    baseline=comparison.baseline,
                    delta=comparison.delta,
                    delta_ci=list(comparison.delta_ci),
                )
            metrics[name] = row
        return {
            "model": self.model,
            "role": self.role,
            "dataset": self.dataset,
            "kind": self.kind,
            "n_pairs": int(len(self.scores)),
            "metrics": metrics,
            "threshold": {"value": self.threshold, "policy": self.threshold_policy},
            "confusion_matrix": self.confusion,
            "compared_with": self.compared_with,
            "identical_to_baseline": self.identical_to_baseline,
            "max_score_difference": self.max_score_difference,
            **self.analyses,
        }


def evaluate(
    model: str, role: str, dataset: LoadedDataset, encode: Encode, policy: ThresholdPolicy
) -> Evaluation:
    """Score the test split; the threshold comes from the calibration split, never the test."""
    scores = score_pairs(encode, dataset.test)
    metrics = untuned_metrics(scores, dataset.test)
    evaluation = Evaluation(model, role, dataset.spec.name, scores, metrics)
    threshold = operating_threshold(dataset, policy, lambda part: score_pairs(encode, part))
    if threshold is not None:
        assert dataset.test.labels is not None
        metrics.update(metrics_at(scores, dataset.test.labels, threshold))
        evaluation.threshold = threshold
        evaluation.threshold_policy = policy.describe()
        evaluation.confusion = confusion_at(scores, dataset.test.labels, threshold).as_matrix()
    return evaluation


def operating_threshold(
    dataset: LoadedDataset,
    policy: ThresholdPolicy,
    score: Callable[[PairDataset], np.ndarray],
) -> float | None:
    """The decision threshold, chosen on the calibration part's `score`s (a fixed policy needs
    none); None where the test part has no labels to decide on."""
    if dataset.test.labels is None:
        return None
    if policy.kind == "fixed":
        return policy.choose([], [])
    # load_dataset made sure there is a labelled calibration part
    assert dataset.calibration is not None and dataset.calibration.labels is not None
    return policy.choose(score(dataset.calibration), dataset.calibration.labels)


def untuned_metrics(scores: np.ndarray, test: PairDataset) -> dict[str, float]:
    """The metrics that need no threshold: correlations with gold scores, ranking metrics."""
    metrics: dict[str, float] = {}
    if test.scores is not None:
        metrics.update(correlation_metrics(scores, test.scores))
    if test.labels is not None:
        metrics.update(ranking_metrics(scores, test.labels))
    return metrics


def metrics_at(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """The threshold metrics (F1, FP rate, ...) at `threshold`."""
    return {k: v for k, v in threshold_metrics(scores, labels, threshold).items() if k in METRICS}


def pair_metrics(
    scores: np.ndarray, test: PairDataset, threshold: float | None
) -> dict[str, float]:
    """Every metric the test part defines, the threshold metrics at `threshold` (if any)."""
    metrics = untuned_metrics(scores, test)
    if threshold is not None and test.labels is not None:
        metrics.update(metrics_at(scores, test.labels, threshold))
    return metrics


def compare_with_baseline(
    candidate: Evaluation,
    baseline: Evaluation,
    dataset: LoadedDataset,
    spec: ComparisonSpec,
    *,
    dtype: Any = "float32",
    device: str = "cpu",
) -> None:
    """Fill the candidate's paired-bootstrap comparisons against the baseline, every metric,
    and whether its scores are the baseline's within the noise of its dtype on the device."""
    labels = dataset.test.labels
    candidate.comparisons = compare_models(
        [m for m in candidate.metrics],
        candidate.scores,
        baseline.scores,
        gold_scores=dataset.test.scores,
        labels=labels,
        candidate_threshold=candidate.threshold,
        baseline_threshold=baseline.threshold,
        n_resamples=spec.n_resamples,
        confidence=spec.confidence,
        seed=spec.seed,
    )
    judge_identical(candidate, baseline, dtype, device)


def judge_identical(candidate: Evaluation, baseline: Evaluation, dtype: Any, device: str) -> None:
    """Whether the candidate's scores are the baseline's within the noise of its dtype on the
    device (the signature of an adapter never applied), and against whom it was compared."""
    candidate.identical_tolerance = identical_scores_atol(dtype, device)
    candidate.max_score_difference = max_score_difference(candidate.scores, baseline.scores)
    candidate.identical_to_baseline = identical_to_baseline(
        candidate.scores, baseline.scores, atol=candidate.identical_tolerance
    )
    candidate.compared_with = baseline.model


def own_intervals(evaluation: Evaluation, dataset: LoadedDataset, spec: ComparisonSpec) -> None:
    """Fill the first baseline's own bootstrap intervals: it is what the others are compared
    with, so its improvement over itself is zero by definition (not resampled)."""
    evaluation.comparisons = model_intervals(
        list(evaluation.metrics),
        evaluation.scores,
        gold_scores=dataset.test.scores,
        labels=dataset.test.labels,
        threshold=evaluation.threshold,
        n_resamples=spec.n_resamples,
        confidence=spec.confidence,
        seed=spec.seed,
    )
    evaluation.identical_to_baseline = False
    evaluation.compared_with = evaluation.model
