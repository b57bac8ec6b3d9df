"""Out of GPU memory while encoding: the batch size halves and the run goes on (CPU, fake model)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.embedding.embedder import Embedder, EncodeOutOfMemory, encode_texts
from harness.report.terminal import render_summary


class FakeModel:
    """Encodes like a SentenceTransformer, but runs out of CUDA memory above `limit` texts
    per batch; records the batch size of every call."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.calls: list[int] = []

    def encode(self, texts, batch_size, convert_to_numpy, show_progress_bar):  # noqa: ARG002
        self.calls.append(batch_size)
        if batch_size > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


TEXTS = [f"sentence {i}" * (i % 3 + 1) for i in range(20)]


def test_batch_size_halves_until_it_fits_and_each_halving_is_an_event():
    model, events = FakeModel(limit=8), []

    vectors, used = encode_texts(model, TEXTS, 64, key="candidate/x/shipped", events=events)

    assert used == 8
    assert model.calls == [64, 32, 16, 8]
    np.testing.assert_array_equal(vectors[:, 0], [len(t) for t in TEXTS])
    assert [(e.batch_size, e.new_batch_size) for e in events] == [(64, 32), (32, 16), (16, 8)]
    assert events[0].message == (
        "out of GPU memory encoding 20 texts (candidate/x/shipped) at batch size 64: "
        "continued at batch size 32"
    )


def test_out_of_memory_at_batch_size_one_is_a_clear_error():
    model = FakeModel(limit=0)

    with pytest.raises(EncodeOutOfMemory, match="even at batch size 1 \\(started at 4\\)"):
        encode_texts(model, TEXTS, 4, key="baseline/b")

    assert model.calls == [4, 2, 1]


def test_embedder_keeps_the_smaller_batch_size_and_the_summary_prints_the_event():
    model = FakeModel(limit=16)
    embedder = Embedder(batch_size=64, device="cpu")

    first = embedder.encode(model, TEXTS[:10], key="candidate/x/shipped")
    second = embedder.encode(model, TEXTS[10:], key="candidate/x/merged")

    assert first.shape == second.shape == (10, 2)
    assert model.calls == [64, 32, 16, 16]  # the second encode starts at the size that fitted
    assert embedder.batch_size == 16
    assert len(embedder.events) == 2
    results = {
        "environment": {"device_note": "cuda", "dtype": "float32", "versions": {}},
        "evaluations": [],
        "checkpoints": [],
        "not_applicable": [],
        "missing_reference_datasets": {},
        "encode_events": [e.to_dict() for e in embedder.events],
    }
    summary = " ".join(render_summary(results).split())  # wrapped at 100 columns
    assert (
        "out of GPU memory encoding 10 texts (candidate/x/shipped) at batch size 64: continued "
        "at batch size 32" in summary
    )
    assert "at batch size 32: continued at batch size 16" in summary
