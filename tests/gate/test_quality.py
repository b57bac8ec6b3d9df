"""The quality battery, per checkpoint and gating data set: beat the baseline, meet targets, and
on pair sets keep the FP rate under its target.

Reference data sets are evaluated and reported beside these, and never fail the gate.
"""

import pytest

from harness.pytest_plugin import passes
from harness.quality import checks

pytestmark = pytest.mark.gpu


def targets_of(gate_session, dataset: str) -> dict[str, float]:
    return next(s.targets for s in gate_session.config.datasets if s.name == dataset)


def test_beats_baseline(checkpoint, evaluation, gate_session):
    passes(checks.check_beats_baseline(evaluation, gate_session.config.comparison))


def test_meets_targets(checkpoint, evaluation, gate_session, gate_dataset):
    passes(checks.check_targets(evaluation, targets_of(gate_session, gate_dataset)))


def test_fp_rate_under_target(checkpoint, pair_evaluation, gate_session, gate_pair_set):
    passes(
        checks.check_fp_rate(
            pair_evaluation,
            targets_of(gate_session, gate_pair_set)["fp_rate"],
            gate_session.config.analyses.fp_rate,
        )
    )
