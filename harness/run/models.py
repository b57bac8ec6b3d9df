"""The run's models: the baselines (the models to beat), the bases adapters were made for, and
which model encodes what. Each baseline and base is resolved and loaded once, read-only."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.checkpoint.discover import ResolvedBase, resolve_base
from harness.config import BaselineSpec, GateConfig
from harness.embedding.embedder import Embedder
from harness.errors import GateInputError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from harness.checkpoint.load import LoadedCandidate
    from harness.run.context import Dataset

#: how a candidate is encoded: as shipped (adapter active), merged, or with the adapter disabled
CANDIDATE_MODES = ("shipped", "merged", "disabled")


@dataclass
class LoadedBaseline:
    """A baseline model, loaded once and read-only, with its weights fingerprint at load time."""

    spec: BaselineSpec
    path: Path
    model: SentenceTransformer
    fingerprint: str
    #: the cached snapshot's commit it was loaded from (None: not from the Hugging Face cache)
    revision: str | None = None

    @property
    def key(self) -> str:
        """Its name in the Embedder (and in results.json's texts_encoded)."""
        return f"baseline/{self.spec.name}"

    def current_fingerprint(self) -> str:
        """The weights fingerprint now (equal to `fingerprint` unless something modified it)."""
        from harness.checkpoint.fingerprints import weights_fingerprint

        return weights_fingerprint(self.model)


class GateModels:
    """Loads the baselines and bases on first use and routes every encode through the Embedder."""

    def __init__(
        self, config: GateConfig, device: str, pipelines: dict[str, dict] | None = None
    ) -> None:
        self.config = config
        self.device = device
        #: each loaded baseline's pipeline (`describe_pipeline`), by its Embedder key
        self.pipelines = pipelines if pipelines is not None else {}
        self.embedder = Embedder(
            batch_size=config.batch_size, device=device, cache_dir=config.cache_dir
        )
        self._baselines: dict[str, LoadedBaseline] = {}
        self._bases: dict[Path, SentenceTransformer] = {}
        self._bases_in_pipeline: dict[str, SentenceTransformer] = {}

    # ---- baselines --------------------------------------------------------------------------

    def baseline(self, index: int = 0) -> LoadedBaseline:
        """The index-th configured baseline, loaded on first use and kept for the whole run."""
        from harness.checkpoint.fingerprints import weights_fingerprint
        from harness.checkpoint.load import describe_pipeline, load_sentence_transformer

        spec = self.config.baselines[index]
        if spec.name not in self._baselines:
            found = self._resolve(spec)
            model = load_sentence_transformer(found.path, self.device)
            loaded = LoadedBaseline(
                spec, found.path, model, weights_fingerprint(model), found.revision
            )
            self._baselines[spec.name] = loaded
            self.pipelines[loaded.key] = describe_pipeline(model)
        return self._baselines[spec.name]

    def _resolve(self, spec: BaselineSpec) -> ResolvedBase:
        return resolve_base(
            spec.model, self.config.aliases, source=self.config.source, revision=spec.revision
        )

    def loaded_baselines(self) -> list[LoadedBaseline]:
        """The baselines this run loaded, in configured order."""
        return [self._baselines[b.name] for b in self.config.baselines if b.name in self._baselines]

    def encode_baseline(self, texts: list[str], index: int = 0) -> np.ndarray:
        """Baseline embeddings, cached on disk by weights fingerprint, text and settings."""
        baseline = self.baseline(index)
        return self.embedder.encode(
            baseline.model, texts, key=baseline.key, cache_id=baseline.fingerprint
        )

    def truncated_texts(self, dataset: Dataset) -> int:
        """Distinct texts of a data set longer, in tokens, than the first baseline's
        max_seq_length (the model silently truncates them)."""
        model = self.baseline(0).model
        limit = model.max_seq_length
        if limit is None:  # no limit: nothing is truncated
            return 0
        tokens = model.tokenizer(dataset.texts(), add_special_tokens=True, verbose=False)
        return sum(len(ids) > limit for ids in tokens["input_ids"])

    # ---- bases ------------------------------------------------------------------------------

    @cached_property
    def configured_bases(self) -> dict[str, Path]:
        """The bases this gate is configured with, resolved once: each baseline's model and
        each [aliases] entry, with the folder it resolves to (a baseline that cannot resolve
        is left out: its own fixture fails the run)."""
        bases: dict[str, Path] = {}
        for spec in self.config.baselines:
            try:
                bases[spec.model] = self._resolve(spec).path
            except GateInputError:
                continue
        bases.update(self.config.aliases)
        return bases

    def _baseline_index_of_base(self, candidate: LoadedCandidate) -> int | None:
        """The baseline loaded from the folder an adapter was made for, if one is."""
        assert candidate.base_path is not None
        for index in range(len(self.config.baselines)):
            if self.baseline(index).path.resolve() == candidate.base_path.resolve():
                return index
        return None

    def base_as_saved(self, candidate: LoadedCandidate) -> tuple[SentenceTransformer, str]:
        """The model an adapter was made for, in its own pipeline, and its Embedder key (a
        baseline on the same folder is shared, not loaded again)."""
        from harness.checkpoint.load import load_sentence_transformer

        index = self._baseline_index_of_base(candidate)
        if index is not None:
            baseline = self.baseline(index)
            return baseline.model, baseline.key
        assert candidate.base_path is not None
        path = candidate.base_path.resolve()
        if path not in self._bases:
            self._bases[path] = load_sentence_transformer(path, self.device)
        return self._bases[path], f"base/{path}"

    def base_pipeline_differences(self, candidate: LoadedCandidate) -> list[str]:
        """Where an adapter's pipeline (its checkpoint's own) differs from its base's."""
        from harness.checkpoint.load import describe_pipeline, pipeline_differences

        if not candidate.own_pipeline_adapter:
            return []
        base = describe_pipeline(self.base_as_saved(candidate)[0])
        return pipeline_differences(describe_pipeline(candidate.model), base)

    def candidate_pipeline(self, candidate: LoadedCandidate) -> dict:
        """A candidate's pipeline, whose it is ("checkpoint", or "base" for a plain-PEFT
        adapter folder) and where it differs from its base's."""
        from harness.checkpoint.load import describe_pipeline

        return {
            **describe_pipeline(candidate.model),
            "from": candidate.pipeline_from,
            "differs_from_base": self.base_pipeline_differences(candidate),
        }

    def base_of(self, candidate: LoadedCandidate) -> tuple[SentenceTransformer, str]:
        """The base's weights in the candidate's pipeline, and its Embedder key: the base as
        saved, or, where the checkpoint's own pipeline differs from it, the base's weights
        loaded into that pipeline (kept while the candidate is)."""
        if not self.base_pipeline_differences(candidate):
            return self.base_as_saved(candidate)
        name = candidate.checkpoint.name
        if name not in self._bases_in_pipeline:
            self._bases_in_pipeline[name] = candidate.load_base_in_pipeline(self.device)
        return self._bases_in_pipeline[name], f"candidate/{name}/base"

    def encode_base(self, candidate: LoadedCandidate, texts: list[str]) -> np.ndarray:
        """Embeddings by the base's weights in the candidate's pipeline (a baseline's own disk
        cache when that is a baseline)."""
        index = self._baseline_index_of_base(candidate)
        if index is not None and not self.base_pipeline_differences(candidate):
            return self.encode_baseline(texts, index)
        model, key = self.base_of(candidate)
        return self.embedder.encode(model, texts, key=key)

    # ---- candidates -------------------------------------------------------------------------

    def encode_candidate(
        self, candidate: LoadedCandidate, texts: list[str], mode: str = "shipped"
    ) -> np.ndarray:
        """Embeddings of a candidate in a mode of CANDIDATE_MODES."""
        if mode not in CANDIDATE_MODES:
            raise ValueError(f"unknown candidate mode {mode!r}; known: {CANDIDATE_MODES}")
        key = f"candidate/{candidate.checkpoint.name}/{mode}"
        if mode == "disabled":
            with candidate.adapter_disabled() as model:
                return self.embedder.encode(model, texts, key=key)
        model = candidate.merged() if mode == "merged" else candidate.model
        return self.embedder.encode(model, texts, key=key)

    def forget_candidate(self, name: str) -> None:
        """Drop a candidate's in-memory embeddings and its base in its pipeline (it is leaving
        memory)."""
        self.embedder.forget(f"candidate/{name}/")
        self._bases_in_pipeline.pop(name, None)
