"""Matryoshka truncation: the first columns, re-normalised, and the dimension checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_similarity

from harness.quality.matryoshka import check_dimensions, truncate


@pytest.fixture
def embeddings() -> np.ndarray:
    rng = np.random.default_rng(7)
    scales = rng.uniform(0.1, 9, size=(20, 1))
    return (rng.normal(size=(20, 48)) * scales).astype(np.float32)


def test_full_width_is_the_l2_normalised_input(embeddings):
    out = truncate(embeddings, 48)

    assert not np.allclose(np.linalg.norm(embeddings, axis=1), 1)  # so this is not a no-op
    expected = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dim", [1, 5, 16, 47])
def test_rows_are_unit_length_and_cosines_match_sklearn_on_the_first_columns(embeddings, dim):
    out = truncate(embeddings, dim)

    assert out.shape == (20, dim) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(out @ out.T, cosine_similarity(embeddings[:, :dim]), atol=1e-6)
    if dim > 1:  # a smaller size is a different embedding, not the full one re-scaled
        full = cosine_similarity(embeddings)
        assert not np.allclose(out @ out.T, full, atol=1e-3)


def test_float64_stays_float64_and_the_input_is_left_alone(embeddings):
    wide = embeddings.astype(np.float64)
    before = wide.copy()

    assert truncate(wide, 8).dtype == np.float64
    np.testing.assert_array_equal(wide, before)


def test_an_all_zero_row_stays_zero_and_finite():
    out = truncate(np.array([[0.0, 0.0, 3.0], [3.0, 4.0, 1.0]], dtype=np.float32), 2)

    np.testing.assert_array_equal(out, np.array([[0, 0], [0.6, 0.8]], dtype=np.float32))


@pytest.mark.parametrize("dim", [0, -1, 49])
def test_a_dimension_outside_the_width_is_refused_naming_the_width(embeddings, dim):
    with pytest.raises(ValueError, match=rf"dimension {dim} .*48 dimensions, so use 1 to 48"):
        truncate(embeddings, dim)


def test_check_dimensions_accepts_distinct_sizes_up_to_the_width():
    assert check_dimensions([768, 64, 256, np.int64(1)], 768) == (768, 64, 256, 1)


@pytest.mark.parametrize(
    ("dims", "message"),
    [
        ([64, 0], r"dimension 0 is out of range: the embeddings have 384 dimensions"),
        ([64, -8], r"dimension -8 is out of range"),
        ([64, 385], r"dimension 385 is out of range: .* use 1 to 384"),
        ([64, 128, 64], r"dimension 64 is listed twice"),
        ([64, 32.0], r"dimension 32\.0 is not a whole number"),
        ([True], r"dimension True is not a whole number"),
    ],
)
def test_check_dimensions_names_the_bad_one(dims, message):
    with pytest.raises(ValueError, match=message):
        check_dimensions(dims, 384)
