"""Safetensors files, read through safetensors (which never runs code): an adapter's file read
once, header and every tensor, for all the checks of a checkpoint; a base's weights, header
only, for their shapes."""

from __future__ import annotations

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


@dataclass(frozen=True)
class AdapterWeights:
    """An adapter file as read once: its path and its tensors, keyed as saved."""

    path: Path
    tensors: Mapping[str, torch.Tensor]

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {key: tuple(tensor.shape) for key, tensor in self.tensors.items()}


def read_adapter_weights(path: Path) -> AdapterWeights:
    """Every tensor of an adapter file; a truncated or corrupt file, or a header that does not
    match its data, is a CheckpointError."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {key: handle.get_tensor(key) for key in sorted(handle.keys())}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise _unreadable(path, exc) from exc
    return AdapterWeights(path, tensors)


def read_tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape, from the file's header alone (no tensor is read)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise _unreadable(path, exc) from exc


def _unreadable(path: Path, exc: Exception) -> CheckpointError:
    """The refusal of a file safetensors cannot read, with the header length it states when
    safetensors refused that length."""
    detail = str(exc)
    if "header too large" in detail or "invalid header length" in detail:
        detail = f"{detail}: {_stated_header_length(path)}"
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
