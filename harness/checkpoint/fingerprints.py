"""Content fingerprints: of files and folders on disk, and of a model's weights in memory."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def file_fingerprint(path: str | Path) -> str:
    """sha256 of one file's bytes."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def directory_fingerprint(path: str | Path) -> str:
    """sha256 over every file below a folder: relative names and contents, in sorted order."""
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(file.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(file_fingerprint(file).encode())
    return digest.hexdigest()


def weights_fingerprint(module: torch.nn.Module) -> str:
    """sha256 over parameter and buffer names and values.

    Names count as much as values: an in-place adapter injection renames keys
    (`query.weight` becomes `query.base_layer.weight`) without changing a value.
    """
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        # the bytes hashed in place (buffer protocol): no copy of the weights
        digest.update(tensor.detach().to("cpu").contiguous().view(torch.uint8).numpy())
    return digest.hexdigest()
