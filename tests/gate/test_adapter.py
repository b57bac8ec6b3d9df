"""The adapter battery, run per checkpoint: loaded exactly, applied, mergeable, removable.

Each test is two lines; the checks and their messages live in `harness.checkpoint.checks`.
"""

import pytest
import torch

from harness.checkpoint import checks
from harness.checkpoint.load import load_sentence_transformer
from harness.checkpoint.tolerances import exact_atol, merge_atol
from harness.pytest_plugin import passes

pytestmark = pytest.mark.gpu


@pytest.mark.adapter_only
def test_adapter_loaded_exactly(candidate):
    passes(checks.check_loaded_exactly(candidate))


@pytest.mark.adapter_only
def test_adapter_changes_embeddings(candidate, gate_session):
    base, adapted = gate_session.probe_change(candidate)
    passes(checks.check_changes_embeddings(candidate, base, adapted, gate_session.config.effect))


@pytest.mark.adapter_only
def test_merged_equals_unmerged(candidate, gate_session):
    probe = gate_session.probe_sentences
    unmerged = gate_session.models.encode_candidate(candidate, probe, "shipped")
    merged = gate_session.models.encode_candidate(candidate, probe, "merged")
    atol = merge_atol(candidate.dtype)
    passes(checks.check_same_output("merged vs unmerged", unmerged, merged, atol))


@pytest.mark.adapter_only
def test_merged_model_reloads_identically(candidate, gate_session, tmp_path):
    probe = gate_session.probe_sentences
    merged = gate_session.models.encode_candidate(candidate, probe, "merged")
    candidate.merged().save_pretrained(str(tmp_path))
    reloaded = load_sentence_transformer(tmp_path, gate_session.device)
    again = gate_session.models.embedder.raw_encode(reloaded, probe)
    atol = exact_atol(candidate.dtype)
    passes(checks.check_same_output("merged, saved and reloaded", merged, again, atol))


@pytest.mark.adapter_only
def test_disabled_adapter_reproduces_base(candidate, gate_session):
    probe = gate_session.probe_sentences
    base = gate_session.models.encode_base(candidate, probe)
    disabled = gate_session.models.encode_candidate(candidate, probe, "disabled")
    atol = exact_atol(candidate.dtype)
    passes(checks.check_same_output("adapter disabled vs base", base, disabled, atol))


@pytest.mark.adapter_only
def test_adapter_updates_every_module(candidate, gate_session):
    profile = gate_session.change_profile(candidate)
    fraction = gate_session.config.effect.min_changed_fraction
    passes(checks.check_updates_every_module(candidate.checkpoint.name, profile, fraction))


@pytest.mark.adapter_only
def test_merged_equals_unmerged_low_precision(candidate, gate_session, merge_dtype):
    """Unmerged cast to the dtype vs merged in float32, then cast (merge_dtype: the plugin
    parametrizes it by the dtypes of the device: bfloat16, and float16 on CUDA)."""
    dtype = getattr(torch, merge_dtype)
    embedder, probe = gate_session.models.embedder, gate_session.probe_sentences
    unmerged = embedder.raw_encode(candidate.in_dtype(dtype, merged=False), probe)
    merged = embedder.raw_encode(candidate.in_dtype(dtype, merged=True), probe)
    what = f"merged (in float32, then cast) vs unmerged, in {merge_dtype}"
    passes(checks.check_same_output(what, unmerged, merged, merge_atol(dtype)))


def test_baseline_untouched(candidate, baseline):
    passes(
        checks.check_baseline_untouched(
            candidate.checkpoint.name, baseline.fingerprint, baseline.current_fingerprint()
        )
    )
