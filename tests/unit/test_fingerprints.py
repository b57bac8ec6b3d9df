"""weights_fingerprint: stable across loads, changed by an in-place adapter injection.

test_baseline_untouched relies on this: a candidate loaded onto the shared baseline model
in place changes the baseline's fingerprint even when the adapter changes no output.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from factories import load_base, make_never_trained
from peft import PeftModel

from harness.checkpoint.checks import check_baseline_untouched
from harness.checkpoint.fingerprints import weights_fingerprint

pytestmark = pytest.mark.slow

SENTENCES = ["the VPN drops every few minutes", "printer on floor 3 is out of toner"]


def test_stable_across_two_loads():
    first, second = load_base(), load_base()
    assert first is not second
    assert weights_fingerprint(first) == weights_fingerprint(second)
    assert len(weights_fingerprint(first)) == 64


def test_changes_when_an_adapter_is_injected_in_place(tmp_path):
    adapter = make_never_trained(tmp_path / "never-trained")  # lora_B all zero: outputs unchanged
    st = load_base()
    before = weights_fingerprint(st)
    embeddings = st.encode(SENTENCES, convert_to_numpy=True)

    PeftModel.from_pretrained(st[0].model, str(adapter))  # injects into st[0].model, in place

    after = weights_fingerprint(st)
    assert after != before
    np.testing.assert_allclose(st.encode(SENTENCES, convert_to_numpy=True), embeddings, atol=1e-6)
    message = check_baseline_untouched("never-trained", before, after)
    assert message is not None
    assert "the baseline's weights changed while 'never-trained' was loaded" in message
    assert "injected an adapter into the shared base model in place" in message


def test_changes_when_a_weight_changes_in_place():
    st = load_base()
    before = weights_fingerprint(st)
    weight = next(st.parameters()).view(-1)
    original = weight[0].item()
    with torch.no_grad():
        weight[0] += 1e-3
    changed = weights_fingerprint(st)
    assert changed != before
    message = check_baseline_untouched("x", before, changed)
    assert message is not None and "the baseline's weights changed while 'x' was loaded" in message
    with torch.no_grad():
        weight[0] = original  # the same bits again: the same fingerprint, and the check passes
    restored = weights_fingerprint(st)
    assert restored == before and check_baseline_untouched("x", before, restored) is None


def test_names_count_as_much_as_values():
    """A rename alone (what an adapter injection does to `query.weight`) changes the fingerprint."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(2, 2)
    before = weights_fingerprint(torch.nn.ModuleDict({"query": layer}))
    after = weights_fingerprint(torch.nn.ModuleDict({"base_layer": layer}))
    assert before != after
