"""Leakage: the evaluation pairs found in the checkpoint's training pairs ([leakage] in
gate.toml names the file, or the training record field that does). A gating set whose share of
test pairs found in training (after normalising case, whitespace and punctuation) exceeds
[leakage] max_share fails; reference sets are counted and shown, never failing.
"""

import pytest

from harness.pytest_plugin import passes
from harness.quality.analysis_checks import check_no_leakage

pytestmark = pytest.mark.gpu


@pytest.mark.leakage
def test_no_leakage(usable_checkpoint, gate_session):
    report = gate_session.leakage(usable_checkpoint)
    passes(check_no_leakage(usable_checkpoint.name, report))
