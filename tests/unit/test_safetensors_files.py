"""harness.checkpoint.safetensors_files: an adapter file read whole, a base's shapes from its
header, and the refusal of files safetensors cannot read (files written by the test)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from harness.checkpoint.safetensors_files import read_adapter_weights, read_tensor_shapes
from harness.errors import CheckpointError

TENSORS = {
    "base_model.model.encoder.layer.1.output.dense.lora_A.weight": torch.ones(8, 1536),
    "base_model.model.encoder.layer.1.output.dense.lora_B.weight": torch.ones(384, 8),
    "steps": torch.tensor([3]),
}


def saved(tmp_path: Path) -> Path:
    path = tmp_path / "adapter_model.safetensors"
    save_file(TENSORS, str(path))
    return path


def refusal(read, path: Path) -> str:
    with pytest.raises(CheckpointError) as caught:
        read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot be read as safetensors (")
    assert "\n  fix: re-save or re-download it: the file is truncated or corrupt" in message
    return message


def test_adapter_weights_hold_every_tensor_and_its_shape(tmp_path):
    adapter = read_adapter_weights(saved(tmp_path))

    assert set(adapter.tensors) == set(TENSORS)
    assert torch.equal(adapter.tensors["steps"], TENSORS["steps"])
    assert adapter.shapes["base_model.model.encoder.layer.1.output.dense.lora_A.weight"] == (
        8,
        1536,
    )


def test_tensor_shapes_come_from_the_header(tmp_path):
    shapes = read_tensor_shapes(saved(tmp_path))

    assert shapes == {key: tuple(tensor.shape) for key, tensor in TENSORS.items()}


@pytest.mark.parametrize("read", [read_adapter_weights, read_tensor_shapes])
@pytest.mark.parametrize(
    "data", [b"", b"\x01\x02", struct.pack("<Q", 10**9) + b"{}", b"\x02" + b"\0" * 7 + b"{x"]
)
def test_unreadable_header_is_refused(tmp_path, read, data):
    path = tmp_path / "adapter_model.safetensors"
    path.write_bytes(data)
    refusal(read, path)


@pytest.mark.parametrize("read", [read_adapter_weights, read_tensor_shapes])
def test_a_header_that_does_not_match_its_data_is_refused(tmp_path, read):
    path = saved(tmp_path)
    path.write_bytes(path.read_bytes()[:-100])  # an interrupted copy: the last tensor cut short

    assert "file not fully covered" in refusal(read, path)


def test_a_header_length_beyond_the_file_is_stated(tmp_path):
    path = saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(b"\x93NOT SAF" + data[8:])  # the first bytes overwritten with junk
    length = struct.unpack("<Q", b"\x93NOT SAF")[0]

    message = refusal(read_adapter_weights, path)

    assert f"header length {length} exceeds the file ({len(data)} bytes)" in message
