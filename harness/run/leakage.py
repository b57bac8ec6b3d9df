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
from harness.quality.leakage import leakage
from harness.quality.pairs import read_pairs


def leakage_report(folder: Path, spec: LeakageSpec, datasets: Iterable[Any]) -> dict[str, Any]:
    """Per readable pair set, its test pairs and sentences found in the training pairs of the
    checkpoint in `folder`, JSON-ready; a training pairs file that cannot be found or read is
    the report's `error` (the check fails with it)."""
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
            **leakage(data.test, training).to_dict(),
        }
        for data in datasets
        if isinstance(data, LoadedDataset)
    ]
    return report
