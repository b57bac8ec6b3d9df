"""Load a checkpoint as base, adapter (unmerged) or merged model, and verify adapter loads."""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from harness.checkpoint.checkpoint_files import Manifest
from harness.checkpoint.discover import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    PICKLED,
    Checkpoint,
    named_adapter_folders,
    resolve_base,
)
from harness.checkpoint.modules_file import ModuleEntry, read_modules, transformer_entry
from harness.checkpoint.preflight import (
    PEFT_PREFIX,
    SAMPLE,
    read_checked_adapter,
    resolve_configured_base,
)
from harness.checkpoint.safetensors_files import AdapterWeights
from harness.errors import CheckpointError

if TYPE_CHECKING:
    import torch
    from peft import PeftModel
    from sentence_transformers import SentenceTransformer

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is first imported


def load_sentence_transformer(path: str | Path, device: str) -> SentenceTransformer:
    """A sentence-transformers model from a local folder, never from a hub."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device=device, local_files_only=True)
    model.eval()
    return model


def load_checkpoint_model(checkpoint: Checkpoint, view: Path, device: str) -> SentenceTransformer:
    """`load_sentence_transformer(view)` for a gate-owned copy of `checkpoint`'s files: whatever
    the loaders raise is a CheckpointError naming the checkpoint's own folder, not the copy."""
    try:
        return load_sentence_transformer(view, device)
    except Exception as exc:  # noqa: BLE001 (every loader failure is this checkpoint's refusal)
        detail = f"{type(exc).__name__}: {exc}".replace(str(view), str(checkpoint.path))
        raise CheckpointError(
            checkpoint.path,
            f"sentence-transformers cannot load the model the folder describes ({detail[:600]})",
            "re-save the model with sentence-transformers (model.save_pretrained), which writes "
            "every file it needs; check that its modules, configs and tokenizer files are intact",
        ) from None


def transformer_folder(folder: Path, modules: tuple[ModuleEntry, ...] | None = None) -> Path:
    """The folder of a sentence-transformers model's Transformer module (per its modules.json,
    `modules` when already read; the folder itself when it has none)."""
    entry = transformer_entry(folder, read_modules(folder) if modules is None else modules)
    return folder if entry is None else entry.path


def is_weights_file(name: str) -> bool:
    """A transformers weights file or its index (model.safetensors, pytorch_model-0001.bin...)."""
    return name.startswith(("model.", "model-", "pytorch_model")) and name.endswith(
        (".safetensors", ".bin", ".json")
    )


def _checkpoint_manifest(checkpoint: Checkpoint) -> Manifest:
    if checkpoint.manifest is None:
        raise CheckpointError(checkpoint.path, "was refused at discovery", "see its refusal")
    return checkpoint.manifest


def load_full_model(checkpoint: Checkpoint, device: str) -> SentenceTransformer:
    """A full-model checkpoint, loaded from a gate-owned copy of its files (each compared with
    its hash at discovery while copied), so the model gated is the model fingerprinted."""
    manifest = _checkpoint_manifest(checkpoint)
    with tempfile.TemporaryDirectory(prefix="gate-model-") as view_dir:
        manifest.copy_tree(Path(view_dir))
        return load_checkpoint_model(checkpoint, Path(view_dir), device)


def load_shipped_pipeline(
    checkpoint: Checkpoint, base_path: Path, device: str
) -> SentenceTransformer:
    """The pipeline a sentence-transformers adapter checkpoint ships, with the base's weights
    in its Transformer module and no adapter: loaded by `SentenceTransformer` from a gate-owned
    copy of the checkpoint's files (modules, tokenizer, configs, prompts; each compared with its
    hash at discovery) where the adapter files are replaced by the base's config and weights.
    The adapter is attached afterwards, through PEFT (sentence-transformers' own adapter
    loading is not used)."""
    manifest = _checkpoint_manifest(checkpoint)
    folder = checkpoint.path
    transformer = transformer_folder(folder, checkpoint.modules)
    base_transformer = transformer_folder(base_path)
    base_files = [
        entry
        for entry in base_transformer.iterdir()
        if entry.is_file() and (entry.name == "config.json" or is_weights_file(entry.name))
    ]
    replaced = {ADAPTER_CONFIG, ADAPTER_WEIGHTS, PICKLED} | {entry.name for entry in base_files}
    skip = {manifest.relative(transformer / name) for name in replaced}
    skip |= {manifest.relative(sub) for sub in named_adapter_folders(folder)}
    with tempfile.TemporaryDirectory(prefix="gate-pipeline-") as view_dir:
        view = Path(view_dir)
        manifest.copy_tree(view, skip=frozenset(skip))
        view_transformer = view / manifest.relative(transformer)
        view_transformer.mkdir(parents=True, exist_ok=True)
        for entry in base_files:
            (view_transformer / entry.name).symlink_to(entry.resolve())
        return load_checkpoint_model(checkpoint, view, device)


