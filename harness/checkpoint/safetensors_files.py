"""Safetensors files, read through safetensors (which never runs code): an adapter's file read
once, header and every tensor, for all the checks of a checkpoint; a base's weights, header
only, for their shapes."""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import CheckpointError

if TYPE_CHECKING:
    import torch

#: safetensors refuses a header longer than this
MAX_HEADER_BYTES = 100_000_000
#: the gate refuses an adapter header longer than this before parsing it (a LoRA of every
#: linear layer of a 7B model has a header of about 70 kB)
ADAPTER_HEADER_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class AdapterWeights:
    """An adapter file as read once: its path and its tensors, keyed as saved."""

    path: Path
    tensors: Mapping[str, torch.Tensor]

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {key: tuple(tensor.shape) for key, tensor in self.tensors.items()}


@dataclass(frozen=True)
class AdapterHeader:
    """An adapter file's tensor shapes, from its header alone (no tensor read)."""

    path: Path
    shapes: dict[str, tuple[int, ...]]

    @property
    def elements(self) -> int:
        return sum(math.prod(shape) for shape in self.shapes.values())


def read_adapter_header(data: bytes, path: Path) -> AdapterHeader:
    """The shapes an adapter file's header declares, parsed from its bytes before any tensor
    is: a header longer than ADAPTER_HEADER_LIMIT or the file, or not a safetensors header, is a
    CheckpointError."""
    size = len(data)
    length = struct.unpack("<Q", data[:8])[0] if size >= 8 else None
    if length is None or length > size - 8:
        stated = "no header length" if length is None else f"header length {length}"
        raise _unreadable(path, f"{stated} exceeds the file ({size} bytes)")
    if length > ADAPTER_HEADER_LIMIT:
        raise _unreadable(
            path, f"header length {length:,} exceeds the gate's {ADAPTER_HEADER_LIMIT:,} bytes"
        )
    try:
        header = json.loads(data[8 : 8 + length])
        shapes = {
            key: tuple(int(n) for n in entry["shape"])
            for key, entry in header.items()
            if key != "__metadata__"
        }
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise _unreadable(path, f"the header is not a safetensors header ({exc})") from exc
    if any(n < 0 for shape in shapes.values() for n in shape):
        raise _unreadable(path, "the header declares a negative dimension")
    return AdapterHeader(path, shapes)


def adapter_weights_from_bytes(data: bytes, path: Path) -> AdapterWeights:
    """Every tensor of an adapter file already read (and hashed) as bytes."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise _unreadable(path, str(exc)) from exc
    return AdapterWeights(path, {key: tensors[key] for key in sorted(tensors)})


def read_adapter_weights(path: Path) -> AdapterWeights:
    """Every tensor of an adapter file; a truncated or corrupt file, or a header that does not
    match its data, is a CheckpointError."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {key: handle.get_tensor(key) for key in sorted(handle.keys())}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise _unreadable_file(path, exc) from exc
    return AdapterWeights(path, tensors)


def read_tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape, from the file's header alone (no tensor is read)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise _unreadable_file(path, exc) from exc


def _unreadable_file(path: Path, exc: Exception) -> CheckpointError:
    """The refusal of a file safetensors cannot read, with the header length it states when
    safetensors refused that length."""
    detail = str(exc)
    if "header too large" in detail or "invalid header length" in detail:
        detail = f"{detail}: {_stated_header_length(path)}"
    return _unreadable(path, detail)


def _unreadable(path: Path, detail: str) -> CheckpointError:
    return CheckpointError(
        path,
        f"cannot be read as safetensors ({detail})",
        "re-save or re-download it: the file is truncated or corrupt",
    )


def _stated_header_length(path: Path) -> str:
    """The header length a file's first 8 bytes state (little-endian), against its size."""
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
    size = path.stat().st_size
    if length > size - 8:
        return f"header length {length} exceeds the file ({size} bytes)"
    return f"header length {length} exceeds safetensors' limit of {MAX_HEADER_BYTES:,} bytes"
