"""Bases and baselines found in the local Hugging Face cache (a real cache layout written in a
temporary folder; nothing is downloaded, nothing is loaded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from checkpoint_folders import adapter_folder, full_model_folder
from checkpoint_folders import checkpoint_error as error
from config_edits import config_error, edited
from hub_caches import CACHED_ID, COMMIT, MINILM_FOLDER, OTHER_COMMIT, add_snapshot

from harness.checkpoint.discover import ADAPTER_CONFIG, read_checkpoint, resolve_base
from harness.checkpoint.hub_cache import hub_cache_dir
from harness.checkpoint.packaged_models import MINILM_HUB_ID
from harness.checkpoint.preflight import resolve_configured_base
from harness.config import load_config

SOURCE = Path("adapter_config.json")


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty cache folder that $HF_HUB_CACHE points to."""
    folder = tmp_path / "hf-cache"
    folder.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(folder))
    monkeypatch.delenv("HF_HOME", raising=False)
    return folder


def test_the_cache_folder_follows_huggingface_hubs_variables(tmp_path, monkeypatch):
    for name in ("HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hub_cache_dir() == tmp_path / "home" / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    assert hub_cache_dir() == tmp_path / "hf-home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    assert hub_cache_dir() == tmp_path / "hub-cache"


def test_a_cached_hub_id_resolves_without_an_alias(hub_cache):
    snapshot = add_snapshot(hub_cache)

    found = resolve_base(CACHED_ID, {}, source=SOURCE)

    assert found.path == snapshot and found.revision == COMMIT
    assert (found.path / "config.json").read_bytes() == (MINILM_FOLDER / "config.json").read_bytes()


def test_the_cache_under_hf_home_is_found(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    snapshot = add_snapshot(tmp_path / "hf-home" / "hub")

    assert resolve_base(CACHED_ID, {}, source=SOURCE).path == snapshot


def test_a_revision_is_a_full_commit_hash_or_a_branch(hub_cache):
    main = add_snapshot(hub_cache, commit=COMMIT)
    other = add_snapshot(hub_cache, commit=OTHER_COMMIT, refs=("other",))

    assert resolve_base(CACHED_ID, {}, source=SOURCE).path == main
    assert resolve_base(CACHED_ID, {}, source=SOURCE, revision="other").path == other
    by_hash = resolve_base(CACHED_ID, {}, source=SOURCE, revision=OTHER_COMMIT)
    assert by_hash.path == other and by_hash.revision == OTHER_COMMIT


def test_a_short_commit_hash_is_refused_with_the_full_one(hub_cache):
    add_snapshot(hub_cache)

    message = error(resolve_base, CACHED_ID, {}, source=SOURCE, revision=COMMIT[:7])

    assert message.startswith(f"{SOURCE}: revision '{COMMIT[:7]}' of '{CACHED_ID}' looks like a")
    assert "short commit hash, which the cache cannot resolve offline" in message
    assert f"the cached commit it abbreviates is {COMMIT}" in message
    assert "fix: give the full 40-character commit hash" in message


def test_an_unresolvable_base_lists_what_was_searched(hub_cache, tmp_path):
    add_snapshot(hub_cache)
    aliases = {"acme/other": full_model_folder(tmp_path / "other")}

    absent = error(resolve_base, "acme/absent", aliases, source=SOURCE)
    wrong_revision = error(resolve_base, CACHED_ID, {}, source=SOURCE, revision="v2")

    assert "base model 'acme/absent' cannot be resolved offline; searched:" in absent
    assert f"  the alias table:\n    {MINILM_HUB_ID} = " in absent
    assert f"    acme/other = {tmp_path / 'other'}" in absent
    assert f"  the Hugging Face cache {hub_cache} (" in absent and "): not there" in absent
    assert f"  the local folder {Path('acme/absent').absolute()}: does not exist" in absent
    assert "hf download acme/absent" in absent
    assert f"base model '{CACHED_ID}' at revision 'v2' cannot be resolved" in wrong_revision
    assert f"cached, but not at that revision; it holds {COMMIT} (main)" in wrong_revision


def test_an_alias_wins_over_the_cache(hub_cache, tmp_path):
    add_snapshot(hub_cache)
    local = full_model_folder(tmp_path / "aliased")

    found = resolve_base(CACHED_ID, {CACHED_ID: local}, source=SOURCE)

    assert found.path == local and found.revision is None


def test_a_builtin_package_wins_over_the_cache(hub_cache, tmp_path):
    add_snapshot(hub_cache, MINILM_HUB_ID, source=full_model_folder(tmp_path / "other"))

    found = resolve_base(MINILM_HUB_ID, {}, source=SOURCE)

    assert found.path == MINILM_FOLDER and found.revision is None


def test_an_adapter_names_the_revision_of_its_base(hub_cache, tmp_path):
    add_snapshot(hub_cache, commit=COMMIT)
    other = add_snapshot(hub_cache, commit=OTHER_COMMIT, refs=("other",))
    folder = adapter_folder(tmp_path / "adapter", base=CACHED_ID)
    config = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    (folder / ADAPTER_CONFIG).write_text(json.dumps({**config, "revision": "other"}), "utf-8")
    checkpoint = read_checkpoint(folder)
    bases = {CACHED_ID: hub_cache / "unused"}  # configured by id: any revision of it is its base

    found = resolve_configured_base(
        folder / ADAPTER_CONFIG, CACHED_ID, {}, bases, checkpoint.base_revision
    )

    assert checkpoint.base_revision == "other"
    assert found.path == other and found.revision == OTHER_COMMIT


def test_a_baseline_pins_a_revision_in_gate_toml(tmp_path):
    model = r'^(model = "sentence-transformers/.*")$'
    pinned = edited(tmp_path, model, f'\\1\nrevision = "{COMMIT}"')
    assert load_config(pinned).baselines[0].revision == COMMIT

    empty = edited(tmp_path, model, '\\1\nrevision = ""')
    assert "[baselines[0]] revision is empty" in config_error(empty)