def describe_pipeline(model: SentenceTransformer) -> dict:
    """What a model does around its transformer: its modules in order, pooling mode,
    max_seq_length, embedding dimension, normalization and default prompt."""
    modes: list[Any] = [m.pooling_mode for m in model if hasattr(m, "pooling_mode")]
    modules = [type(module).__name__ for module in model]
    prompt = model.prompts.get(model.default_prompt_name) if model.default_prompt_name else None
    pooling = None
    if modes:
        pooling = modes[0] if isinstance(modes[0], str) else "+".join(modes[0])
    return {
        "modules": modules,
        "pooling": pooling,
        "max_seq_length": model.max_seq_length,
        "embedding_dimension": model.get_embedding_dimension(),
        "normalize": "Normalize" in modules,
        "default_prompt": prompt or None,
    }


#: the pipeline settings a candidate and its base are compared on
PIPELINE_SETTINGS = (
    "modules",
    "pooling",
    "max_seq_length",
    "embedding_dimension",
    "normalize",
    "default_prompt",
)


def pipeline_differences(pipeline: dict, base: dict) -> list[str]:
    """Each setting where a candidate's pipeline differs from its base's, with both values."""

    def shown(value: object) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ", ".join(value)
        return "none" if value is None else str(value)

    return [
        f"{key} {shown(pipeline.get(key))} (base: {shown(base.get(key))})"
        for key in PIPELINE_SETTINGS
        if pipeline.get(key) != base.get(key)
    ]


@dataclass
class LoadReport:
    """How an adapter file's tensors met the model's adapter parameters after loading."""

    adapter: AdapterWeights
    n_model_tensors: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    loader_warnings: list[str] = field(default_factory=list)

    @property
    def adapter_file(self) -> Path:
        return self.adapter.path

    @property
    def n_file_tensors(self) -> int:
        return len(self.adapter.tensors)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        """Counts, a short sample of each kind of key problem, and the loader's own warnings."""
        lines = [
            f"{self.adapter_file}: {self.n_file_tensors} tensors in the file, "
            f"{self.n_model_tensors} adapter tensors in the model"
        ]
        for label, keys in (
            (
                "missing (model adapter tensors the file did not provide; left at initialisation)",
                self.missing,
            ),
            ("unexpected (file tensors that reached no model parameter)", self.unexpected),
            ("mismatched (reached a parameter, but the values differ)", self.mismatched),
        ):
            if keys:
                sample = ", ".join(keys[:SAMPLE]) + (", ..." if len(keys) > SAMPLE else "")
                lines.append(f"  {len(keys)} {label}: {sample}")
        for warning in self.loader_warnings:
            lines.append(f"  loader warning: {warning[:300]}")
        return "\n".join(lines)


def verify_adapter_load(
    peft_model: torch.nn.Module,
    adapter: AdapterWeights,
    adapter_name: str = "default",
    loader_warnings: list[str] | None = None,
) -> LoadReport:
    """Every tensor of the file reached a model parameter with equal values, and vice versa."""
    from peft.utils import get_peft_model_state_dict

    file_tensors = {k.removeprefix(PEFT_PREFIX): v for k, v in adapter.tensors.items()}
    model_tensors = {
        k.removeprefix(PEFT_PREFIX): v
        for k, v in get_peft_model_state_dict(peft_model, adapter_name=adapter_name).items()
    }
    common = sorted(set(file_tensors) & set(model_tensors))
    mismatched = [
        key
        for key in common
        if file_tensors[key].shape != model_tensors[key].shape
        or not file_tensors[key].to(model_tensors[key].dtype).equal(model_tensors[key].cpu())
    ]
    return LoadReport(
        adapter=adapter,
        n_model_tensors=len(model_tensors),
        missing=sorted(set(model_tensors) - set(file_tensors)),
        unexpected=sorted(set(file_tensors) - set(model_tensors)),
        mismatched=mismatched,
        loader_warnings=list(loader_warnings or []),
    )


