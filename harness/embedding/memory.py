"""Giving memory back when a model leaves: Python's garbage, CUDA's cache, the C heap."""

from __future__ import annotations

import ctypes
import gc


def trim_heap() -> None:
    """Return the C heap's free memory to the OS (glibc `malloc_trim`; elsewhere a no-op).

    Called when a candidate leaves memory: without it, freed model memory stays in the
    process (RSS) and the run's peak creeps up with every checkpoint.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def release_memory() -> None:
    """Collect garbage and hand CUDA's cached blocks back: what a failed batch or a dropped
    model left behind (an exception's frames hold its tensors)."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
