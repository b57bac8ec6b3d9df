"""Behaviour properties of each candidate, searched with hypothesis in a few seconds each.

Encoding is deterministic; a text's embedding does not depend on the batch size or on the
other texts in its batch (padding) beyond `harness.checkpoint.tolerances.padding_atol`; arbitrary
unicode, empty and very long texts give finite embeddings of the model's dimension, and unit
vectors when the pipeline ends in a Normalize module.

Texts go through `model.encode` directly, never the run's memoising Embedder. The search is
derandomized and keeps no example database, so two gate runs try the same texts and reach
the same verdicts; `max_examples` keeps each property to about a second per checkpoint.

A text costs its padded length: the model encodes batch size x the batch's longest text, and
a long text is truncated to max_seq_length (256 tokens for all-MiniLM-L6-v2). So the explicit
examples encode the edge texts at batch size 2 (encode sorts by length: the two long ones
share a batch, the short ones are not padded to 256 tokens; the padding example still pads
a short text to the longest), and the two properties that draw long texts draw 3 examples,
the determinism property (short texts only) 5. tests/integration/test_behaviour_gate.py
checks that each property still fails the faults it exists for.
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sentence_transformers.sentence_transformer.modules import Normalize

from harness.checkpoint.tolerances import exact_atol, padding_atol, unit_norm_atol

pytestmark = pytest.mark.gpu

BOUNDED = settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: the properties that draw LONG texts (a 256-token row for each text of a batch with one)
LONG_TEXTS = settings(BOUNDED, max_examples=3)
#: arbitrary unicode (every category but surrogates), the empty text included
SHORT = st.text(max_size=40)
#: beyond any max_seq_length: a short piece repeated to 1,200+ characters
LONG = st.text(min_size=1, max_size=8).map(lambda piece: piece * (1200 // len(piece) + 1))
TEXT = st.one_of(SHORT, SHORT, SHORT, SHORT, LONG)
#: always tried, whatever the search draws: empty, blank, zero-width, long past truncation
EDGE_TEXTS = ["", " ", "\u200b", "\x00", "🙂" * 300, "word " * 400]


def encode(model, texts: list[str], batch_size: int) -> np.ndarray:
    """The model's own encode, float64 on the CPU for comparing (no memo, no cache)."""
    with torch.inference_mode():
        vectors = model.encode(texts, batch_size=batch_size, convert_to_tensor=True)
    return vectors.detach().float().cpu().numpy().astype(np.float64)


def shown(text: str) -> str:
    return repr(text) if len(text) <= 60 else f"{text[:40]!r}... ({len(text)} characters)"


@BOUNDED
@given(texts=st.lists(SHORT, min_size=1, max_size=3), batch_size=st.integers(1, 3))
@example(texts=EDGE_TEXTS, batch_size=2)
def test_encoding_is_deterministic(candidate, texts, batch_size):
    first = encode(candidate.model, texts, batch_size)
    again = encode(candidate.model, texts, batch_size)
    worst = float(np.abs(first - again).max())
    atol = exact_atol(candidate.dtype)
    assert worst <= atol, (
        f"encoding the same {len(texts)} texts twice (batch size {batch_size}) gave embeddings "
        f"that differ by up to {worst:.3g} (tolerance {atol:g}): the model is not "
        "deterministic (dropout left on? model.eval() not called?)"
    )


@LONG_TEXTS
@given(
    text=TEXT,
    others=st.lists(TEXT, max_size=3),
    position=st.integers(0, 3),
    batch_size=st.integers(2, 4),
)
@example(text="short", others=["word " * 400, ""], position=1, batch_size=2)
def test_embedding_ignores_batch_and_padding(candidate, text, others, position, batch_size):
    position = min(position, len(others))
    batch = [*others[:position], text, *others[position:]]
    alone = encode(candidate.model, [text], 1)[0]
    together = encode(candidate.model, batch, batch_size)[position]
    worst = float(np.abs(alone - together).max())
    atol = padding_atol(candidate.dtype)
    assert worst <= atol, (
        f"the embedding of {shown(text)} changes by up to {worst:.3g} (tolerance {atol:g}) when "
        f"it is encoded among {len(others)} other text(s) at batch size {batch_size} instead "
        "of alone: padding or the batch leaks into the result (an attention mask or pooling "
        "that does not ignore padded positions)"
    )


@LONG_TEXTS
@given(texts=st.lists(TEXT, min_size=1, max_size=3), batch_size=st.integers(1, 3))
@example(texts=EDGE_TEXTS, batch_size=2)
def test_any_text_gives_a_finite_embedding_of_the_right_shape(candidate, texts, batch_size):
    """Finite, one row of the model's dimension per text; unit length if the model normalises."""
    model = candidate.model
    vectors = encode(model, texts, batch_size)
    dimension = model.get_embedding_dimension()
    assert vectors.shape == (len(texts), dimension), (
        f"{len(texts)} texts gave embeddings of shape {vectors.shape}, expected "
        f"({len(texts)}, {dimension}) (the model's get_embedding_dimension())"
    )
    broken = [shown(t) for t, row in zip(texts, vectors, strict=True) if not np.isfinite(row).all()]
    assert not broken, f"NaN or Inf in the embeddings of {', '.join(broken)}"
    if any(isinstance(module, Normalize) for module in model):
        norms = np.linalg.norm(vectors, axis=1)
        worst = float(np.abs(norms - 1.0).max())
        atol = unit_norm_atol(candidate.dtype)
        assert worst <= atol, (
            f"the pipeline ends in a Normalize module, yet an embedding has length "
            f"{norms[np.argmax(np.abs(norms - 1.0))]:.6g} (|length - 1| tolerance {atol:g})"
        )