@dataclass
class LoadedCandidate:
    """A checkpoint in memory: the model as shipped (adapter active) plus its other modes."""

    checkpoint: Checkpoint
    model: SentenceTransformer
    base_path: Path | None = None
    #: the cached snapshot's commit the base was found at (None: not from the cache)
    base_revision: str | None = None
    load_report: LoadReport | None = None
    #: whose pipeline (modules around the transformer) serves it: the checkpoint's own, or,
    #: for a plain-PEFT adapter folder (no modules.json), its base's
    pipeline_from: str = "checkpoint"
    _merged: SentenceTransformer | None = None

    @property
    def own_pipeline_adapter(self) -> bool:
        """An adapter served in its checkpoint's own pipeline (which may differ from its base's)."""
        return self.checkpoint.is_adapter and self.pipeline_from == "checkpoint"

    def load_base_in_pipeline(self, device: str) -> SentenceTransformer:
        """The base's weights, without the adapter, in this candidate's pipeline."""
        assert self.base_path is not None
        if not self.own_pipeline_adapter:
            return load_sentence_transformer(self.base_path, device)
        return load_shipped_pipeline(self.checkpoint, self.base_path, device)

    @property
    def peft_model(self) -> PeftModel | None:
        from peft import PeftModel

        inner = self.model[0].model
        return inner if isinstance(inner, PeftModel) else None

    @contextlib.contextmanager
    def adapter_disabled(self) -> Iterator[SentenceTransformer]:
        """The same model with its adapter layers bypassed (should equal the base)."""
        if self.peft_model is None:
            raise ValueError(f"{self.checkpoint.name} has no adapter to disable")
        with self.peft_model.disable_adapter():
            yield self.model

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the checkpoint runs in (its first parameter's)."""
        return next(self.model.parameters()).dtype

    def merged(self) -> SentenceTransformer:
        """A copy with the adapter merged into the base weights (`merge_and_unload`)."""
        if self.peft_model is None:
            raise ValueError(f"{self.checkpoint.name} has no adapter to merge")
        if self._merged is None:
            merged = copy.deepcopy(self.model)
            merged[0].model = cast("PeftModel", merged[0].model).merge_and_unload()
            merged.eval()
            self._merged = merged
        return self._merged

    def in_dtype(self, dtype: torch.dtype, *, merged: bool) -> SentenceTransformer:
        """A copy cast to `dtype`: the unmerged model (adapter layers cast with it), or the model
        merged in float32 (`merged()`) and cast afterwards, so no merge rounds in low precision.

        Each floating-point tensor is cast straight into the copy (handed to deepcopy as
        already copied), not copied in float32 first and cast after."""
        import torch

        source = self.merged() if merged else self.model
        copies: dict[int, object] = {}
        for tensor in [*source.parameters(), *source.buffers()]:
            if tensor.is_floating_point() and id(tensor) not in copies:
                cast = tensor.detach().to(dtype)
                if isinstance(tensor, torch.nn.Parameter):
                    cast = torch.nn.Parameter(cast, requires_grad=tensor.requires_grad)
                copies[id(tensor)] = cast
        model = copy.deepcopy(source, copies)
        model.eval()
        return model


def load_candidate(
    checkpoint: Checkpoint,
    aliases: dict[str, Path],
    device: str,
    *,
    bases: dict[str, Path] | None = None,
) -> LoadedCandidate:
    """Load a checkpoint for gating; adapters go through PEFT on the inner transformer.

    An adapter saved by sentence-transformers is served in its checkpoint's own pipeline
    (`load_shipped_pipeline`); a plain-PEFT adapter folder in its base's.

    Before the slow load an adapter must fit its base (`preflight`): the base it names
    is one of `bases` (the gate's configured bases, when given), and its tensors fit the base.
    The adapter file is read once (by `read_checked_adapter`) for every check and the load
    report; the base is resolved once. Every file comes from the checkpoint's manifest: a gate
    owned copy hashed while copied, so what is loaded is what was fingerprinted at discovery.
    """
    if checkpoint.refusal is not None:
        raise checkpoint.refusal
    if not checkpoint.is_adapter:
        return LoadedCandidate(checkpoint, load_full_model(checkpoint, device))
    from peft import PeftModel

    base_id = checkpoint.base_id
    config_file = checkpoint.adapter_dir / ADAPTER_CONFIG
    if not base_id:
        raise CheckpointError(
            config_file,
            "names no base model (base_model_name_or_path)",
            "set base_model_name_or_path to the base model's hub id",
        )
    revision = checkpoint.base_revision
    if bases is not None:
        base = resolve_configured_base(config_file, base_id, aliases, bases, revision)
    else:
        base = resolve_base(base_id, aliases, source=config_file, revision=revision)
    base_path = base.path
    with (
        tempfile.TemporaryDirectory(prefix="gate-adapter-") as adapter_dir,
        warnings.catch_warnings(record=True) as caught,
    ):
        # PEFT reads the config and weights the gate checked: the gate's copies of those bytes
        _checkpoint_manifest(checkpoint).copy(config_file, Path(adapter_dir) / ADAPTER_CONFIG)
        adapter = read_checked_adapter(checkpoint, base_path, copy_into=Path(adapter_dir))
        if checkpoint.ships_pipeline:
            model = load_shipped_pipeline(checkpoint, base_path, device)
        else:
            model = load_sentence_transformer(base_path, device)
        warnings.simplefilter("always")
        try:
            peft_model = PeftModel.from_pretrained(
                cast("torch.nn.Module", model[0].model),
                adapter_dir,
                adapter_name=checkpoint.adapter_name,
                is_trainable=False,
            )
        except ValueError as exc:
            detail = str(exc).replace(adapter_dir, str(checkpoint.adapter_dir))
            raise CheckpointError(
                config_file,
                f"PEFT cannot apply the adapter: {detail}",
                "check target_modules against the base model's module names "
                "(e.g. query, key, value, dense for BERT-like models) and retrain",
            ) from exc
    model[0].model = peft_model
    model.eval()
    noted = [str(w.message) for w in caught if "adapter" in str(w.message).lower()]
    report = verify_adapter_load(
        peft_model, adapter, checkpoint.adapter_name, loader_warnings=noted
    )
    return LoadedCandidate(
        checkpoint,
        model,
        base_path=base_path,
        base_revision=base.revision,
        load_report=report,
        pipeline_from="checkpoint" if checkpoint.ships_pipeline else "base",
    )
