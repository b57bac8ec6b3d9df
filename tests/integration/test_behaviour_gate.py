"""The behaviour properties (tests/gate/test_behaviour.py) run for real: a good adapter passes
them in seconds; a model whose embeddings turn NaN past 128 tokens is caught by the long texts
the property always tries."""

from __future__ import annotations

import pytest
import torch
from factories import load_base

pytestmark = pytest.mark.slow

BEHAVIOUR = (
    "test_encoding_is_deterministic",
    "test_embedding_ignores_batch_and_padding",
    "test_any_text_gives_a_finite_embedding_of_the_right_shape",
)


def make_nan_past_128_tokens(path):
    """A full model whose position embeddings from position 128 on are NaN: short texts encode
    normally, a long one gives a NaN embedding."""
    st = load_base()
    with torch.no_grad():
        st[0].model.embeddings.position_embeddings.weight[128:] = float("nan")
    st.save_pretrained(str(path))
    return path


def test_behaviour_properties_pass_and_catch_nan_embeddings(gate_project, good_adapter):
    gate_project.include("test_behaviour.py")
    broken = make_nan_past_128_tokens(gate_project.checkpoint_path("nan-positions"))

    run = gate_project.run(
        good_adapter, broken, args=["test_behaviour_battery.py", "-k", "good or any_text"]
    )

    assert run.ret == pytest.ExitCode.TESTS_FAILED
    assert run.outcomes("good-adapter") == dict.fromkeys(BEHAVIOUR, "PASSED")
    assert run.outcomes("nan-positions") == {BEHAVIOUR[2]: "FAILED"}
    message = run.section(BEHAVIOUR[2], "nan-positions")
    assert "NaN or Inf in the embeddings of" in message
    assert "'word word word" in message and "(2000 characters)" in message
    assert "REJECT   nan-positions: any_text_gives_a_finite_embedding_of_the_right_shape" in (
        run.summary()
    )
