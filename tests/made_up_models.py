"""Models made up for the unit tests of the run: embeddings made up per text, and a stand-in for
GateModels' encoding side that serves them (no torch, no weights)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from types import SimpleNamespace

import numpy as np

Encode = Callable[[list[str]], np.ndarray]


def made_up_encoder(salt: str, *, breaks_on: Collection[str] = ()) -> Encode:
    """Embeddings made up per text: the same text, the same vector (for one salt); NaN for the
    texts in `breaks_on` (a model that breaks on some inputs)."""

    def encode(texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int(hashlib.sha256(f"{salt}|{text}".encode()).hexdigest()[:8], 16)
            row = np.random.default_rng(seed).normal(size=16)
            rows.append(np.full(16, np.nan) if text in breaks_on else row)
        return np.array(rows, dtype=np.float32)

    return encode


class MadeUpModels:
    """What GateSession asks of its models, served by made-up encoders: `baselines[i]` encodes
    for the i-th baseline, `candidates[name]` for the checkpoint of that name."""

    def __init__(self, baselines: list[Encode], candidates: dict[str, Encode]) -> None:
        self.baselines, self.candidates = baselines, candidates

    def encode_baseline(self, texts: list[str], index: int = 0) -> np.ndarray:
        return self.baselines[index](texts)

    def encode_candidate(self, candidate, texts: list[str], mode: str = "shipped") -> np.ndarray:
        return self.candidates[candidate.checkpoint.name](texts)

    def baseline(self, index: int = 0) -> SimpleNamespace:
        return SimpleNamespace(model=SimpleNamespace(dtype="float32"))

    def truncated_texts(self, dataset) -> int:
        return 0


def made_up_candidate(name: str) -> SimpleNamespace:
    """What GateSession reads of a loaded candidate: its checkpoint's name and kind, its dtype."""
    return SimpleNamespace(checkpoint=SimpleNamespace(name=name, kind="adapter"), dtype="float32")
