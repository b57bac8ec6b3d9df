"""GateSession: one gate run's parts, side by side: its inputs (config, checkpoints, data sets,
probe), its models, what it found and its check outcomes. The plugin holds one per pytest run."""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.checkpoint.discover import (
    Checkpoint,
    checkpoints_from_paths,
    discover_checkpoints,
    select_shard,
)
from harness.checkpoint.training_record import TrainingRecord, examine
from harness.config import GateConfig
from harness.embedding.device import cuda_device_count, pinned_device, resolve_device
from harness.errors import ConfigError, GateInputError
from harness.quality.evaluate import (
    Encode,
    Evaluation,
    compare_with_baseline,
    evaluate,
    load_dataset,
    own_intervals,
)
from harness.quality.evaluate_retrieval import (
    LoadedRetrieval,
    compare_retrieval_with_baseline,
    evaluate_retrieval,
    load_retrieval,
    retrieval_own_intervals,
)
from harness.quality.metrics import cosine_distances
from harness.quality.pair_analyses import (
    compare_slices_and_flips,
    describe_model,
    own_slice_intervals,
)
from harness.quality.pairs import read_sentences
from harness.run.context import BaselineRecord, Dataset, RunContext
from harness.run.findings import Findings
from harness.run.leakage import TrainingFileRows, leakage_report
from harness.run.models import GateModels
from harness.run.outcomes import Outcomes

if TYPE_CHECKING:
    import numpy as np

    from harness.checkpoint.change_profile import ChangeProfile
    from harness.checkpoint.load import LoadedCandidate


