"""Checkpoint folders written by hand (no weights worth loading), for discovery tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checkpoint.discover import ADAPTER_CONFIG, ADAPTER_WEIGHTS, ST_MODULES
from harness.checkpoint.packaged_models import MINILM_HUB_ID
from harness.errors import CheckpointError


def adapter_folder(path: Path, *, st_layout: bool = False, base: str = MINILM_HUB_ID) -> Path:
    """The files that make a folder a PEFT adapter (plus modules.json in the ST layout)."""
    path.mkdir(parents=True)
    config = {"peft_type": "LORA", "base_model_name_or_path": base, "r": 8, "lora_alpha": 16}
    (path / ADAPTER_CONFIG).write_text(json.dumps(config), encoding="utf-8")
    (path / ADAPTER_WEIGHTS).write_bytes(b"")
    if st_layout:
        (path / ST_MODULES).write_text("[]", encoding="utf-8")
    return path


def full_model_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / ST_MODULES).write_text("[]", encoding="utf-8")
    return path


def checkpoint_error(call, *args, **kwargs) -> str:
    """The message of the CheckpointError `call` raises (which must say how to fix it)."""
    with pytest.raises(CheckpointError) as caught:
        call(*args, **kwargs)
    assert "\n  fix: " in str(caught.value)
    return str(caught.value)


def refusal(checkpoints: list, name: str) -> str:
    """The message a discovered checkpoint was refused with (it must say how to fix it); the
    others discovered beside it are not refused."""
    (refused,) = [c for c in checkpoints if c.name == name]
    assert refused.refusal is not None, f"{name} was not refused"
    assert all(c.refusal is None for c in checkpoints if c.name != name)
    assert "\n  fix: " in str(refused.refusal)
    return str(refused.refusal)


GIANT = "base_model.model.embeddings.giant.weight"


def write_sparse_safetensors(
    file: Path, elements: int, dtype: str = "F32", key: str = GIANT
) -> Path:
    """A safetensors file whose header declares one large, consistent tensor of `elements`,
    written as a sparse file: its size on paper, almost nothing on disk."""
    width = {"F32": 4, "F16": 2}[dtype]
    entry = {"dtype": dtype, "shape": [1, elements], "data_offsets": [0, width * elements]}
    header = json.dumps({key: entry}).encode()
    header += b" " * (-len(header) % 8)
    with open(file, "wb") as handle:
        handle.write(len(header).to_bytes(8, "little") + header)
        handle.truncate(8 + len(header) + width * elements)
    return file
