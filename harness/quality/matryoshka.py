"""Matryoshka embeddings: keep the first dimensions of each vector and re-normalise it, as a
model trained with a Matryoshka loss is meant to be used at a smaller size."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["check_dimensions", "truncate"]


def check_dimensions(dims: Iterable[int], width: int) -> tuple[int, ...]:
    """*dims* as a tuple, checked to be distinct whole numbers from 1 to *width* (the model's
    embedding size); ValueError naming the first bad one."""
    checked: list[int] = []
    for dim in dims:
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
            raise ValueError(f"dimension {dim!r} is not a whole number")
        if not 1 <= dim <= width:
            raise ValueError(
                f"dimension {dim} is out of range: the embeddings have {width} dimensions, "
                f"so use 1 to {width}"
            )
        if dim in checked:
            raise ValueError(f"dimension {dim} is listed twice")
        checked.append(int(dim))
    return tuple(checked)


def truncate(embeddings: np.ndarray, dim: int) -> np.ndarray:
    """The first *dim* columns of a 2-D *embeddings* array, each row scaled to unit L2 length
    (an all-zero row stays zero); float32 stays float32. ValueError if *dim* is not 1 to the
    width."""
    array = np.asarray(embeddings)
    if array.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (rows x dimensions), got shape {array.shape}")
    check_dimensions([dim], array.shape[1])
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    head = array[:, :dim]
    norms = np.linalg.norm(head, axis=1, keepdims=True)
    return head / np.where(norms > 0, norms, 1)
