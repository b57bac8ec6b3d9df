"""The models a checkpoint's throughput is measured with, per mode and dtype, and the encode of
the corpus with one of them (a `CorpusEncode` of `harness.throughput.measure`)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from harness.embedding.device import torch_dtype
from harness.embedding.embedder import EncodeEvent, encode_texts
from harness.embedding.memory import release_memory

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class ModelVariants:
    """A checkpoint's models per mode (`sources`: mode -> the model, asked for on first use);
    another dtype than float32 gets converted copies.

    float32 uses the sources' own models; another dtype gets copies, one set at a time,
    released when the dtype changes or on `release()`. A source model is never converted.
    """

    def __init__(self, sources: Mapping[str, Callable[[], SentenceTransformer]]) -> None:
        self.sources = sources
        self._dtype: str | None = None
        self._copies: dict[str, SentenceTransformer] = {}

    def model(self, mode: str, dtype: str) -> SentenceTransformer:
        model = self.sources[mode]()
        if dtype == "float32":
            return model
        if dtype != self._dtype:
            self.release()
            self._dtype = dtype
        if mode not in self._copies:
            self._copies[mode] = copy.deepcopy(model).to(torch_dtype(dtype))
        return self._copies[mode]

    def release(self) -> None:
        had_copies = bool(self._copies)
        self._copies.clear()
        self._dtype = None
        if had_copies:
            release_memory()


class ModelEncode:
    """One encode of `texts` with a model per call; an out-of-memory halves the batch size,
    which then sticks for the next calls."""

    def __init__(
        self,
        model: SentenceTransformer,
        texts: Sequence[str],
        batch_size: int,
        *,
        key: str,
        events: list[EncodeEvent],
    ) -> None:
        self.model = model
        self.texts = texts
        self.sentences = len(texts)
        self.batch_size = batch_size
        self.key = key
        self.events = events

    def __call__(self) -> None:
        _, self.batch_size = encode_texts(
            self.model, self.texts, self.batch_size, key=self.key, events=self.events
        )
