"""An adapter's weights file in either format PEFT saves: safetensors (read by safetensors, which
never runs code), or a pickle (`adapter_model.bin`, `save_pretrained(safe_serialization=False)`)
scanned without unpickling, then loaded with `torch.load(weights_only=True)`.

The scan (picklescan) lists the globals a pickle would import. A clean PEFT `.bin` names only
torch's tensor and storage rebuilding and `collections.OrderedDict`; any other global refuses
the file, named, before anything is loaded.
"""

from __future__ import annotations

import io
from pathlib import Path

from harness.checkpoint.discover import ADAPTER_WEIGHTS, PICKLED
from harness.checkpoint.safetensors_files import (
    AdapterWeights,
    adapter_weights_from_bytes,
    read_adapter_weights,
)
from harness.errors import CheckpointError

#: the globals `torch.save` writes for a dict of tensors: (module, name); a name ending in
#: "Storage" under `torch` is a typed storage (FloatStorage, HalfStorage, BFloat16Storage...)
ALLOWED_GLOBALS = frozenset(
    {
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch", "UntypedStorage"),
    }
)
#: the formats results.json names
SAFETENSORS, PICKLE = "safetensors", "pickle"


def weights_format(path: Path) -> str:
    return PICKLE if path.name == PICKLED else SAFETENSORS


def read_adapter_file(path: Path) -> AdapterWeights:
    """Every tensor of an adapter weights file, in either format; a file that cannot be read,
    or a pickle that would import anything but tensors, is a CheckpointError."""
    if weights_format(path) == SAFETENSORS:
        return read_adapter_weights(path)
    return adapter_from_bytes(path.read_bytes(), path)


def adapter_from_bytes(data: bytes, path: Path) -> AdapterWeights:
    """Every tensor of an adapter file read once as `data` (its bytes as hashed); a pickle is
    scanned in those bytes before they are loaded."""
    if weights_format(path) == SAFETENSORS:
        return adapter_weights_from_bytes(data, path)
    scan_pickle(data, path)
    import torch

    try:
        tensors = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 (torch raises many kinds; each is a refusal)
        raise CheckpointError(
            path,
            f"cannot be loaded as tensors with torch.load(weights_only=True): {exc}",
            "re-save the adapter with save_pretrained (safe_serialization=True writes "
            f"{ADAPTER_WEIGHTS})",
        ) from exc
    if not isinstance(tensors, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()
    ):
        raise CheckpointError(
            path,
            "does not hold a dict of named tensors (what save_pretrained writes)",
            "re-save the adapter with save_pretrained",
        )
    return AdapterWeights(path, {key: tensors[key] for key in sorted(tensors)})


def scan_pickle(data: bytes, path: Path) -> None:
    """Refuse a pickle (`data`, the bytes of `path`) that would import a global beyond tensor
    rebuilding, without running it (picklescan reads the opcodes, also inside torch's zip
    format)."""
    from picklescan.scanner import scan_bytes

    result = scan_bytes(io.BytesIO(data), str(path), path.suffix)
    if result.scan_err:
        raise CheckpointError(
            path,
            "cannot be scanned as a pickle (picklescan could not read it), so it is never loaded",
            "re-save the adapter with save_pretrained(..., safe_serialization=True)",
        )
    foreign = sorted(
        {
            f"{g.module}.{g.name}"
            for g in result.globals
            if (g.module, g.name) not in ALLOWED_GLOBALS
            and not (g.module == "torch" and g.name.endswith("Storage"))
        }
    )
    if foreign:
        raise CheckpointError(
            path,
            f"is a pickle that imports {', '.join(foreign)} when loaded (found by scanning it, "
            "without running it): a weights file holds tensors only, so it is never loaded",
            "re-save the adapter from the training code with save_pretrained(..., "
            "safe_serialization=True); never load this file with torch.load(weights_only=False)",
        )


def convert_to_safetensors(adapter_dir: Path) -> Path:
    """Write `adapter_model.safetensors` from a clean `adapter_model.bin` (the same scan and
    load as the gate's), check every tensor reads back equal, and keep the pickle beside it as
    `adapter_model.bin.converted` (never read again). Returns the safetensors file."""
    from safetensors.torch import save_file

    pickled, target = adapter_dir / PICKLED, adapter_dir / ADAPTER_WEIGHTS
    if not pickled.is_file():
        raise CheckpointError(adapter_dir, f"holds no {PICKLED}", "pass an adapter folder")
    if target.exists():
        raise CheckpointError(
            target, "already exists", f"delete {PICKLED} if the safetensors file is the one meant"
        )
    adapter = read_adapter_file(pickled)
    partial = target.with_name(f".{target.name}.partial")
    save_file({k: v.contiguous() for k, v in adapter.tensors.items()}, str(partial))
    written = read_adapter_weights(partial)
    differ = [
        key
        for key, tensor in adapter.tensors.items()
        if key not in written.tensors or not written.tensors[key].equal(tensor)
    ]
    if differ or set(written.tensors) != set(adapter.tensors):
        partial.unlink()
        raise CheckpointError(
            pickled, f"converted tensors differ after writing: {differ[:5]}", "report this"
        )
    partial.rename(target)
    pickled.rename(pickled.with_name(f"{PICKLED}.converted"))
    return target
