"""The gate tests of the real battery (tests/gate/), by name, as a gate project's run on this
machine has them (its gate.toml says device = "auto").

Written out here, never asked of the harness: a test that builds its expectations with the
function the plugin parametrizes with agrees with the plugin by construction.
"""

from __future__ import annotations

import torch

LOADED = "test_adapter_loaded_exactly"
CHANGES = "test_adapter_changes_embeddings"
UPDATES = "test_adapter_updates_every_module"
BASELINE_UNTOUCHED = "test_baseline_untouched"
#: the dtypes low-precision merges are checked in: bfloat16 on the CPU, float16 too on CUDA
LOW_PRECISION_DTYPES = ("bfloat16", "float16") if torch.cuda.is_available() else ("bfloat16",)
ADAPTER_TESTS = (
    LOADED,
    CHANGES,
    "test_merged_equals_unmerged",
    "test_merged_model_reloads_identically",
    "test_disabled_adapter_reproduces_base",
    UPDATES,
    *(f"test_merged_equals_unmerged_low_precision[{dtype}]" for dtype in LOW_PRECISION_DTYPES),
    BASELINE_UNTOUCHED,  # last: the one test that applies to full models too
)
#: the checks of the battery outside test_adapter.py, on a project's one gating set
#: (it_incidents), without the throughput checks
BEHAVIOUR_CHECKS = (
    "any_text_gives_a_finite_embedding_of_the_right_shape",
    "embedding_ignores_batch_and_padding",
    "encoding_is_deterministic",
)
QUALITY_CHECKS = (
    "beats_baseline[it_incidents]",
    "fp_rate_under_target[it_incidents]",
    "meets_targets[it_incidents]",
)
