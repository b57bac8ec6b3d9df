"""GateSession: what one gate run holds (config, checkpoints, baseline, embeddings, outcomes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sentence_transformers import SentenceTransformer

from harness.checkpoint.change_profile import ChangeProfile, change_profile
from harness.checkpoint.discover import (
    Checkpoint,
    checkpoints_from_paths,
    discover_checkpoints,
    resolve_base,
    select_shard,
)
from harness.checkpoint.fingerprints import weights_fingerprint
from harness.checkpoint.load import LoadedCandidate, load_sentence_transformer
from harness.config import BaselineSpec, DatasetSpec, GateConfig
from harness.embedding.device import cuda_device_count, pinned_device, resolve_device
from harness.embedding.embedder import Embedder
from harness.errors import CheckpointError, ConfigError, GateInputError
from harness.quality.evaluate import Evaluation, LoadedDataset, compare_with, evaluate, load_dataset
from harness.quality.metrics import cosine_distances
from harness.quality.pairs import read_sentences

if TYPE_CHECKING:
    from harness.throughput.measure import CheckpointThroughput


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
    shard: tuple[int, int] | None = None  # --shard K/N
    promote_to: Path | None = None  # --promote-to DIR
    worker: str | None = None  # the xdist worker id, None when serial
    outcomes: dict[str, CheckOutcome] = field(default_factory=dict)  # by test node id
    not_applicable: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # check, checkpoint, why
    _baselines: dict[str, LoadedBaseline] = field(default_factory=dict)
    _bases: dict[str, SentenceTransformer] = field(default_factory=dict)
    evaluations: dict[tuple[str, str], Evaluation] = field(default_factory=dict)  # (model, dataset)
    probe_distances: dict[str, np.ndarray] = field(default_factory=dict)  # per checkpoint
    change_profiles: dict[str, ChangeProfile] = field(default_factory=dict)  # per checkpoint
    throughput: dict[str, CheckpointThroughput] = field(default_factory=dict)  # per checkpoint
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

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
    def checkpoints(self) -> list[Checkpoint]:
        """--checkpoint paths if given, else every checkpoint under the configured directory,
        sorted by name; with --shard K/N only shard K's share (none is an error)."""
        if self.checkpoint_paths:
            found = sorted(checkpoints_from_paths(self.checkpoint_paths), key=lambda c: c.name)
        else:
            found = discover_checkpoints(self.config.checkpoints_dir)
        if self.shard is None:
            return found
        share = select_shard(found, *self.shard)
        if not share:
            raise CheckpointError(
                self.config.checkpoints_dir,
                f"shard {self.shard[0]}/{self.shard[1]} holds none of the {len(found)} checkpoints",
                "use fewer shards than checkpoints, or skip this shard's job",
            )
        return share

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
        sentences = read_sentences(path)
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

    def _baseline_index_for(self, candidate: LoadedCandidate) -> int | None:
        """The baseline loaded from the folder an adapter was made for, if one is."""
        assert candidate.base_path is not None
        for index in range(len(self.config.baselines)):
            if self.baseline(index).path.resolve() == candidate.base_path.resolve():
                return index
        return None

    def base_for(self, candidate: LoadedCandidate) -> tuple[SentenceTransformer, str]:
        """The model an adapter was made for (shared with a baseline on the same folder)."""
        index = self._baseline_index_for(candidate)
        if index is not None:
            baseline = self.baseline(index)
            return baseline.model, f"baseline/{baseline.spec.name}"
        assert candidate.base_path is not None
        key = str(candidate.base_path.resolve())
        if key not in self._bases:
            self._bases[key] = load_sentence_transformer(candidate.base_path, self.device)
        return self._bases[key], f"base/{key}"

    def encode_base_of(self, candidate: LoadedCandidate, texts: list[str]) -> np.ndarray:
        index = self._baseline_index_for(candidate)
        if index is not None:  # the baseline's own key and disk cache
            return self.encode_baseline(texts, index)
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
        for (model, dataset_name), evaluation in sorted(self.evaluations.items()):
            arrays[f"scores|{model}|{dataset_name}"] = evaluation.scores
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
        self.probe_distances[candidate.checkpoint.name] = cosine_distances(base, adapted)
        return base, adapted

    def change_profile(self, candidate: LoadedCandidate) -> ChangeProfile:
        """Each adapted module's relative weight update; kept for results.json and the report."""
        assert candidate.peft_model is not None
        profile = change_profile(candidate.peft_model, candidate.checkpoint.adapter_name)
        self.change_profiles[candidate.checkpoint.name] = profile
        return profile

    def configured_bases(self) -> dict[str, Path]:
        """The bases this gate is configured with: each baseline's model and each [aliases]
        entry, with the folder it resolves to (a baseline that cannot resolve is left out: its
        own fixture fails the run)."""
        bases: dict[str, Path] = {}
        for spec in self.config.baselines:
            try:
                bases[spec.model] = resolve_base(
                    spec.model, self.config.aliases, source=self.config.source
                )
            except GateInputError:
                continue
        bases.update(self.config.aliases)
        return bases

    def record(self, nodeid: str, outcome: CheckOutcome) -> None:
        """Keep a test's worst phase: a teardown error after a pass is still an error."""
        previous = self.outcomes.get(nodeid)
        if (
            previous is None
            or OUTCOME_SEVERITY[outcome.outcome] > OUTCOME_SEVERITY[previous.outcome]
        ):
            self.outcomes[nodeid] = outcome

    def has_failed(self, checkpoint: str) -> bool:
        """A gate test of this checkpoint did not pass so far: it can no longer be promoted."""
        return any(
            o.checkpoint == checkpoint and o.outcome != "passed" for o in self.outcomes.values()
        )

    def unsound(self) -> list[CheckOutcome]:
        """Gate tests skipped or errored: not run to a verdict, so the gate fails closed."""
        return [o for o in self.outcomes.values() if o.outcome in ("skipped", "error")]

    def truncated_texts(self, dataset: LoadedDataset) -> int | None:
        """Distinct texts of a data set longer, in tokens, than the first baseline's
        max_seq_length (the model silently truncates them); None if no baseline was loaded."""
        first = self._baselines.get(self.config.baselines[0].name)
        if first is None:
            return None
        model = first.model
        limit = model.max_seq_length
        if limit is None:  # no limit: nothing is truncated
            return 0
        tokens = model.tokenizer(dataset.texts(), add_special_tokens=True, verbose=False)
        return sum(len(ids) > limit for ids in tokens["input_ids"])

    def incomplete_reasons(self, *, gated_only: bool = False) -> list[str]:
        """Why the verdicts do not rest on every check of every checkpoint and gating data set.

        Empty for a complete run; otherwise the run fails and results.json says
        `complete: false` with these reasons (a partial report never passes for a whole one).
        `gated_only` (an xdist worker's share): checkpoints gated elsewhere are not missing.
        """
        reasons = []
        unsound = self.unsound()
        if unsound:
            reasons.append(
                f"{len(unsound)} gate test(s) were skipped or errored, so their checks have no "
                "verdict (FAILED CLOSED)"
            )
        for name, data in self.datasets.items():
            if isinstance(data, GateInputError) and self._spec(name).gates:
                reasons.append(
                    f"gating data set '{name}' could not be read: {str(data).splitlines()[0]}"
                )
        gated = {outcome.checkpoint for outcome in self.outcomes.values()}
        reasons += [] if gated_only else [
            f"checkpoint '{c.name}' was not gated: no gate test ran for it"
            for c in self.checkpoints
            if c.name not in gated
        ]
        return reasons
