"""Leakage: which evaluation pairs and sentences of the run's pair sets a checkpoint's training
pairs hold ([leakage] in gate.toml says where they are and how to read them)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.analysis_config import LeakageSpec
from harness.checkpoint.training_pairs import find_training_pairs
from harness.errors import GateInputError
from harness.quality.evaluate import LoadedDataset
from harness.quality.evaluate_retrieval import LoadedRetrieval
from harness.quality.leakage import leakage
from harness.quality.pairs import PairDataset, read_pairs


def leakage_report(folder: Path, spec: LeakageSpec, datasets: Iterable[Any]) -> dict[str, Any]:
    """Per readable data set, the pairs it is judged on and their sentences found in the
    training pairs of the checkpoint in `folder`, JSON-ready; a training pairs file that cannot
    be found or read is the report's `error` (the check fails with it)."""
    report: dict[str, Any] = {
        "training_pairs": None,
        "source": None,
        "max_share": spec.max_share,
        "n_training_pairs": None,
        "datasets": [],
        "error": None,
    }
    try:
        found = find_training_pairs(folder, spec)
        training = read_pairs(
            found.path,
            spec.format,
            name="training pairs",
            binary_cutoff=spec.binary_cutoff,
            columns=spec.columns,
            texts_only=True,
        )
    except GateInputError as exc:
        return {**report, "error": str(exc)}
    report.update(
        training_pairs=str(found.path), source=found.source, n_training_pairs=len(training)
    )
    report["datasets"] = [
        {
            "dataset": data.spec.name,
            "role": data.spec.role,
            **leakage(evaluated_pairs(data), training).to_dict(),
        }
        for data in datasets
    ]
    return report


def evaluated_pairs(data: LoadedDataset | LoadedRetrieval) -> PairDataset:
    """What a data set is judged on, as pairs: a pair set's test part; a retrieval set's
    (query, relevant document) pairs."""
    if isinstance(data, LoadedDataset):
        return data.test
    queries, documents = data.task.pairs()
    task = data.task
    return PairDataset.build(
        task.name,
        task.path,
        [task.query_texts[q] for q in queries],
        [task.corpus_texts[d] for d in documents],
    )
