"""The questions after the pair metrics, as gates where gate.toml asks for them (per checkpoint
and gating pair set): no slice significantly worse than the baseline ([slices] gate = true),
the high-overlap negatives' FP rate under its target ([overlap] fp_rate_target), and the
targets at truncated dimensions ([matryoshka] targets). Without the setting a check does not
exist; the analyses themselves are always shown in the report.
"""

import pytest

from harness.pytest_plugin import passes
from harness.quality import analysis_checks as checks

pytestmark = pytest.mark.gpu


def test_no_slice_worse(checkpoint, pair_evaluation):
    passes(checks.check_no_slice_worse(pair_evaluation))


def test_high_overlap_fp_rate_under_target(checkpoint, pair_evaluation, gate_session):
    passes(checks.check_high_overlap_fp_rate(pair_evaluation, gate_session.config.analyses))


def test_matryoshka_targets(checkpoint, pair_evaluation, gate_session):
    passes(checks.check_matryoshka_targets(pair_evaluation, gate_session.config.analyses))
