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

#: per training pairs file, how many pairs it holds and each data set's leakage row: several
#: checkpoints trained on one file read it, and count against it, once
TrainingFileRows = dict[Path, tuple[int, list[dict[str, Any]]]]


def leakage_report(
    folder: Path, spec: LeakageSpec, datasets: Iterable[Any], known: TrainingFileRows
) -> dict[str, Any]:
    """Per readable data set, the pairs it is judged on and their sentences found in the
    training pairs of the checkpoint in `folder`, JSON-ready; a training pairs file that cannot
    be found or read is the report's `error` (the check fails with it). `known` holds the
    files already counted in this run, and takes this one."""
    report: dict[str, Any] = {"max_share": spec.max_share, "error": None}
    try:
        found = find_training_pairs(folder, spec)
        key = found.path.resolve()
        if key not in known:
            training = read_pairs(
                found.path,
                spec.format,
                name="training pairs",
                binary_cutoff=spec.binary_cutoff,
                columns=spec.columns,
                texts_only=True,
            )
            known[key] = (len(training), _rows(datasets, training))
    except GateInputError as exc:
        unread = {"training_pairs": None, "source": None, "n_training_pairs": None}
        return {**report, **unread, "datasets": [], "error": str(exc)}
    n_training, rows = known[key]
    return {
        **report,
        "training_pairs": str(found.path),
        "source": found.source,
        "n_training_pairs": n_training,
        "datasets": rows,
    }


def _rows(datasets: Iterable[Any], training: PairDataset) -> list[dict[str, Any]]:
    return [
        {
            "dataset": data.spec.name,
            "role": data.spec.role,
            **leakage(evaluated_pairs(data), training).to_dict(),
        }
        for data in datasets
    ]


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
