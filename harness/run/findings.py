"""Findings: what the run measured, recorded by whatever measured it.

Plain data (numbers and arrays, no models). A finding whose test was not selected is absent:
nothing here is computed behind the user's back, and the report says what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from harness.checkpoint.change_profile import ChangeProfile
    from harness.checkpoint.training_record import TrainingRecord
    from harness.quality.evaluate import Evaluation
    from harness.throughput.measure import CheckpointThroughput

#: the gate test that records each per-checkpoint finding (the report names it when absent)
RECORDED_BY = {
    "probe_distances": "test_adapter_changes_embeddings",
    "change_profile": "test_adapter_updates_every_module",
    "throughput": "test_encode_throughput",
    "training_record": "test_training_record",
    "leakage": "test_no_leakage",
}


@dataclass
class Findings:
    """Evaluations per (model, data set); per checkpoint its probe distances, change profile,
    throughput and training record; per data set the texts the first baseline truncates; per
    model its pipeline; per adapter where its base was found; per reference data set the
    models whose evaluation on it raised."""

    evaluations: dict[tuple[str, str], Evaluation] = field(default_factory=dict)
    probe_distances: dict[str, np.ndarray] = field(default_factory=dict)
    change_profiles: dict[str, ChangeProfile] = field(default_factory=dict)
    throughput: dict[str, CheckpointThroughput] = field(default_factory=dict)
    training_records: dict[str, TrainingRecord] = field(default_factory=dict)
    #: per checkpoint, its training pairs' overlap with the pair sets (harness.run.leakage)
    leakage: dict[str, dict] = field(default_factory=dict)
    truncated_texts: dict[str, int] = field(default_factory=dict)
    #: each model's pipeline (modules, pooling, max_seq_length, dimension, normalize): a
    #: checkpoint's by its name (with whose pipeline it is and how it differs from its base's),
    #: a baseline's by its Embedder key (`baseline/<name>`)
    pipelines: dict[str, dict] = field(default_factory=dict)
    #: per loaded adapter, where its base was found: `path`, and `revision` (the cached
    #: snapshot's commit; None: not from the Hugging Face cache)
    bases: dict[str, dict] = field(default_factory=dict)
    #: per reference data set, each model whose evaluation on it raised, with the message (a
    #: reference set never fails a gate test; a gating set's error fails its quality tests)
    reference_errors: dict[str, dict[str, str]] = field(default_factory=dict)

    def record_evaluation(self, evaluation: Evaluation) -> None:
        self.evaluations[(evaluation.model, evaluation.dataset)] = evaluation

    def evaluation(self, model: str, dataset: str) -> Evaluation | None:
        return self.evaluations.get((model, dataset))

    def record_reference_error(self, model: str, dataset: str, message: str) -> None:
        self.reference_errors.setdefault(dataset, {})[model] = message

    def reference_error(self, model: str, dataset: str) -> str | None:
        return self.reference_errors.get(dataset, {}).get(model)


def not_measured(finding: str) -> str:
    """What the report says where a per-checkpoint finding is absent."""
    return f"not measured: {RECORDED_BY[finding]} did not run for it"
