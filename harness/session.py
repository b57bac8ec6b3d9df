"""GateSession: what one gate run holds (config, checkpoints, baseline, embeddings, outcomes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

from harness.checkpoints import (
    Checkpoint,
    checkpoints_from_paths,
    discover_checkpoints,
    resolve_base,
)
from harness.config import BaselineSpec, DatasetSpec, GateConfig
from harness.encoding import Embedder
from harness.errors import ConfigError, GateInputError
from harness.evaluation import Evaluation, LoadedDataset, compare_with, evaluate, load_dataset
from harness.fingerprints import weights_fingerprint
from harness.loading import LoadedCandidate, load_sentence_transformer, resolve_device
from harness.metrics import cosine_scores


@dataclass
class LoadedBaseline:
    """A baseline model, loaded once and read-only, with its weights fingerprint at load time."""

    spec: BaselineSpec
    path: Path
    model: SentenceTransformer
    fingerprint: str

    def current_fingerprint(self) -> str:
        """The weights fingerprint now (equal to `fingerprint` unless something modified it)."""
        return weights_fingerprint(self.model)


OUTCOME_SEVERITY = {"passed": 0, "failed": 1, "skipped": 2, "error": 3}


@dataclass
class CheckOutcome:
    """One gate test's result for one checkpoint."""

    checkpoint: str
    check: str
    outcome: str  # passed | failed | error | skipped
    message: str = ""


