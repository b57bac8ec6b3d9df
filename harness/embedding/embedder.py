"""Embedder: encode each unique text once per model and mode, and cache baselines on disk."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.embedding.memory import release_memory

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

#: encodes of more texts than this show a progress bar (on a terminal only)
PROGRESS_MIN_TEXTS = 1000


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class EncodeEvent:
    """Something an encode had to work around, e.g. the GPU ran out of memory at a batch size."""

    kind: str  # "out_of_memory"
    key: str  # the model and mode ("candidate/x/adapter"), "" when unnamed
    n_texts: int
    batch_size: int
    new_batch_size: int

    @property
    def message(self) -> str:
        what = f" ({self.key})" if self.key else ""
        return (
            f"out of GPU memory encoding {self.n_texts} texts{what} at batch size "
            f"{self.batch_size}: continued at batch size {self.new_batch_size}"
        )

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "message": self.message}


class EncodeOutOfMemory(RuntimeError):
    """The GPU ran out of memory even at batch size 1."""


def encode_texts(
    model: SentenceTransformer, texts: Sequence[str], batch_size: int, *, key: str = "",
    events: list[EncodeEvent] | None = None, show_progress: bool = False,
) -> tuple[np.ndarray, int]:
    """Encode with `batch_size`, halving it on CUDA out-of-memory until it fits.

    Returns the vectors (float32) and the batch size that succeeded; each halving is
    appended to `events` (the run's summary prints them). Out of memory at batch size 1
    raises EncodeOutOfMemory with what was tried, never a bare CUDA error.
    """
    import torch

    size = batch_size
    while True:
        try:
            with torch.inference_mode():
                vectors = model.encode(
                    list(texts), batch_size=size, convert_to_numpy=True,
                    show_progress_bar=show_progress,
                )
            return np.asarray(vectors, dtype=np.float32), size
        except torch.cuda.OutOfMemoryError as exc:
            error = str(exc).splitlines()[0] if str(exc) else "CUDA out of memory"
        release_memory()  # outside `except`: the traceback's frames held the batch
        if size <= 1:
            raise EncodeOutOfMemory(
                f"out of GPU memory encoding {len(texts)} texts{f' ({key})' if key else ''} "
                f"even at batch size 1 (started at {batch_size}): {error}"
            )
        event = EncodeEvent("out_of_memory", key, len(texts), size, max(1, size // 2))
        if events is not None:
            events.append(event)
        size = event.new_batch_size


class Embedder:
    """Encodes texts for a named model and mode, never the same text twice in a run.

    `key` names a model in one mode ("baseline/all-MiniLM-L6-v2", "minilm-lora/merged").
    With `cache_id` (a weights fingerprint) the vectors also persist on disk, keyed by
    weights, text and encode settings, so a second run does not encode a baseline again.
    Encodes of more than PROGRESS_MIN_TEXTS texts show a tqdm bar when stderr is a terminal
    (under pytest's capture it is not: `-s`).
    """

    def __init__(self, *, batch_size: int, device: str, cache_dir: Path | None = None) -> None:
        self.batch_size = batch_size
        self.device = device
        self.cache_dir = cache_dir
        self._memory: dict[str, dict[str, np.ndarray]] = {}
        self.encoded: Counter[str] = Counter()  # texts actually sent to a model, per key
        self.events: list[EncodeEvent] = []  # out-of-memory fallbacks, for the summary

    def encode(
        self, model: SentenceTransformer, texts: Sequence[str], *, key: str,
        cache_id: str | None = None,
    ) -> np.ndarray:
        """Embeddings of `texts` in order (float32, one row per text)."""
        store = self._memory.get(key)
        if store is None:
            store = self._load_disk(model, cache_id) if cache_id else {}
            self._memory[key] = store
        todo = list(dict.fromkeys(t for t in texts if text_key(t) not in store))
        if todo:
            vectors = self.raw_encode(model, todo, key=key)
            for text, vector in zip(todo, vectors, strict=True):
                store[text_key(text)] = vector
            self.encoded[key] += len(todo)
            if cache_id:
                self._save_disk(model, cache_id, store)
        if not texts:
            return np.zeros((0, 0), np.float32)
        return np.stack([store[text_key(t)] for t in texts])

    def forget(self, prefix: str) -> None:
        """Drop in-memory embeddings of keys starting with `prefix` (a candidate leaving memory)."""
        for key in [k for k in self._memory if k.startswith(prefix)]:
            del self._memory[key]

    def raw_encode(
        self, model: SentenceTransformer, texts: Sequence[str], *, key: str = ""
    ) -> np.ndarray:
        """One encode call with the gate's settings, no memo: the floor everything else is held to.

        On CUDA out-of-memory the batch size halves, for this encode and the rest of the run.
        """
        vectors, self.batch_size = encode_texts(
            model, texts, self.batch_size, key=key, events=self.events,
            show_progress=self.progress_for(len(texts)),
        )
        return vectors

    def progress_for(self, n_texts: int) -> bool:
        """A bar for long encodes, on a terminal only (not in CI)."""
        return n_texts > PROGRESS_MIN_TEXTS and sys.stderr.isatty()

    def _cache_file(self, model: SentenceTransformer, cache_id: str) -> Path:
        assert self.cache_dir is not None
        import sentence_transformers
        import torch

        settings = {
            "weights": cache_id,
            "max_seq_length": model.max_seq_length,
            "device": torch.device(self.device).type,
            "dtype": str(next(model.parameters()).dtype),
            "batch_size": self.batch_size,
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
        }
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:32]
        return self.cache_dir / f"{digest}.npz"

    def _load_disk(self, model: SentenceTransformer, cache_id: str) -> dict[str, np.ndarray]:
        if self.cache_dir is None:
            return {}
        path = self._cache_file(model, cache_id)
        if not path.exists():
            return {}
        try:
            with np.load(path) as data:
                return dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
        except (OSError, ValueError, KeyError):
            return {}  # an unreadable cache is only a cache: encode again and overwrite it

    def _save_disk(
        self, model: SentenceTransformer, cache_id: str, store: dict[str, np.ndarray]
    ) -> None:
        if self.cache_dir is None:
            return
        path = self._cache_file(model, cache_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(store), dtype="U64")
        vectors = np.stack(list(store.values()))
        handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        os.close(handle)
        try:
            np.savez(tmp, keys=keys, vectors=vectors)
            os.replace(tmp, path)  # atomic: a crash never leaves a half-written cache
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
