"""The real gate on a baseline and a base found in the local Hugging Face cache, with no alias.

The project holds the adapter battery only, so the run is INCOMPLETE (exit 1) whatever passes:
what is asserted is each test's outcome and where results.json says the models were found.
"""

from __future__ import annotations

import pytest
from adapter_battery import ADAPTER_TESTS
from factories import copy_checkpoint, edit_adapter_config
from hub_caches import CACHED_ID, COMMIT, OTHER_COMMIT, add_snapshot
from paths import REPO

pytestmark = pytest.mark.slow

EXAMPLE_ADAPTER = REPO / "models" / "minilm-stsb-lora"


def test_a_baseline_and_a_base_from_the_cache_pass_the_adapter_checks(
    gate_project, tmp_path, monkeypatch
):
    cache = tmp_path / "hf-cache"
    main = add_snapshot(cache, commit=COMMIT)
    other = add_snapshot(cache, commit=OTHER_COMMIT, refs=("other",))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    gate_project.set_config(
        'model = "sentence-transformers/all-MiniLM-L6-v2"',
        f'model = "{CACHED_ID}"\nrevision = "{COMMIT}"',
    )
    checkpoint = copy_checkpoint(EXAMPLE_ADAPTER, gate_project.checkpoint_path("cached-base"))
    edit_adapter_config(checkpoint, base_model_name_or_path=CACHED_ID, revision="other")

    run = gate_project.run(checkpoint)

    assert run.outcomes("cached-base") == {test: "PASSED" for test in ADAPTER_TESTS}, run.text
    results = gate_project.results()
    [baseline] = results["baselines"]
    assert (baseline["model"], baseline["path"], baseline["revision"]) == (
        CACHED_ID,
        str(main),
        COMMIT,
    )
    [row] = results["checkpoints"]
    assert (row["base_model"], row["base_path"], row["base_revision"]) == (
        CACHED_ID,
        str(other),
        OTHER_COMMIT,
    )
