"""Pickled adapter weights (`adapter_model.bin`): scanned without unpickling, refused for any
global beyond tensor rebuilding (the payload never runs), loaded with weights_only otherwise,
and converted to safetensors with every tensor compared after writing."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from bad_inputs import write_pickle_payload

from harness.checkpoint.preflight import check_adapter_files, check_one_weights_file
from harness.checkpoint.safetensors_files import read_adapter_weights
from harness.checkpoint.weights_files import convert_to_safetensors, read_adapter_file
from harness.errors import CheckpointError

GOOD = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["query", "value"]}
TENSORS = OrderedDict(
    (
        ("base_model.model.q.lora_A.weight", torch.arange(6, dtype=torch.float32).reshape(2, 3)),
        ("base_model.model.q.lora_B.weight", torch.ones(3, 2, dtype=torch.bfloat16)),
        ("base_model.model.q.lora_magnitude_vector", torch.full((3,), 0.5, dtype=torch.float16)),
    )
)


def clean_bin(folder):
    folder.mkdir(exist_ok=True)
    torch.save(TENSORS, str(folder / "adapter_model.bin"))  # what save_pretrained(safe=False) does
    return folder / "adapter_model.bin"


def test_a_clean_pickle_loads_every_tensor_as_saved(tmp_path):
    path = clean_bin(tmp_path)
    assert check_one_weights_file(tmp_path) == path
    adapter = check_adapter_files(tmp_path, GOOD)
    assert adapter.path == path and list(adapter.tensors) == sorted(TENSORS)
    for key, tensor in TENSORS.items():
        assert adapter.tensors[key].dtype == tensor.dtype and adapter.tensors[key].equal(tensor)


def test_a_payload_is_refused_by_name_and_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    path = write_pickle_payload(tmp_path / "adapter_model.bin", marker)

    with pytest.raises(CheckpointError) as refused:
        read_adapter_file(path)

    message = str(refused.value)
    assert message.startswith(f"{path}: is a pickle that imports __builtin__.exec when loaded")
    assert "found by scanning it, without running it" in message
    assert "safe_serialization=True" in message
    assert not marker.exists(), "the payload ran"


def test_a_pickle_of_something_else_than_named_tensors_is_refused(tmp_path):
    path = tmp_path / "adapter_model.bin"
    torch.save([torch.zeros(2)], str(path))
    with pytest.raises(CheckpointError, match="does not hold a dict of named tensors"):
        read_adapter_file(path)


def test_both_formats_side_by_side_are_refused(tmp_path):
    clean_bin(tmp_path)
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError) as refused:
        check_one_weights_file(tmp_path)
    assert "holds both adapter_model.safetensors and adapter_model.bin" in str(refused.value)
    assert "python -m harness convert" in str(refused.value)


def test_convert_writes_equal_tensors_and_keeps_the_pickle_aside(tmp_path):
    clean_bin(tmp_path)

    written = convert_to_safetensors(tmp_path)

    assert written == tmp_path / "adapter_model.safetensors"
    adapter = read_adapter_weights(written)
    assert list(adapter.tensors) == sorted(TENSORS)
    assert all(adapter.tensors[k].equal(v) for k, v in TENSORS.items())
    assert not (tmp_path / "adapter_model.bin").exists()
    assert (tmp_path / "adapter_model.bin.converted").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "adapter_model.bin.converted", "adapter_model.safetensors"
    ]


def test_convert_refuses_a_payload_and_writes_nothing(tmp_path):
    marker = tmp_path / "payload-ran"
    write_pickle_payload(tmp_path / "adapter_model.bin", marker)
    with pytest.raises(CheckpointError, match="imports __builtin__.exec"):
        convert_to_safetensors(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter_model.bin"]
    assert not marker.exists()


def test_the_convert_command(tmp_path, capsys):
    from harness.runs.cli import main

    clean, bad = tmp_path / "clean", tmp_path / "bad"
    clean_bin(clean)
    bad.mkdir()
    write_pickle_payload(bad / "adapter_model.bin", tmp_path / "payload-ran")

    assert main(["convert", str(clean), str(bad)]) == 2
    out, err = capsys.readouterr()
    assert f"wrote {clean / 'adapter_model.safetensors'}" in out
    assert f"error: {bad / 'adapter_model.bin'}: is a pickle that imports __builtin__.exec" in err
    assert main(["convert", str(tmp_path / "clean")]) == 2  # nothing left to convert
