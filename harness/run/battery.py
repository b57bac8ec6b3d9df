"""The battery: every check a checkpoint must pass before it can be promoted, declared here by
the gate itself, never learned from what pytest happened to collect (a `-k`, a file path,
`--lf` or a marker expression selects less; the checks it left out are missing, not passed).

A check's name is its gate test's name without `test_`, plus its case in brackets where the
test is parametrized beyond the checkpoint (`meets_targets[it_incidents]`,
`merged_equals_unmerged_low_precision[bfloat16]`, `encode_throughput[base-float32-b16]`).
Checks outside the battery (`throughput_vs_stored_run`, which exists only under
`--benchmark-compare-fail`, or a team's own gate tests) count when they run, and their absence
never makes a run incomplete.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.checkpoint.discover import Checkpoint
from harness.checkpoint.training_pairs import leakage_applies
from harness.config import GateConfig
from harness.embedding.device import low_precision_dtypes
from harness.throughput.measure import cases

#: tests/gate/test_adapter.py: an adapter loaded exactly, applied, mergeable and removable
ADAPTER_CHECKS = (
    "adapter_loaded_exactly",
    "adapter_changes_embeddings",
    "merged_equals_unmerged",
    "merged_model_reloads_identically",
    "disabled_adapter_reproduces_base",
    "adapter_updates_every_module",
)
#: per low-precision dtype of the device (bfloat16; float16 too on CUDA), adapters only
LOW_PRECISION_CHECK = "merged_equals_unmerged_low_precision"
#: every kind: the baseline untouched (test_adapter.py) and the behaviour properties
#: (tests/gate/test_behaviour.py)
EVERY_CHECKPOINT_CHECKS = (
    "baseline_untouched",
    "encoding_is_deterministic",
    "embedding_ignores_batch_and_padding",
    "any_text_gives_a_finite_embedding_of_the_right_shape",
)
#: tests/gate/test_quality.py, per gating data set (pairs or retrieval), and per gating pair set
QUALITY_CHECKS = ("beats_baseline", "meets_targets")
PAIR_QUALITY_CHECKS = ("fp_rate_under_target",)
#: tests/gate/test_analyses.py, per gating pair set, each only where gate.toml asks for it
SLICE_CHECK = "no_slice_worse"
HIGH_OVERLAP_CHECK = "high_overlap_fp_rate_under_target"
MATRYOSHKA_CHECK = "matryoshka_targets"
#: tests/gate/test_leakage.py, per checkpoint with a training pairs file ([leakage])
LEAKAGE_CHECK = "no_leakage"
#: tests/gate/test_throughput.py: one benchmark per case, and the merged/base ratio (adapters)
THROUGHPUT_CASE_CHECK = "encode_throughput"
MERGED_RATIO_CHECK = "merged_throughput_ratio"
#: tests/gate/test_training_record.py, under a [training_record] table: for a checkpoint with the
#: record's file, or for every checkpoint where the table sets required = true
TRAINING_RECORD_CHECK = "training_record"


def configured_checks(config: GateConfig) -> dict[str, bool]:
    """The checks that exist only when gate.toml asks for them, and whether it does."""
    analyses = config.analyses
    return {
        TRAINING_RECORD_CHECK: config.training_record is not None,
        SLICE_CHECK: analyses.slices.gate,
        HIGH_OVERLAP_CHECK: analyses.overlap.fp_rate_target is not None,
        MATRYOSHKA_CHECK: bool(analyses.matryoshka.targets),
        LEAKAGE_CHECK: analyses.leakage is not None,
    }


def required_checks(checkpoint: Checkpoint, config: GateConfig, device: str) -> list[str]:
    """The checks `checkpoint` must pass on `device` under `config`, sorted by name."""
    adapter = checkpoint.is_adapter
    required = list(EVERY_CHECKPOINT_CHECKS)
    if adapter:
        required += ADAPTER_CHECKS
        required += [f"{LOW_PRECISION_CHECK}[{dtype}]" for dtype in low_precision_dtypes(device)]
    configured = configured_checks(config)
    pair_checks = list(PAIR_QUALITY_CHECKS) + [
        check for check in (SLICE_CHECK, HIGH_OVERLAP_CHECK, MATRYOSHKA_CHECK) if configured[check]
    ]
    for spec in config.datasets:
        if spec.gates:
            checks = QUALITY_CHECKS if spec.is_retrieval else QUALITY_CHECKS + tuple(pair_checks)
            required += [f"{check}[{spec.name}]" for check in checks]
    if config.throughput.required:
        required += [
            f"{THROUGHPUT_CASE_CHECK}[{case.id}]"
            for case in cases(config.throughput.batch_sizes, device)
            if adapter or not case.adapter_only
        ]
        if adapter:
            required.append(MERGED_RATIO_CHECK)
    if config.training_record is not None and config.training_record.applies(checkpoint.path):
        required.append(TRAINING_RECORD_CHECK)
    leakage = config.analyses.leakage
    if leakage is not None and leakage_applies(checkpoint.path, leakage):
        required.append(LEAKAGE_CHECK)
    return sorted(required)


def missing_checks(required: Iterable[str], ran: Iterable[str]) -> list[str]:
    """The required checks that did not run, in `required`'s order."""
    done = set(ran)
    return [check for check in required if check not in done]
