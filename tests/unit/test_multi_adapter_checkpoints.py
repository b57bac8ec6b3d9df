"""Several adapters in one checkpoint (PEFT's layout: "default" at the top, others under
`<name>/`) are gated each under its own id, `checkpoint/adapter` (folders written by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest
from checkpoint_folders import adapter_folder, full_model_folder, refusal

from harness.checkpoint.discover import (
    checkpoints_from_paths,
    discover_checkpoints,
    read_checkpoints,
)


def multi_folder(path: Path, names=("second", "third"), *, top: bool = True) -> Path:
    if top:
        adapter_folder(path)
    else:
        path.mkdir(parents=True)
    for name in names:
        adapter_folder(path / name)
    return path


def test_each_adapter_is_a_checkpoint_named_folder_slash_adapter(tmp_path):
    folder = multi_folder(tmp_path / "multi")

    found = read_checkpoints(folder)

    assert [(c.name, c.adapter_name, c.subpath) for c in found] == [
        ("multi/default", "default", ""),
        ("multi/second", "second", "second"),
        ("multi/third", "third", "third"),
    ]
    assert {c.path for c in found} == {folder}
    assert found[0].adapter_dir == folder
    assert found[1].adapter_dir == folder / "second"
    assert found[1].adapter_file == folder / "second" / "adapter_model.safetensors"
    assert all(c.is_adapter and c.saved_by == "peft" for c in found)


def test_named_adapters_without_a_top_level_adapter(tmp_path):
    found = read_checkpoints(multi_folder(tmp_path / "multi", top=False))
    assert [c.name for c in found] == ["multi/second", "multi/third"]


def test_single_adapters_and_full_models_keep_their_plain_names(tmp_path):
    single = adapter_folder(tmp_path / "single", st_layout=True)
    (single / "1_Pooling").mkdir()  # a sentence-transformers module folder: no adapter
    full = full_model_folder(tmp_path / "full")
    adapter_folder(full / "stray-adapter")  # a full model's sub-folders are never adapters

    assert [(c.name, c.adapter_name, c.subpath) for c in read_checkpoints(single)] == [
        ("single", "default", "")
    ]
    assert [c.name for c in read_checkpoints(full)] == ["full"]


def test_discovery_and_paths_expand_multi_adapter_folders(tmp_path):
    multi_folder(tmp_path / "models" / "b-multi", names=("second",))
    adapter_folder(tmp_path / "models" / "a-single")

    assert [c.name for c in discover_checkpoints(tmp_path / "models")] == [
        "a-single",
        "b-multi/default",
        "b-multi/second",
    ]
    assert [c.name for c in checkpoints_from_paths([str(tmp_path / "models" / "b-multi")])] == [
        "b-multi/default",
        "b-multi/second",
    ]


@pytest.mark.parametrize(
    ("config", "expected"), [("{oops", "is not valid JSON"), ("{}", "no 'peft_type'")]
)
def test_a_broken_named_adapter_is_an_error_naming_its_folder(tmp_path, config, expected):
    folder = multi_folder(tmp_path / "multi", names=("second",))
    (folder / "second" / "adapter_config.json").write_text(config, encoding="utf-8")

    message = refusal(read_checkpoints(folder), "multi")

    assert str(folder / "second" / "adapter_config.json") in message
    assert expected in message