@dataclass
class GateSession:
    """State shared by the plugin's hooks and fixtures for one pytest run."""

    config: GateConfig
    requested_device: str
    device_source: str = "--device"
    checkpoint_paths: list[str] = field(default_factory=list)
    shard: tuple[int, int] | None = None  # --shard K/N
    promote_to: Path | None = None  # --promote-to DIR
    worker: str | None = None  # the xdist worker id, None when serial
    findings: Findings = field(default_factory=Findings)
    outcomes: Outcomes = field(default_factory=Outcomes)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: the training pairs files the leakage check has read, with their rows (harness.run.leakage)
    training_files: TrainingFileRows = field(default_factory=dict)

    # ---- inputs -----------------------------------------------------------------------------

    @cached_property
    def device(self) -> str:
        """The resolved device; xdist worker k on "cuda" gets its own GPU, cuda:(k mod count)."""
        device = resolve_device(self.requested_device, source=self.device_source)
        count = cuda_device_count() if device == "cuda" else 0
        return pinned_device(device, self.worker, count)

    @property
    def device_note(self) -> str:
        if self.requested_device == "auto":
            why = "CUDA is available" if self.device.startswith("cuda") else "no CUDA device found"
            return f"{self.device} (auto: {why})"
        return self.device

    @cached_property
    def discovered(self) -> list[Checkpoint]:
        """--checkpoint paths if given, else every checkpoint under the configured directory,
        sorted by name: what every shard of the run is over (found none: an error)."""
        if self.checkpoint_paths:
            return sorted(checkpoints_from_paths(self.checkpoint_paths), key=lambda c: c.name)
        return discover_checkpoints(self.config.checkpoints_dir)

    @cached_property
    def checkpoints(self) -> list[Checkpoint]:
        """The checkpoints this run gates: every one discovered, or with --shard K/N shard K's
        share (which hashing may leave empty: the other shards gate them)."""
        if self.shard is None:
            return self.discovered
        return select_shard(self.discovered, *self.shard)

    @cached_property
    def probe_sentences(self) -> list[str]:
        path = self.config.effect.probe_path
        if not path.is_file():
            raise ConfigError(
                path,
                "the probe sentences file does not exist",
                "set [effect] probe_path in gate.toml",
            )
        sentences = read_sentences(path)
        if len(sentences) < 2:
            raise ConfigError(path, "needs at least 2 probe sentences", "add one sentence per line")
        return sentences

    @cached_property
    def datasets(self) -> dict[str, Dataset | GateInputError]:
        """Every configured data set, read once (pair sets first: a retrieval set may be derived
        from one), in configured order; a set that cannot be read holds its error."""
        loaded: dict[str, Dataset | GateInputError] = {}
        specs = sorted(self.config.datasets, key=lambda spec: spec.is_retrieval)
        for spec in specs:
            try:
                loaded[spec.name] = (
                    load_retrieval(spec, loaded)
                    if spec.is_retrieval
                    else load_dataset(spec, self.config.threshold)
                )
            except GateInputError as exc:
                loaded[spec.name] = exc
        return {spec.name: loaded[spec.name] for spec in self.config.datasets}

    def dataset(self, name: str) -> Dataset:
        """A data set by name; one that could not be read raises its error here."""
        data = self.datasets[name]
        if isinstance(data, GateInputError):
            raise data
        return data

    def readable_datasets(self) -> list[Dataset]:
        return [d for d in self.datasets.values() if not isinstance(d, GateInputError)]

    # ---- models -----------------------------------------------------------------------------

    @cached_property
    def models(self) -> GateModels:
        return GateModels(self.config, self.device, pipelines=self.findings.pipelines)

    # ---- what the run measures (each recorded where it is computed) -------------------------

    def baseline_evaluation(self, dataset: Dataset, index: int = 0) -> Evaluation | None:
        """A baseline on a data set, once per run; later baselines are compared with the first,
        the first gets its own intervals (no bootstrap of a model against itself). None on a
        reference set it (or the first baseline) could not be evaluated on."""
        name = self.config.baselines[index].name
        known = self.findings.evaluation(name, dataset.spec.name)
        if known is not None or self.findings.reference_error(name, dataset.spec.name):
            return known
        first = self.baseline_evaluation(dataset) if index else None
        if index and first is None:
            return None
        return self._unless_reference_fails(
            dataset, name, partial(self._evaluate_baseline, dataset, index, first)
        )

    def _evaluate_baseline(
        self, dataset: Dataset, index: int, first: Evaluation | None
    ) -> Evaluation:
        name = self.config.baselines[index].name
        evaluation = self._evaluate(
            name, "baseline", dataset, lambda texts: self.models.encode_baseline(texts, index)
        )
        if first is not None:
            self._compare(evaluation, first, dataset, self.models.baseline(index).model.dtype)
        else:
            self._own_intervals(evaluation, dataset)
            self.findings.truncated_texts[dataset.spec.name] = self.models.truncated_texts(dataset)
        self.findings.record_evaluation(evaluation)
        return evaluation

    def _evaluate(self, model: str, role: str, dataset: Dataset, encode: Encode) -> Evaluation:
        """One model on one data set, with what is shown beside its metrics."""
        analyses = self.config.analyses
        if isinstance(dataset, LoadedRetrieval):
            return evaluate_retrieval(model, role, dataset, encode, analyses.matryoshka)
        evaluation = evaluate(model, role, dataset, encode, self.config.threshold)
        describe_model(evaluation, dataset, encode, self.config.threshold, analyses)
        return evaluation

    def _compare(
        self, evaluation: Evaluation, first: Evaluation, dataset: Dataset, dtype: Any
    ) -> None:
        """A model against the first baseline: paired intervals, slices and flips."""
        comparison = self.config.comparison
        if isinstance(dataset, LoadedRetrieval):
            compare_retrieval_with_baseline(
                evaluation, first, comparison, dtype=dtype, device=self.device
            )
            return
        compare_with_baseline(
            evaluation, first, dataset, comparison, dtype=dtype, device=self.device
        )
        compare_slices_and_flips(evaluation, first, dataset, comparison, self.config.analyses)

    def _own_intervals(self, evaluation: Evaluation, dataset: Dataset) -> None:
        """The first baseline's own intervals (what every other model is compared with)."""
        comparison = self.config.comparison
        if isinstance(dataset, LoadedRetrieval):
            retrieval_own_intervals(evaluation, comparison)
            return
        own_intervals(evaluation, dataset, comparison)
        own_slice_intervals(evaluation, dataset, comparison, self.config.analyses)

    def evaluate_candidate(self, candidate: LoadedCandidate) -> dict[str, Evaluation]:
        """The candidate as shipped on every readable data set, against the first baseline; a
        reference set it (or the first baseline) could not be evaluated on is left out."""
        results = {}
        for dataset in self.readable_datasets():
            first = self.baseline_evaluation(dataset)
            for index in range(1, len(self.config.baselines)):  # ranked beside the first
                self.baseline_evaluation(dataset, index)
            if first is None:
                continue
            evaluation = self._unless_reference_fails(
                dataset,
                candidate.checkpoint.name,
                partial(self._evaluate_candidate, candidate, dataset, first),
            )
            if evaluation is not None:
                results[dataset.spec.name] = evaluation
        return results

    def _evaluate_candidate(
        self, candidate: LoadedCandidate, dataset: Dataset, baseline: Evaluation
    ) -> Evaluation:
        evaluation = self._evaluate(
            candidate.checkpoint.name,
            "candidate",
            dataset,
            lambda texts: self.models.encode_candidate(candidate, texts, "shipped"),
        )
        self._compare(evaluation, baseline, dataset, candidate.dtype)
        evaluation.checkpoint_kind = candidate.checkpoint.kind
        self.findings.record_evaluation(evaluation)
        return evaluation

    def _unless_reference_fails(
        self, dataset: Dataset, model: str, evaluate_model: Callable[[], Evaluation]
    ) -> Evaluation | None:
        """`evaluate_model()`. On a reference set, whatever it raises is recorded under that
        set for the report and None returned: a reference set never fails a gate test. On a
        gating set it raises, and fails that set's quality tests."""
        if dataset.spec.gates:
            return evaluate_model()
        try:
            return evaluate_model()
        except Exception as exc:  # whatever it is, it is shown under the set
            what = str(exc) if isinstance(exc, GateInputError) else f"{type(exc).__name__}: {exc}"
            self.findings.record_reference_error(model, dataset.spec.name, what)
            return None

    def probe_change(self, candidate: LoadedCandidate) -> tuple[np.ndarray, np.ndarray]:
        """Base and shipped embeddings of the probe; records each sentence's change."""
        probe = self.probe_sentences
        base = self.models.encode_base(candidate, probe)
        shipped = self.models.encode_candidate(candidate, probe, "shipped")
        self.findings.probe_distances[candidate.checkpoint.name] = cosine_distances(base, shipped)
        return base, shipped

    def change_profile(self, candidate: LoadedCandidate) -> ChangeProfile:
        """Each adapted module's relative weight update; recorded for results.json."""
        from harness.checkpoint.change_profile import change_profile

        assert candidate.peft_model is not None
        profile = change_profile(candidate.peft_model, candidate.checkpoint.adapter_name)
        self.findings.change_profiles[candidate.checkpoint.name] = profile
        return profile

    def training_record(self, checkpoint: Checkpoint) -> TrainingRecord:
        """The checkpoint's training record, read from its folder and held to [training_record]
        (no model is loaded); recorded for results.json."""
        spec = self.config.training_record
        if spec is None:
            raise ConfigError(
                self.config.source,
                "the training-record check ran, but gate.toml has no [training_record] table",
                "add a [training_record] table, or deselect test_training_record",
            )
        record = examine(checkpoint.path, spec)
        self.findings.training_records[checkpoint.name] = record
        return record

    def leakage(self, checkpoint: Checkpoint) -> dict[str, Any]:
        """The evaluation pairs of every readable pair set found in the checkpoint's training
        pairs ([leakage]); recorded for results.json. A training pairs file that cannot be
        found or read is recorded as the error."""
        spec = self.config.analyses.leakage
        if spec is None:
            raise ConfigError(
                self.config.source,
                "the leakage check ran, but gate.toml has no [leakage] table",
                "add a [leakage] table, or deselect test_no_leakage",
            )
        report = leakage_report(
            checkpoint.path, spec, self.readable_datasets(), self.training_files
        )
        self.findings.leakage[checkpoint.name] = report
        return report

    # ---- the run's context ------------------------------------------------------------------

    def context(self) -> RunContext:
        """The run's inputs, environment and work done, as plain data for results.json."""
        models = self.models
        return RunContext(
            config=self.config,
            checkpoints=self.checkpoints,
            datasets=self.datasets,
            started=self.started,
            shard=self.shard,
            discovered=self.discovered,
            baselines=[
                BaselineRecord(b.spec.name, b.spec.model, str(b.path), b.fingerprint, b.revision)
                for b in models.loaded_baselines()
            ],
            environment={
                "device": self.device,
                "device_note": self.device_note,
                "dtype": "float32",
                "versions": package_versions(),
            },
            texts_encoded=dict(sorted(models.embedder.encoded.items())),
            encode_events=[event.to_dict() for event in models.embedder.events],
        )


def package_versions() -> dict[str, str]:
    import numpy
    import peft
    import scipy
    import sentence_transformers
    import sklearn
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit_learn": sklearn.__version__,
    }
