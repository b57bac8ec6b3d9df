"""harness.checkpoint.preflight's checks of an adapter's own files, on files written by hand."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from harness.checkpoint.adapter_config import check_adapter_config
from harness.checkpoint.preflight import (
    check_adapter_files,
    check_one_weights_file,
    check_weights_finite,
)
from harness.checkpoint.safetensors_files import read_adapter_weights
from harness.errors import CheckpointError

GOOD = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["query", "value"]}


def refused(call, *args) -> str:
    with pytest.raises(CheckpointError) as caught:
        call(*args)
    assert "\n  fix: " in str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"r": 0}, "r = 0 must be a positive whole number"),
        ({"r": True}, "r = true must be a positive whole number"),
        ({"r": 8.5}, "r = 8.5 must be a positive whole number"),
        ({"lora_alpha": "16"}, 'lora_alpha = "16" must be a number'),
        ({"target_modules": []}, "target_modules = [] must be a module name pattern"),
        ({"target_modules": ["query", 3]}, 'target_modules = ["query", 3] must be'),
        ({"base_model_name_or_path": 3}, "base_model_name_or_path = 3 must be a non-empty string"),
        ({"revision": ["main"]}, 'revision = ["main"] must be a non-empty string or null'),
        ({"rank_pattern": ["query", 16]}, 'rank_pattern = ["query", 16] must be an object'),
        ({"rank_pattern": {"query": "16"}}, 'rank_pattern = {"query": "16"} must be an object'),
        ({"alpha_pattern": {"query": None}}, 'alpha_pattern = {"query": null} must be an object'),
        ({"modules_to_save": 3}, "modules_to_save = 3 must be a list of module names or null"),
    ],
)
def test_unusable_lora_fields_are_refused(tmp_path, changes, fragment):
    message = refused(check_adapter_config, tmp_path / "adapter_config.json",
                      {**GOOD, **changes})
    config_file = tmp_path / "adapter_config.json"
    assert message.startswith(f"{config_file}: has fields the gate or PEFT cannot use")
    assert fragment in message


def test_usable_fields_and_other_peft_types_pass(tmp_path):
    config_file = tmp_path / "adapter_config.json"
    check_adapter_config(config_file, GOOD)
    check_adapter_config(config_file, {**GOOD, "target_modules": "all-linear"})
    check_adapter_config(config_file, {"peft_type": "IA3"})


def test_finite_safetensors_without_pickle_pass(tmp_path):
    save_file({"a.lora_A.weight": torch.ones(2, 3), "steps": torch.tensor([3])},
              str(tmp_path / "adapter_model.safetensors"))
    assert check_one_weights_file(tmp_path) == tmp_path / "adapter_model.safetensors"
    adapter = check_adapter_files(tmp_path, GOOD)
    assert set(adapter.tensors) == {"a.lora_A.weight", "steps"}  # the read the later checks use


def test_nan_and_inf_are_counted_per_tensor(tmp_path):
    weights = tmp_path / "adapter_model.safetensors"
    bad = torch.zeros(2, 3)
    bad[0, 0], bad[1, 1], bad[1, 2] = float("nan"), float("inf"), float("-inf")
    save_file({"a.lora_A.weight": bad, "b.lora_B.weight": torch.ones(3, 2)}, str(weights))
    message = refused(check_weights_finite, read_adapter_weights(weights))
    assert "1 of 2 adapter tensors hold NaN or Inf values" in message
    assert "a.lora_A.weight: 1 NaN and 2 Inf of 6 values" in message
