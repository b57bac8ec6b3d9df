"""Small, valid results.json documents and their scores.npz arrays, built without any model.

Scores are synthetic (gold / 5 scaled by a model's "quality", plus noise); every metric,
threshold and confusion matrix is computed from them with harness.quality.metrics, so the document
is consistent with its arrays the way a gate run's is.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from harness.quality.metrics import (
    METRICS,
    best_f1_threshold,
    confusion_at,
    correlation_metrics,
    ranking_metrics,
    threshold_metrics,
)

HALF_WIDTH = 0.03  # the stand-in for a bootstrap interval: value +- this
BOTH, LABELS, GRADED = "both", "labels", "graded"


def _gold(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gold = np.round(rng.uniform(0, 5, n), 1)
    gold[:2] = (0.5, 4.5)  # both classes, always
    return gold, (gold >= 2.5).astype(np.int64)


def _scores(gold: np.ndarray, quality: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(0.3 + quality * gold / 8 + rng.normal(0, 0.12, gold.size), -1, 1)


def _metrics(scores: np.ndarray, gold: np.ndarray | None, labels: np.ndarray | None
             ) -> tuple[dict[str, float], float | None, list[list[int]] | None]:
    values: dict[str, float] = {}
    threshold = confusion = None
    if gold is not None:
        values.update(correlation_metrics(scores, gold))
    if labels is not None:
        values.update(ranking_metrics(scores, labels))
        threshold = float(best_f1_threshold(scores, labels))
        values.update(threshold_metrics(scores, labels, threshold))
        confusion = confusion_at(scores, labels, threshold).as_matrix()
    return {k: values[k] for k in METRICS if k in values}, threshold, confusion


def build(
    *,
    candidates: Mapping[str, float] | None = None,
    baselines: Mapping[str, float] | None = None,
    datasets: Mapping[str, str] | None = None,
    rejected: Mapping[str, tuple[str, str]] | None = None,
    comparison_metrics: tuple[str, ...] = ("spearman", "roc_auc"),
    n: int = 60,
    seed: int = 0,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(results, arrays) of a run: `candidates` and `baselines` map a name to a quality (0-1),
    `datasets` a name to "both" (gold and labels), "labels" or "graded"; `rejected` maps a
    candidate to its failing (check, message); the others are PROMOTE."""
    candidates = dict(candidates or {"cand-a": 0.9})
    baselines = dict(baselines or {"base": 0.5})
    datasets = dict(datasets or {"sts": BOTH})
    rejected = dict(rejected or {})
    arrays: dict[str, np.ndarray] = {}
    evaluations, dataset_rows = [], []
    first_baseline = next(iter(baselines))
    for d_index, (dataset, kind) in enumerate(datasets.items()):
        gold, labels = _gold(n, seed + d_index)
        gold_or_none = gold if kind in (BOTH, GRADED) else None
        labels_or_none = labels if kind in (BOTH, LABELS) else None
        if gold_or_none is not None:
            arrays[f"gold|{dataset}"] = gold
        if labels_or_none is not None:
            arrays[f"labels|{dataset}"] = labels
        dataset_rows.append({
            "name": dataset, "role": "gate" if d_index == 0 else "reference",
            "path": f"/data/{dataset}.jsonl", "status": "ok", "evaluation_errors": {},
            "fingerprint": f"{d_index:02d}" + "ab" * 31, "n_pairs": n, "duplicate_pairs": 0,
            "truncated_texts": 0,
            "calibration_fingerprint": None, "n_calibration_pairs": 0, "targets": {},
        })
        base_metrics: dict[str, float] = {}
        models = [(b, q, "baseline") for b, q in baselines.items()]
        models += [(c, q, "candidate") for c, q in candidates.items()]
        for m_index, (model, quality, role) in enumerate(models):
            scores = _scores(gold, quality, seed + 100 * d_index + m_index)
            arrays[f"scores|{model}|{dataset}"] = scores
            values, threshold, confusion = _metrics(scores, gold_or_none, labels_or_none)
            if model == first_baseline:
                base_metrics = values
            evaluations.append({
                "model": model, "role": role, "dataset": dataset, "n_pairs": n,
                "metrics": {
                    name: {
                        "value": value, "ci": [value - HALF_WIDTH, value + HALF_WIDTH],
                        "baseline": base_metrics[name], "delta": value - base_metrics[name],
                        "delta_ci": [value - base_metrics[name] - HALF_WIDTH,
                                     value - base_metrics[name] + HALF_WIDTH],
                    }
                    for name, value in values.items()
                },
                "threshold": {"value": threshold, "policy": "best F1 on the calibration split"},
                "confusion_matrix": confusion,
                "compared_with": first_baseline,
                "identical_to_baseline": False,
            })
    checkpoints = []
    for c_index, name in enumerate(candidates):
        rng = np.random.default_rng(seed + c_index)
        arrays[f"probe_distance|{name}"] = rng.gamma(2.0, 0.01, 24)
        checks = [{"check": c, "outcome": "passed", "message": ""}
                  for c in ("adapter_changes_embeddings", "beats_baseline[sts]")]
        first = None
        if name in rejected:
            check, message = rejected[name]
            first = {"check": check, "outcome": "failed", "message": message}
            checks = [c for c in checks if c["check"] != check] + [first]
        checkpoints.append({
            "name": name, "path": f"/ckpts/{name}", "kind": "adapter",
            "saved_by": "sentence-transformers", "base_model": "/models/base",
            "fingerprint": f"{c_index:02d}" + "cd" * 31,
            "verdict": "REJECT" if first else "PROMOTE", "first_failure": first,
            "checks": sorted(checks, key=lambda c: c["check"]),
            "required_checks": sorted(c["check"] for c in checks), "missing_checks": [],
        })
    results = {
        "schema_version": 4,
        "run": {"started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:01:00+00:00",
                "seconds": 60.0,
                "texts_encoded": {f"baseline/{b}": 2 * n for b in baselines}},
        "complete": True,
        "incomplete_reasons": [],
        "environment": {"device": "cpu", "device_note": "cpu", "dtype": "float32",
                        "versions": {"python": "3.11.7", "torch": "2.13.0"}},
        "shard": None,  # a run over every checkpoint it discovered
        "discovered": [{"name": c["name"], "fingerprint": c["fingerprint"]} for c in checkpoints],
        "config": {
            "path": "/work/gate.toml", "fingerprint": "ef" * 32,
            "comparison": {"metrics": list(comparison_metrics), "min_delta": 0.0,
                           "n_resamples": 1000, "confidence": 0.95, "seed": 0},
            "threshold_policy": "best F1 on the calibration split",
        },
        "baselines": [{"name": b, "model": f"org/{b}", "path": f"/models/{b}",
                       "weights_fingerprint": "12" * 32} for b in baselines],
        "datasets": dataset_rows,
        "checkpoints": checkpoints,
        "evaluations": evaluations,
        "not_applicable": [],
        "missing_reference_datasets": {},
    }
    return results, arrays


def evaluation_of(results: dict[str, Any], model: str, dataset: str) -> dict[str, Any]:
    """The evaluation row of `model` on `dataset` (for tests to edit)."""
    return next(
        e for e in results["evaluations"] if e["model"] == model and e["dataset"] == dataset
    )


def with_metric(
    results: dict[str, Any], model: str, dataset: str, metric: str, value: float,
    half_width: float = HALF_WIDTH,
) -> dict[str, Any]:
    """A deep copy of `results` with one metric moved to `value` (its interval moved along)."""
    changed = copy.deepcopy(results)
    row = evaluation_of(changed, model, dataset)["metrics"][metric]
    row.update(value=value, ci=[value - half_width, value + half_width])
    return changed
