"""A checkpoint folder as untrusted input (harness.checkpoint.checkpoint_files): paths stay
inside it, sizes are checked before bytes are read, and the bytes used are the bytes listed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cases import cases
from checkpoint_folders import adapter_folder, full_model_folder

from harness.checkpoint.checkpoint_files import inside, scan_checkpoint
from harness.checkpoint.discover import discover_checkpoints, read_checkpoints
from harness.checkpoint.fingerprints import directory_fingerprint
from harness.errors import CheckpointError


def refused(call, *args, **kwargs) -> str:
    with pytest.raises(CheckpointError) as caught:
        call(*args, **kwargs)
    assert "\n  fix: " in str(caught.value)
    return str(caught.value)


LEAVING_PATHS = [
    # (name, the path a checkpoint file names, problem fragment)
    ("parent", "../elsewhere", "leaves the checkpoint folder (an absolute path or a '..'"),
    ("parent-inside", "1_Pooling/../../elsewhere", "leaves the checkpoint folder"),
    ("absolute", "/etc", "leaves the checkpoint folder (an absolute path"),
    ("windows-drive", "C:\\models", "leaves the checkpoint folder"),
    ("not-a-string", 3, "expected a path (a string), found 3"),
]


@pytest.mark.parametrize(("name", "relative", "problem"), cases(LEAVING_PATHS))
def test_a_path_that_leaves_the_checkpoint_is_refused(tmp_path, name, relative, problem):
    source = tmp_path / "modules.json"
    message = refused(inside, tmp_path, relative, source=source, entry="module 1 'path'")
    assert message.startswith(f"{source}: ")
    assert problem in message


def test_a_path_through_a_link_outside_is_refused(tmp_path):
    (tmp_path / "outside").mkdir()
    folder = tmp_path / "ck"
    folder.mkdir()
    (folder / "pooling").symlink_to(tmp_path / "outside", target_is_directory=True)
    message = refused(inside, folder, "pooling", source=folder / "modules.json", entry="path")
    assert f"resolves to {tmp_path / 'outside'}, outside the checkpoint folder" in message


def test_paths_inside_are_kept(tmp_path):
    assert inside(tmp_path, "1_Pooling", source=tmp_path, entry="e") == tmp_path / "1_Pooling"
    assert inside(tmp_path, "", source=tmp_path, entry="e") == tmp_path


def test_a_pipe_is_refused_before_anything_reads_it(tmp_path):
    folder = full_model_folder(tmp_path / "ck")
    os.mkfifo(folder / "tokenizer.json")  # reading it would block the gate for ever
    message = refused(scan_checkpoint, folder)
    assert f"{folder / 'tokenizer.json'}: is not a regular file" in message


def test_the_manifest_fingerprint_covers_a_linked_folder_inside(tmp_path):
    folder = adapter_folder(tmp_path / "multi")
    adapter_folder(folder / ".real-second")
    (folder / "second").symlink_to(folder / ".real-second", target_is_directory=True)

    manifest = scan_checkpoint(folder)

    assert "second/adapter_config.json" in manifest.files  # as the gate names it
    assert manifest.read(folder / "second" / "adapter_config.json")
    assert manifest.fingerprint != directory_fingerprint(folder)  # rglob skips the link
    plain = adapter_folder(tmp_path / "plain")
    assert scan_checkpoint(plain).fingerprint == directory_fingerprint(plain)


def test_a_file_changed_after_discovery_is_refused_when_read_or_copied(tmp_path):
    folder = adapter_folder(tmp_path / "ck")
    (folder / "adapter_model.safetensors").write_bytes(b"weights as gated")
    manifest = scan_checkpoint(folder)
    (folder / "adapter_model.safetensors").write_bytes(b"weights swapped in")

    for message in (
        refused(manifest.read, folder / "adapter_model.safetensors"),
        refused(manifest.copy, folder / "adapter_model.safetensors", tmp_path / "copy"),
    ):
        assert "changed while the gate ran" in message
        assert "do not write into a checkpoint folder while the gate runs" in message
    assert not (tmp_path / "copy").exists()  # nothing half-written


def test_a_file_swapped_for_a_link_outside_after_discovery_is_refused(tmp_path):
    folder = adapter_folder(tmp_path / "ck")
    manifest = scan_checkpoint(folder)
    (tmp_path / "other.json").write_text("{}", encoding="utf-8")
    (folder / "adapter_config.json").unlink()
    (folder / "adapter_config.json").symlink_to(tmp_path / "other.json")

    message = refused(manifest.read, folder / "adapter_config.json")

    assert "outside the checkpoint folder" in message


def test_a_file_added_after_discovery_is_refused(tmp_path):
    folder = adapter_folder(tmp_path / "ck")
    manifest = scan_checkpoint(folder)
    (folder / "tokenizer.json").write_text("{}", encoding="utf-8")
    message = refused(manifest.read, folder / "tokenizer.json")
    assert "was not in the checkpoint folder when the gate discovered it" in message


def test_a_link_loop_is_refused(tmp_path):
    folder = adapter_folder(tmp_path / "ck")
    (folder / "again").symlink_to(folder, target_is_directory=True)
    assert "is a link to a folder that holds it (a loop)" in refused(scan_checkpoint, folder)


def test_a_size_is_checked_before_the_file_is_read(tmp_path):
    folder = adapter_folder(tmp_path / "ck")
    with open(folder / "tokenizer.json", "wb") as handle:  # sparse: nothing to read
        handle.truncate(65 * 1024 * 1024)
    message = refused(scan_checkpoint, folder)
    assert "over the 64 MB limit for a tokenizer.json (checked before it is read)" in message


def test_names_that_collide_once_promoted_are_refused(tmp_path):
    """`ck` with a named adapter `b` is `ck/b`, promoted as `ck--b`: so would be a checkpoint
    folder named `ck--b`."""
    adapter_folder(tmp_path / "ck")
    adapter_folder(tmp_path / "ck" / "b")
    adapter_folder(tmp_path / "ck--b")

    message = refused(discover_checkpoints, tmp_path)

    assert f"{tmp_path / 'ck--b'}: checkpoint 'ck--b' and checkpoint 'ck/b'" in message
    assert "would be promoted into one folder, 'ck--b'" in message
    assert "rename one of the folders" in message


def test_a_folder_that_cannot_be_listed_is_refused_alone(tmp_path):
    adapter_folder(tmp_path / "good")
    bad = adapter_folder(tmp_path / "bad")
    (bad / "notes.txt").symlink_to(bad / "absent")  # a broken link

    found = {c.name: c for c in discover_checkpoints(tmp_path)}

    assert found["good"].refusal is None and found["good"].fingerprint is not None
    assert found["bad"].fingerprint is None and found["bad"].is_adapter
    assert "a broken link" in str(found["bad"].refusal)
    assert read_checkpoints(bad)[0].refusal is not None


def test_every_file_is_listed_with_its_hash_and_size(tmp_path):
    folder = adapter_folder(tmp_path / "ck", st_layout=True)
    manifest = scan_checkpoint(folder)
    assert sorted(manifest.files) == ["adapter_config.json", "adapter_model.safetensors",
                                      "modules.json"]
    assert manifest.files["modules.json"].size == 2
    assert manifest.read(folder / "modules.json") == b"[]"
    assert Path(manifest.root) == folder.resolve()
