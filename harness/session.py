"""GateSession: what one gate run holds (config, checkpoints, baseline, embeddings, outcomes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

from harness.checkpoints import Checkpoint, checkpoints_from_paths, discover_checkpoints, resolve_base
from harness.config import BaselineSpec, GateConfig
from harness.encoding import Embedder
from harness.errors import ConfigError
from harness.fingerprints import weights_fingerprint
from harness.loading import LoadedCandidate, load_sentence_transformer, resolve_device


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
    checkpoint_paths: list[str] = field(default_factory=list)
    outcomes: dict[str, CheckOutcome] = field(default_factory=dict)  # by test node id
    not_applicable: list[tuple[str, str, str]] = field(default_factory=list)  # check, checkpoint, why
    _baselines: dict[str, LoadedBaseline] = field(default_factory=dict)
    _bases: dict[str, SentenceTransformer] = field(default_factory=dict)

    @cached_property
    def device(self) -> str:
        return resolve_device(self.requested_device)

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
            raise ConfigError(path, "the probe sentences file does not exist", "set [effect] probe_path in gate.toml")
        sentences = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if len(sentences) < 2:
            raise ConfigError(path, "needs at least 2 probe sentences", "add one sentence per line")
        return sentences

    def baseline(self, index: int = 0) -> LoadedBaseline:
        """The index-th configured baseline, loaded on first use and kept for the whole run."""
        spec = self.config.baselines[index]
        if spec.name not in self._baselines:
            path = resolve_base(spec.model, self.config.aliases, source=self.config.source)
            model = load_sentence_transformer(path, self.device)
            self._baselines[spec.name] = LoadedBaseline(spec, path, model, weights_fingerprint(model))
        return self._baselines[spec.name]

    def encode_baseline(self, texts: list[str], index: int = 0) -> np.ndarray:
        """Baseline embeddings, cached on disk by weights fingerprint, text and settings."""
        baseline = self.baseline(index)
        return self.embedder.encode(
            baseline.model, texts, key=f"baseline/{baseline.spec.name}", cache_id=baseline.fingerprint
        )

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

    def encode_candidate(self, candidate: LoadedCandidate, texts: list[str], mode: str = "adapter") -> np.ndarray:
        """Embeddings of a candidate in a mode: adapter (as shipped), merged, or disabled."""
        key = f"candidate/{candidate.checkpoint.name}/{mode}"
        if mode == "disabled":
            with candidate.adapter_disabled() as model:
                return self.embedder.encode(model, texts, key=key)
        model = candidate.merged() if mode == "merged" else candidate.model
        return self.embedder.encode(model, texts, key=key)

    def record(self, nodeid: str, outcome: CheckOutcome) -> None:
        """Keep a test's worst phase: a teardown error after a pass is still an error."""
        previous = self.outcomes.get(nodeid)
        if previous is None or OUTCOME_SEVERITY[outcome.outcome] > OUTCOME_SEVERITY[previous.outcome]:
            self.outcomes[nodeid] = outcome

    def unsound(self) -> list[CheckOutcome]:
        """Gate tests that neither passed nor failed cleanly (skipped or errored): the gate fails closed."""
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
