"""Pre-load checkpoint checks: refuse a checkpoint before the slow load.

Each check raises CheckpointError(path, problem, fix) naming the file, the field, what was
expected and what was found. The adapter file is read once (`read_checked_adapter` returns its
AdapterWeights), and every later check takes that read; a base's weights are read header only.

The adapter's own files (`read_checked_adapter`): one weights file (safetensors, or a pickle
that scans clean: `harness.checkpoint.weights_files`), no larger than an adapter of its base
and rank can be, a header whose shapes fit the base, finite values. (Its config's fields are
checked at discovery: `harness.checkpoint.adapter_config`.)

Base matching: the base an adapter names must be one the gate is configured with
(`resolve_configured_base`), and every adapter tensor must fit that base's shapes
(`check_adapter_fits_base`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.checkpoint.discover import (
    ADAPTER_WEIGHTS,
    PICKLED,
    Checkpoint,
    ResolvedBase,
    adapter_weights_file,
    resolve_base,
)
from harness.checkpoint.modules_file import read_modules
from harness.checkpoint.safetensors_files import (
    ADAPTER_HEADER_LIMIT,
    AdapterHeader,
    AdapterWeights,
    read_adapter_header,
    read_tensor_shapes,
)
from harness.checkpoint.weights_files import (
    SAFETENSORS,
    adapter_from_bytes,
    read_adapter_file,
    weights_format,
)
from harness.errors import CheckpointError

PEFT_PREFIX = "base_model.model."
#: the layer index in a module path (BERT `layer.N`, Llama `layers.N`, GPT-2 `h.N`, T5 `block.N`)
LAYER_INDEX = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)\.")
#: config.json fields a tensor dimension is named by in a message
DIMENSION_FIELDS = ("hidden_size", "intermediate_size", "vocab_size")
SAMPLE = 5  # problems listed in a message; the rest are counted


def _bullets(problems: list[str]) -> str:
    """The first SAMPLE problems as an indented list, then how many more there are."""
    more = len(problems) - SAMPLE
    return "\n".join(
        [f"  - {p}" for p in problems[:SAMPLE]] + ([f"  ... and {more} more"] if more > 0 else [])
    )


# adapter tensor suffix -> (part, dimension of the tensor checked against the base weight,
# dimension of the base weight it must equal, dimension holding the rank or None)
_LORA_PARTS: tuple[tuple[str, str, int, int, int | None], ...] = (
    (".lora_A.weight", "lora_A", 1, 1, 0),  # [r, in_features]
    (".lora_B.weight", "lora_B", 0, 0, 1),  # [out_features, r]
    (".lora_B.bias", "lora_B bias", 0, 0, None),  # [out_features]
    (".lora_magnitude_vector.weight", "DoRA magnitude", 0, 0, None),  # [out_features]
    (".lora_magnitude_vector", "DoRA magnitude", 0, 0, None),
    (".lora_embedding_A", "lora_embedding_A", 1, 0, 0),  # [r, num_embeddings]
    (".lora_embedding_B", "lora_embedding_B", 0, 1, 1),  # [embedding_dim, r]
)


def resolve_configured_base(
    config_file: Path,
    base_id: str,
    aliases: Mapping[str, Path],
    bases: Mapping[str, Path],
    revision: str | None = None,
) -> ResolvedBase:
    """The base an adapter names (at `revision`), which must be one the gate is configured with.

    `bases`: the configured bases (each baseline's model and each [aliases] entry of gate.toml)
    and the folders they resolve to. The adapter's `base_model_name_or_path` must be one of
    them, or resolve (through the alias table, the Hugging Face cache, or as a local folder)
    to one of their folders.
    """
    try:
        found: ResolvedBase | None = resolve_base(
            base_id, dict(aliases), source=config_file, revision=revision
        )
    except CheckpointError:
        if base_id in bases:  # configured, yet unresolvable: the resolver says why
            raise
        found = None
    resolved = found.path if found is not None else None
    if found is not None and (
        base_id in bases
        or any(found.path.resolve() == Path(path).resolve() for path in bases.values())
    ):
        return found
    where = f" (resolves to {resolved})" if resolved is not None else ""
    listed = "\n".join(f"    {name} -> {path}" for name, path in bases.items()) or "    (none)"
    raise CheckpointError(
        config_file,
        f"base_model_name_or_path: the adapter was made for '{base_id}'{where}, which is not a "
        f"base this gate is configured with; expected one of:\n{listed}",
        f"gate it against its own base: add '{base_id}' to gate.toml as a [[baselines]] model "
        "or under [aliases]; or, if adapter_config.json names the wrong base, correct "
        "base_model_name_or_path",
    )


def base_model_config(base_path: Path) -> tuple[Path, dict[str, Any]]:
    """The transformer's config.json of a base (at the top, or in the folder of the first
    sentence-transformers module that has one)."""
    candidates = [base_path / "config.json"]
    candidates += [module.path / "config.json" for module in read_modules(base_path)]
    for candidate in candidates:
        if candidate.is_file():
            try:
                config = json.loads(candidate.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise CheckpointError(
                    candidate, f"is not valid JSON ({exc})", "repair or re-download the base model"
                ) from exc
            if isinstance(config, dict):
                return candidate, config
    raise CheckpointError(
        base_path,
        "the base model folder has no config.json, so the adapter cannot be checked against it",
        "point the alias at a complete model folder (config.json and weights)",
    )


def base_weight_shapes(config_path: Path) -> dict[str, tuple[int, ...]] | None:
    """Weight name -> shape from the base's safetensors headers (one file or an index of shards);
    None when the base has no safetensors weights."""
    folder = config_path.parent
    single = folder / "model.safetensors"
    files = [single] if single.is_file() else []
    index = folder / "model.safetensors.index.json"
    if not files and index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CheckpointError(
                index, f"is not a safetensors index ({exc})", "repair or re-download the base model"
            ) from exc
        files = [folder / shard for shard in sorted(shards)]
    if not files:
        return None
    shapes: dict[str, tuple[int, ...]] = {}
    for file in files:
        shapes.update(read_tensor_shapes(file))
    return shapes


def _field(config: dict[str, Any], value: int) -> str:
    """The config.json field(s) a dimension equals, for messages."""
    named = [f for f in DIMENSION_FIELDS if config.get(f) == value]
    return f"field {' = '.join(named)} in config.json" if named else "the base weight's shape"


def _base_key(shapes: Mapping[str, tuple[int, ...]], name: str) -> str | None:
    """The base's name for a weight: the same name, or one ending in it (a base saved with a
    model prefix such as `bert.`)."""
    if name in shapes:
        return name
    ends = [key for key in shapes if key.endswith("." + name)]
    return ends[0] if len(ends) == 1 else None


def check_adapter_fits_base(
    adapter: AdapterHeader | AdapterWeights, adapter_config: Mapping[str, Any], base_path: Path
) -> None:
    """Every adapter tensor fits the base: layer indexes below config.json's num_hidden_layers,
    LoRA dimensions equal to the base weight's (hidden_size, intermediate_size, vocab_size),
    ranks equal to the config's r, saved modules the base's shape. Shapes only: the base's
    weights are read header only.

    Tensors for modules the base does not have at all (a wrapper's key prefix) are left to the
    exact-load check, which diagnoses the prefix.
    """
    config_path, config = base_model_config(base_path)
    shapes = base_weight_shapes(config_path)
    layers = config.get("num_hidden_layers")
    declared = [adapter_config.get("r"), *(adapter_config.get("rank_pattern") or {}).values()]
    ranks: set[int] = {r for r in declared if isinstance(r, int)}
    problems: list[str] = []
    for key, shape in sorted(adapter.shapes.items()):
        name = key.removeprefix(PEFT_PREFIX)
        index = LAYER_INDEX.search(name)
        if isinstance(layers, int) and index and int(index.group(1)) >= layers:
            problems.append(
                f"tensor '{key}' (shape {list(shape)}): field num_hidden_layers in {config_path}: "
                f"expected a layer index below {layers}, found layer {index.group(1)}"
            )
            continue
        part = next((p for p in _LORA_PARTS if name.endswith(p[0])), None)
        if part is None:  # a modules_to_save copy: the base parameter's own shape
            base_key = _base_key(shapes, name) if shapes is not None else None
            if shapes is not None and base_key is not None and shapes[base_key] != shape:
                problems.append(
                    f"tensor '{key}' (a saved module): expected the base's shape "
                    f"{list(shapes[base_key])} ({base_key}), found {list(shape)}"
                )
            continue
        suffix, label, dim, base_dim, rank_dim = part
        rank = shape[rank_dim] if rank_dim is not None and len(shape) > rank_dim else None
        if rank is not None and ranks and rank not in ranks:
            expected = " or ".join(str(r) for r in sorted(ranks))
            problems.append(
                f"tensor '{key}' ({label}, shape {list(shape)}): field r in adapter_config.json: "
                f"expected rank {expected}, found {rank}"
            )
            continue
        if len(shape) <= dim:
            continue
        found = shape[dim]
        if shapes is not None:
            module = name[: -len(suffix)]
            base_key = _base_key(shapes, module + ".weight")
            if base_key is None or len(shapes[base_key]) != 2:
                continue  # no such module (a prefix: see above), or not a linear/embedding layer
            expected_dim = shapes[base_key][base_dim]
            if found != expected_dim:
                problems.append(
                    f"tensor '{key}' ({label}, shape {list(shape)}): "
                    f"{_field(config, expected_dim)}: expected {expected_dim}, found {found} "
                    f"(the base's {base_key} is {list(shapes[base_key])})"
                )
        else:  # no safetensors weights in the base: dimensions from config.json alone
            names = {
                "lora_embedding_A": ("vocab_size",),
                "lora_embedding_B": ("hidden_size",),
            }.get(label, ("hidden_size", "intermediate_size"))
            allowed = {config[f] for f in names if config.get(f) is not None}
            if allowed and found not in allowed:
                problems.append(
                    f"tensor '{key}' ({label}, shape {list(shape)}): field {' or '.join(names)} in "
                    f"{config_path}: expected {' or '.join(map(str, sorted(allowed)))}, "
                    f"found {found}"
                )
    if shapes is not None:
        check_saved_modules_present(adapter, adapter_config, shapes)
    if problems:
        raise CheckpointError(
            adapter.path,
            f"{len(problems)} of {len(adapter.shapes)} adapter tensors do not fit the base model "
            f"{base_path} (config.json: hidden_size {config.get('hidden_size')}, "
            f"vocab_size {config.get('vocab_size')}, num_hidden_layers {layers}):\n"
            + _bullets(problems),
            "the adapter was made for another base model, or its config was edited: set "
            "base_model_name_or_path (and r) in adapter_config.json to what it was trained with, "
            "or retrain it on this base",
        )


# ---- the adapter's own files: before anything is loaded ---------------------------------------
#
# `check_adapter_files` runs these in order; each raises CheckpointError(path, problem, fix).

def check_one_weights_file(adapter_dir: Path) -> Path:
    """The adapter's one weights file: `adapter_model.safetensors`, or `adapter_model.bin` (a
    pickle, scanned before it is loaded). Both side by side is ambiguous, and refused."""
    if (adapter_dir / PICKLED).exists() and (adapter_dir / ADAPTER_WEIGHTS).exists():
        raise CheckpointError(
            adapter_dir,
            f"holds both {ADAPTER_WEIGHTS} and {PICKLED}: which weights were meant "
            "is ambiguous (PEFT would silently take the safetensors file)",
            f"delete the one that was not meant; to keep the pickle's weights, delete "
            f"{ADAPTER_WEIGHTS} and run `python -m harness convert {adapter_dir}`, which writes "
            "it from the pickle after scanning it",
        )
    return adapter_weights_file(adapter_dir)


def check_weights_finite(adapter: AdapterWeights) -> None:
    """Every floating-point tensor of the adapter file is finite (no NaN, no Inf)."""
    bad: list[str] = []
    for key, tensor in adapter.tensors.items():
        if not tensor.is_floating_point():
            continue
        nan, inf = int(tensor.isnan().sum()), int(tensor.isinf().sum())
        if nan or inf:
            bad.append(f"{key}: {nan} NaN and {inf} Inf of {tensor.numel()} values")
    if bad:
        raise CheckpointError(
            adapter.path,
            f"{len(bad)} of {len(adapter.tensors)} adapter tensors hold NaN or Inf values, so "
            f"every embedding the adapter touches would be NaN:\n{_bullets(bad)}",
            "training diverged or the weights were saved from a broken model: retrain (a lower "
            "learning rate; bf16 or fp32 instead of fp16) or gate an earlier checkpoint",
        )


def check_adapter_files(adapter_dir: Path, adapter_config: Mapping[str, Any]) -> AdapterWeights:
    """The checks of an adapter's own files without its base: one weights file, readable,
    finite values. Returns the weights file as read."""
    adapter = read_adapter_file(check_one_weights_file(adapter_dir))
    check_weights_finite(adapter)
    return adapter


def read_checked_adapter(
    checkpoint: Checkpoint, base_path: Path, copy_into: Path | None = None
) -> AdapterWeights:
    """The adapter file of `checkpoint`, checked before and while it is read, cheapest first:
    one weights file; its size within what an adapter of this base and rank can hold (before a
    byte is read); its bytes read once through the checkpoint's manifest (the bytes hashed at
    discovery); its header's shapes against the base and that bound (before any tensor is
    parsed); then its tensors, finite. Returns the file as read, for every later check; those
    very bytes are also written into `copy_into` (the gate's own folder), for PEFT to load."""
    assert checkpoint.manifest is not None
    weights = check_one_weights_file(checkpoint.adapter_dir)
    bound = adapter_element_bound(checkpoint.adapter_config, base_path)
    most_bytes = 8 + ADAPTER_HEADER_LIMIT + 8 * bound
    size = checkpoint.manifest.entry(weights).size
    if size > most_bytes:
        raise _over_bound(weights, f"is {size:,} bytes", bound, base_path)
    data = checkpoint.manifest.read(weights, limit=most_bytes)
    if copy_into is not None:
        (copy_into / weights.name).write_bytes(data)
    if weights_format(weights) == SAFETENSORS:
        header = read_adapter_header(data, weights)
        if header.elements > bound:
            raise _over_bound(
                weights, f"declares {header.elements:,} tensor elements", bound, base_path
            )
        check_adapter_fits_base(header, checkpoint.adapter_config, base_path)
        adapter = adapter_from_bytes(data, weights)
    else:  # a pickle has no header: its shapes are known once it is (safely) loaded
        adapter = adapter_from_bytes(data, weights)
        check_adapter_fits_base(adapter, checkpoint.adapter_config, base_path)
    check_weights_finite(adapter)
    return adapter


def adapter_element_bound(adapter_config: Mapping[str, Any], base_path: Path) -> int:
    """The most tensor elements an adapter of the base at `base_path` and its configured ranks
    can hold: every 2-D base weight adapted at the highest rank (r * (in + out)) with its bias
    and DoRA magnitude, plus a saved copy of every base parameter (modules_to_save). Without
    safetensors headers in the base, three times its weight files' bytes."""
    config_path, _ = base_model_config(base_path)
    shapes = base_weight_shapes(config_path)
    ranks = [adapter_config.get("r"), *(adapter_config.get("rank_pattern") or {}).values()]
    rank = max([r for r in ranks if isinstance(r, int)] or [0])
    if shapes is None:
        files = [f for f in config_path.parent.iterdir() if f.is_file() and f.suffix == ".bin"]
        return 3 * sum(f.stat().st_size for f in files)
    matrices = [shape for shape in shapes.values() if len(shape) == 2]
    adapted = sum((rank + 1) * (rows + columns) + rows for rows, columns in matrices)
    return adapted + sum(math.prod(shape) for shape in shapes.values())


def _over_bound(path: Path, found: str, bound: int, base_path: Path) -> CheckpointError:
    return CheckpointError(
        path,
        f"{found}, more than an adapter of the base {base_path} at its configured rank can "
        f"hold ({bound:,} elements: every base weight adapted at that rank, plus a saved copy "
        "of each); refused before its tensors are read",
        "the file is not an adapter of this base: re-save the adapter with save_pretrained, "
        "or set base_model_name_or_path and r in adapter_config.json to what it was trained with",
    )


def check_saved_modules_present(
    adapter: AdapterHeader | AdapterWeights,
    adapter_config: Mapping[str, Any],
    shapes: Mapping[str, tuple[int, ...]],
) -> None:
    """Every parameter of every module `modules_to_save` names is in the file (an export that
    drops the trained copy would leave the model running the base's untrained module; PEFT
    itself stops with a bare KeyError)."""
    targets = adapter_config.get("modules_to_save") or []
    saved = {key.removeprefix(PEFT_PREFIX) for key in adapter.shapes}
    missing = []
    for target in targets:
        for name in sorted(shapes):
            module = name.rsplit(".", 1)[0]
            if (module == target or module.endswith("." + target)) and name not in saved:
                missing.append(name)
    if missing:
        sample = ", ".join(missing[:SAMPLE]) + (", ..." if len(missing) > SAMPLE else "")
        raise CheckpointError(
            adapter.path,
            f"field modules_to_save in adapter_config.json names {targets}: expected the trained "
            f"copy of each in the file, found {len(missing)} of their parameters missing: {sample}",
            "re-save the adapter with save_pretrained, which writes every modules_to_save "
            "module (an export or merge step dropped it)",
        )
