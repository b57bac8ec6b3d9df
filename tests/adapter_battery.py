"""The gate tests of the real adapter battery (tests/gate/test_adapter.py), by name, as a gate
project's run on this machine has them (its gate.toml says device = "auto")."""

from __future__ import annotations

from harness.embedding.device import low_precision_dtypes, resolve_device

LOADED = "test_adapter_loaded_exactly"
CHANGES = "test_adapter_changes_embeddings"
UPDATES = "test_adapter_updates_every_module"
BASELINE_UNTOUCHED = "test_baseline_untouched"
ADAPTER_TESTS = (
    LOADED,
    CHANGES,
    "test_merged_equals_unmerged",
    "test_merged_model_reloads_identically",
    "test_disabled_adapter_reproduces_base",
    UPDATES,
    *(
        f"test_merged_equals_unmerged_low_precision[{dtype}]"
        for dtype in low_precision_dtypes(resolve_device("auto"))
    ),
    BASELINE_UNTOUCHED,  # last: the one test that applies to full models too
)
