"""The adapter battery: each check returns None when it passes, else a message saying what missed.

Checks take embeddings and reports, not pytest objects, so every gate test is two lines
and every message can be tested on its own.
"""

from __future__ import annotations

import numpy as np

from harness.checkpoint.change_profile import ZERO_RELATIVE_UPDATE, ChangeProfile
from harness.checkpoint.diagnose import explain_no_effect, load_causes, setting_causes
from harness.checkpoint.load import LoadedCandidate
from harness.config import EffectSpec
from harness.quality.metrics import cosine_distances


def check_loaded_exactly(candidate: LoadedCandidate) -> str | None:
    """Each file tensor reached the model unchanged; each adapter tensor came from the file."""
    report = candidate.load_report
    if report is None or report.exact:
        return None
    findings = load_causes(report) + setting_causes(candidate.checkpoint.adapter_config, None)
    causes = "\n".join(f"  - {f}" for f in findings)
    return (
        f"{candidate.checkpoint.name}: the adapter did not load exactly.\n{report.describe()}"
        + (f"\nlikely cause:\n{causes}" if causes else "")
    )


def check_changes_embeddings(
    candidate: LoadedCandidate, base: np.ndarray, adapted: np.ndarray, effect: EffectSpec
) -> str | None:
    """The adapter moves the probe embeddings by more than the configured tolerances."""
    distances = cosine_distances(base, adapted)
    mean, worst = float(distances.mean()), float(distances.max())
    if mean > effect.min_mean_cosine_distance and worst > effect.min_max_cosine_distance:
        return None
    findings = explain_no_effect(
        candidate.checkpoint.adapter_config, candidate.load_report, candidate.peft_model
    )
    diagnosis = "\n".join(f"  - {f}" for f in findings) or (
        "  - no known cause found: the adapter loaded exactly and is active, so its trained "
        "update is too small to matter (check the learning rate and the number of steps)"
    )
    return (
        f"{candidate.checkpoint.name}: the adapter does not change the embeddings: "
        f"cosine distance to the base over {len(distances)} probe sentences is mean {mean:.3g} "
        f"(needs > {effect.min_mean_cosine_distance:g}) and max {worst:.3g} "
        f"(needs > {effect.min_max_cosine_distance:g}).\ndiagnosis:\n{diagnosis}"
    )


def check_same_output(
    what: str, reference: np.ndarray, other: np.ndarray, atol: float
) -> str | None:
    """Two encodings of the same texts agree within `atol` (max absolute difference)."""
    if reference.shape != other.shape:
        return f"{what}: shapes differ: {reference.shape} vs {other.shape}"
    difference = np.abs(reference.astype(np.float64) - other.astype(np.float64))
    worst = float(difference.max()) if difference.size else 0.0
    if worst <= atol:
        return None
    rows = int((difference.max(axis=1) > atol).sum())
    return (
        f"{what}: max |difference| {worst:.3g} exceeds the tolerance {atol:g} "
        f"(mean {float(difference.mean()):.3g}; "
        f"{rows} of {len(reference)} probe sentences beyond it)"
    )


def check_baseline_untouched(name: str, before: str, after: str) -> str | None:
    """The shared baseline's weights fingerprint did not change while candidates loaded."""
    if before == after:
        return None
    return (
        f"the baseline's weights changed while '{name}' was loaded (fingerprint {before[:12]} -> "
        f"{after[:12]}): something injected an adapter into the shared base model in place, so "
        "every later comparison would be against a modified baseline. Load candidates onto a fresh "
        "copy of the base model."
    )


def check_updates_every_module(
    name: str, profile: ChangeProfile, min_changed_fraction: float
) -> str | None:
    """At least `min_changed_fraction` of the adapted modules have a non-zero weight update."""
    if not profile.modules:
        return f"{name}: the adapter adapts no module (no LoRA layer or saved module was found)"
    if profile.changed_fraction >= min_changed_fraction and profile.changed_fraction > 0:
        return None
    unchanged = profile.unchanged
    listed = "\n".join(f"  - {module}" for module in unchanged)
    return (
        f"{name}: {len(unchanged)} of {len(profile.modules)} adapted modules have a zero weight "
        f"update (relative update <= {ZERO_RELATIVE_UPDATE:g}), so "
        f"{len(profile.changed)}/{len(profile.modules)} = {profile.changed_fraction:.3g} changed "
        f"(needs >= {min_changed_fraction:g}, [effect] min_changed_fraction):\n{listed}\n"
        "these modules were never trained: check that the optimizer received their parameters "
        "and that they are on the forward path (sentence-transformers never calls BERT's "
        "pooler), or drop them from target_modules"
    )