@dataclass
class GateSession:
    """State shared by the plugin's hooks and fixtures for one pytest run."""

    config: GateConfig
    requested_device: str
    device_source: str = "--device"
    checkpoint_paths: list[str] = field(default_factory=list)
    outcomes: dict[str, CheckOutcome] = field(default_factory=dict)  # by test node id
    not_applicable: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # check, checkpoint, why
    _baselines: dict[str, LoadedBaseline] = field(default_factory=dict)
    _bases: dict[str, SentenceTransformer] = field(default_factory=dict)
    evaluations: dict[tuple[str, str], Evaluation] = field(default_factory=dict)  # (model, dataset)
    probe_distances: dict[str, np.ndarray] = field(default_factory=dict)  # per checkpoint
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    results: dict | None = None  # results.json of the finished run
    report_path: Path | None = None

    @cached_property
    def device(self) -> str:
        return resolve_device(self.requested_device, source=self.device_source)

    @property
    def device_note(self) -> str:
        if self.requested_device == "auto":
            why = "CUDA is available" if self.device.startswith("cuda") else "no CUDA device found"
            return f"{self.device} (auto: {why})"
        return self.device

    @cached_property
    def checkpoints(self) -> list[Checkpoint]:
        """--checkpoint paths if given, else every checkpoint under the configured directory."""
        if self.checkpoint_paths:
            return checkpoints_from_paths(self.checkpoint_paths)
        return discover_checkpoints(self.config.checkpoints_dir)

    @cached_property
    def embedder(self) -> Embedder:
        return Embedder(
            batch_size=self.config.batch_size, device=self.device, cache_dir=self.config.cache_dir
        )

    @cached_property
    def probe_sentences(self) -> list[str]:
        path = self.config.effect.probe_path
        if not path.is_file():
            raise ConfigError(
                path,
                "the probe sentences file does not exist",
                "set [effect] probe_path in gate.toml",
            )
        sentences = [
            line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        if len(sentences) < 2:
            raise ConfigError(path, "needs at least 2 probe sentences", "add one sentence per line")
        return sentences

    def loaded_baselines(self) -> list[LoadedBaseline]:
        """The baselines this run loaded, in configured order."""
        return [self._baselines[b.name] for b in self.config.baselines if b.name in self._baselines]

    def baseline(self, index: int = 0) -> LoadedBaseline:
        """The index-th configured baseline, loaded on first use and kept for the whole run."""
        spec = self.config.baselines[index]
        if spec.name not in self._baselines:
            path = resolve_base(spec.model, self.config.aliases, source=self.config.source)
            model = load_sentence_transformer(path, self.device)
            self._baselines[spec.name] = LoadedBaseline(
                spec, path, model, weights_fingerprint(model)
            )
        return self._baselines[spec.name]

    def encode_baseline(self, texts: list[str], index: int = 0) -> np.ndarray:
        """Baseline embeddings, cached on disk by weights fingerprint, text and settings."""
        baseline = self.baseline(index)
        return self.embedder.encode(
            baseline.model,
            texts,
            key=f"baseline/{baseline.spec.name}",
            cache_id=baseline.fingerprint,
        )

    @cached_property
    def datasets(self) -> dict[str, LoadedDataset | GateInputError]:
        """Every configured data set, read once; a set that cannot be read holds its error."""
        loaded: dict[str, LoadedDataset | GateInputError] = {}
        for spec in self.config.datasets:
            try:
                loaded[spec.name] = load_dataset(spec)
            except GateInputError as exc:
                loaded[spec.name] = exc
        return loaded

    def dataset(self, name: str) -> LoadedDataset:
        """A data set by name; one that could not be read raises its error here."""
        data = self.datasets[name]
        if isinstance(data, GateInputError):
            raise data
        return data

    def missing_references(self) -> dict[str, str]:
        """Reference data sets that could not be read: named in the summary, never failing."""
        return {
            name: str(data)
            for name, data in self.datasets.items()
            if isinstance(data, GateInputError) and not self._spec(name).gates
        }

    def _spec(self, name: str) -> DatasetSpec:
        return next(spec for spec in self.config.datasets if spec.name == name)

    def readable_datasets(self) -> list[LoadedDataset]:
        return [d for d in self.datasets.values() if isinstance(d, LoadedDataset)]

    def baseline_evaluation(self, dataset: LoadedDataset, index: int = 0) -> Evaluation:
        """A baseline on a data set, once per run; later baselines are compared with the first."""
        name = self.config.baselines[index].name
        key = (name, dataset.spec.name)
        if key not in self.evaluations:
            evaluation = evaluate(
                name,
                "baseline",
                dataset,
                lambda texts: self.encode_baseline(texts, index),
                self.config.threshold,
            )
            compare_with(
                evaluation,
                self.baseline_evaluation(dataset) if index else evaluation,
                dataset,
                self.config.comparison,
            )
            evaluation.identical_to_baseline = index > 0 and evaluation.identical_to_baseline
            self.evaluations[key] = evaluation
        return self.evaluations[key]

    def evaluate_candidate(self, candidate: LoadedCandidate) -> dict[str, Evaluation]:
        """The candidate (adapter active) on every readable data set, against the first baseline."""
        results = {}
        for dataset in self.readable_datasets():
            for index in range(len(self.config.baselines)):
                self.baseline_evaluation(dataset, index)
            evaluation = evaluate(
                candidate.checkpoint.name,
                "candidate",
                dataset,
                lambda texts: self.encode_candidate(candidate, texts, "adapter"),
                self.config.threshold,
            )
            compare_with(
                evaluation, self.baseline_evaluation(dataset), dataset, self.config.comparison
            )
            self.evaluations[(candidate.checkpoint.name, dataset.spec.name)] = evaluation
            results[dataset.spec.name] = evaluation
        return results

    def base_for(self, candidate: LoadedCandidate) -> tuple[SentenceTransformer, str]:
        """The model an adapter was made for (shared with a baseline on the same folder)."""
        assert candidate.base_path is not None
        for index in range(len(self.config.baselines)):
            baseline = self.baseline(index)
            if baseline.path.resolve() == candidate.base_path.resolve():
                return baseline.model, f"baseline/{baseline.spec.name}"
        key = str(candidate.base_path.resolve())
        if key not in self._bases:
            self._bases[key] = load_sentence_transformer(candidate.base_path, self.device)
        return self._bases[key], f"base/{key}"

    def encode_base_of(self, candidate: LoadedCandidate, texts: list[str]) -> np.ndarray:
        model, key = self.base_for(candidate)
        return self.embedder.encode(model, texts, key=key)

    def encode_candidate(
        self, candidate: LoadedCandidate, texts: list[str], mode: str = "adapter"
    ) -> np.ndarray:
        """Embeddings of a candidate in a mode: adapter (as shipped), merged, or disabled."""
        key = f"candidate/{candidate.checkpoint.name}/{mode}"
        if mode == "disabled":
            with candidate.adapter_disabled() as model:
                return self.embedder.encode(model, texts, key=key)
        model = candidate.merged() if mode == "merged" else candidate.model
        return self.embedder.encode(model, texts, key=key)

    def arrays(self) -> dict[str, np.ndarray]:
        """Per-pair scores, gold data and probe distances for the report's plots (scores.npz)."""
        arrays: dict[str, np.ndarray] = {}
        for (model, dataset), evaluation in sorted(self.evaluations.items()):
            arrays[f"scores|{model}|{dataset}"] = evaluation.scores
        for dataset in self.readable_datasets():
            if dataset.test.labels is not None:
                arrays[f"labels|{dataset.spec.name}"] = dataset.test.labels
            if dataset.test.scores is not None:
                arrays[f"gold|{dataset.spec.name}"] = dataset.test.scores
        for name, distances in sorted(self.probe_distances.items()):
            arrays[f"probe_distance|{name}"] = distances
        return arrays

    def probe_change(self, candidate: LoadedCandidate) -> tuple[np.ndarray, np.ndarray]:
        """Base and adapter embeddings of the probe; keeps each sentence's change for plots."""
        probe = self.probe_sentences
        base = self.encode_base_of(candidate, probe)
        adapted = self.encode_candidate(candidate, probe, "adapter")
        self.probe_distances[candidate.checkpoint.name] = 1.0 - cosine_scores(base, adapted)
        return base, adapted

    def record(self, nodeid: str, outcome: CheckOutcome) -> None:
        """Keep a test's worst phase: a teardown error after a pass is still an error."""
        previous = self.outcomes.get(nodeid)
        if (
            previous is None
            or OUTCOME_SEVERITY[outcome.outcome] > OUTCOME_SEVERITY[previous.outcome]
        ):
            self.outcomes[nodeid] = outcome

    def unsound(self) -> list[CheckOutcome]:
        """Gate tests that were skipped or errored: not run to a verdict, so the gate fails closed."""
        return [o for o in self.outcomes.values() if o.outcome in ("skipped", "error")]

    def verdicts(self) -> dict[str, tuple[str, CheckOutcome | None]]:
        """PROMOTE, or REJECT with the first check that did not pass, per checkpoint."""
        verdicts: dict[str, tuple[str, CheckOutcome | None]] = {}
        for outcome in self.outcomes.values():
            current = verdicts.get(outcome.checkpoint, ("PROMOTE", None))
            if outcome.outcome != "passed" and current[0] == "PROMOTE":
                current = ("REJECT", outcome)
            verdicts[outcome.checkpoint] = current
        return verdicts
