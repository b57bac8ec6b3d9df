"""Encode throughput per checkpoint: base, shipped and merged, per dtype and batch size.

`tests/gate/test_throughput.py` times each case with pytest-benchmark (so runs can be stored
and compared with `--benchmark-compare`), records it here into the GateSession, and gates
the merged model's throughput against the base's as a ratio measured in the same run.

Modes: `base` is the model an adapter was made for, `shipped` the checkpoint as it is used
(an adapter unmerged, or a full model), `merged` the adapter merged into the base
(`merge_and_unload`). The corpus is `[throughput] corpus_path` (default: `[effect]
probe_path`) cycled to `corpus_size` sentences; one round encodes it once.
"""

from __future__ import annotations

import copy
import functools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.embedding.device import DTYPE_NAMES, throughput_dtypes, torch_dtype
from harness.embedding.embedder import EncodeEvent, encode_texts
from harness.embedding.memory import release_memory
from harness.errors import ConfigError
from harness.quality.pairs import read_sentences
from harness.throughput.memory import PeakMemory

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from harness.checkpoint.load import LoadedCandidate
    from harness.run.session import GateSession

MODES = ("base", "merged", "shipped")  # base and merged adjacent: their ratio is gated
ADAPTER_MODES = frozenset({"base", "merged"})
REGRESSION_CHECK = "throughput_vs_stored_run"


# ---- cases and corpus -------------------------------------------------------------------------


@dataclass(frozen=True)
class ThroughputCase:
    """One benchmark of a checkpoint: a mode, a dtype and a batch size."""

    mode: str
    dtype: str
    batch_size: int

    @property
    def id(self) -> str:
        return f"{self.mode}-{self.dtype}-b{self.batch_size}"

    @classmethod
    def parse(cls, text: str) -> ThroughputCase:
        mode, dtype, batch = text.split("-")
        return cls(mode, dtype, int(batch.removeprefix("b")))

    @property
    def adapter_only(self) -> bool:
        return self.mode in ADAPTER_MODES


def cases(batch_sizes: Sequence[int], device: str) -> list[ThroughputCase]:
    """Every case, ordered dtype, batch size, mode: base and merged are timed back to back."""
    return [
        ThroughputCase(mode, dtype, batch)
        for dtype in throughput_dtypes(device)
        for batch in batch_sizes
        for mode in MODES
    ]


@functools.lru_cache(maxsize=4)
def _corpus(path: str, size: int) -> tuple[str, ...]:
    lines = read_sentences(path)
    if not lines:
        raise ConfigError(path, "the throughput corpus has no sentences", "one sentence per line")
    return tuple(lines[i % len(lines)] for i in range(size))


def corpus_path(session: GateSession) -> Path:
    return session.config.throughput.corpus_path or session.config.effect.probe_path


def corpus(session: GateSession) -> list[str]:
    """The fixed corpus every benchmark of the run encodes (the same texts for every model)."""
    path = corpus_path(session)
    if not path.is_file():
        raise ConfigError(
            path, "the throughput corpus does not exist", "set [throughput] corpus_path"
        )
    return list(_corpus(str(path), session.config.throughput.corpus_size))


# ---- results ----------------------------------------------------------------------------------


@dataclass
class ThroughputRun:
    """One case's timed rounds (seconds per encode of the corpus) and its peak memory."""

    mode: str
    dtype: str
    batch_size: int
    sentences: int
    seconds: list[float]
    peak_memory_bytes: int | None = None
    peak_memory: str = ""
    effective_batch_size: int | None = None  # smaller than batch_size after out-of-memory
    timed_by: str = "pytest-benchmark"

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.mode, self.dtype, self.batch_size)

    @property
    def best_seconds(self) -> float:
        return min(self.seconds)

    @property
    def sentences_per_second(self) -> float:
        return self.sentences / self.best_seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "dtype": self.dtype,
            "batch_size": self.batch_size,
            "effective_batch_size": self.effective_batch_size or self.batch_size,
            "rounds": len(self.seconds),
            "best_seconds": round(self.best_seconds, 6),
            "median_seconds": round(statistics.median(self.seconds), 6),
            "sentences_per_second": round(self.sentences_per_second, 1),
            "peak_memory_bytes": self.peak_memory_bytes,
            "peak_memory": self.peak_memory,
            "timed_by": self.timed_by,
        }


@dataclass
class MergedRatio:
    """Merged sentences/s over the base's at one dtype and batch size (best of rounds)."""

    dtype: str
    batch_size: int
    base: float
    merged: float
    remeasured: float | None = None  # the interleaved re-measurement of a first miss

    @property
    def first(self) -> float:
        return self.merged / self.base

    @property
    def ratio(self) -> float:
        """The verdict's ratio: the re-measurement where the first measurement missed."""
        return self.remeasured if self.remeasured is not None else self.first

    def to_dict(self, min_ratio: float) -> dict[str, Any]:
        return {
            "dtype": self.dtype,
            "batch_size": self.batch_size,
            "base_sentences_per_second": round(self.base, 1),
            "merged_sentences_per_second": round(self.merged, 1),
            "ratio": round(self.ratio, 4),
            "first_ratio": round(self.first, 4),
            "remeasured_ratio": None if self.remeasured is None else round(self.remeasured, 4),
            "min_ratio": min_ratio,
            "passed": self.ratio >= min_ratio,
        }


@dataclass
class CheckpointThroughput:
    """Everything measured for one checkpoint: runs by (mode, dtype, batch size), ratios."""

    checkpoint: str
    device: str
    corpus: str
    sentences: int
    distinct_sentences: int
    base: str | None = None  # the base's embedder key: "baseline/NAME" or "base/PATH"
    runs: dict[tuple[str, str, int], ThroughputRun] = field(default_factory=dict)
    ratios: list[MergedRatio] = field(default_factory=list)
    min_merged_ratio: float = 0.95
    regressions: list[str] = field(default_factory=list)  # from --benchmark-compare-fail

    def sentences_per_second(self, mode: str) -> float | None:
        """float32 at the largest batch size measured: the leaderboard's sent/s."""
        runs = [r for r in self.runs.values() if r.mode == mode and r.dtype == "float32"]
        if not runs:
            return None
        return max(runs, key=lambda r: r.batch_size).sentences_per_second

    def to_dict(self) -> dict[str, Any]:
        order = {m: i for i, m in enumerate(("base", "shipped", "merged"))}
        runs = sorted(
            self.runs.values(),
            key=lambda r: (DTYPE_NAMES.index(r.dtype), r.batch_size, order[r.mode]),
        )
        return {
            "device": self.device,
            "corpus": {
                "path": self.corpus,
                "sentences": self.sentences,
                "distinct_sentences": self.distinct_sentences,
            },
            "base": self.base,
            "runs": [r.to_dict() for r in runs],
            "merged_vs_base": [r.to_dict(self.min_merged_ratio) for r in self.ratios],
            "regressions": list(self.regressions),
        }


def record_of(session: GateSession, candidate: LoadedCandidate) -> CheckpointThroughput:
    """The checkpoint's throughput record in the session (created on first use)."""
    name = candidate.checkpoint.name
    records = session.findings.throughput
    if name not in records:
        texts = corpus(session)
        records[name] = CheckpointThroughput(
            checkpoint=name,
            device=session.device,
            corpus=str(corpus_path(session)),
            sentences=len(texts),
            distinct_sentences=len(set(texts)),
            base=session.models.base_of(candidate)[1] if candidate.peft_model is not None else None,
            min_merged_ratio=session.config.throughput.min_merged_ratio,
        )
    return records[name]


def sentences_per_second_by_model(records: dict[str, CheckpointThroughput]) -> dict[str, float]:
    """Leaderboard sent/s: candidates as shipped, a baseline where a candidate's base is it."""
    speeds: dict[str, float] = {}
    for name, record in records.items():
        shipped = record.sentences_per_second("shipped")
        if shipped is not None:
            speeds[name] = shipped
        base = record.sentences_per_second("base")
        if base is not None and record.base and record.base.startswith("baseline/"):
            speeds.setdefault(record.base.removeprefix("baseline/"), base)
    return speeds


# ---- models and timing ------------------------------------------------------------------------


class ModelVariants:
    """The models a checkpoint's benchmarks encode with; other dtypes are converted copies.

    float32 uses the run's own models (the shared base, the candidate, its merged copy);
    another dtype gets copies, one set at a time, released when the dtype changes or the
    candidate leaves memory. The shared baseline itself is never converted.
    """

    def __init__(self, session: GateSession, candidate: LoadedCandidate) -> None:
        self.session = session
        self.candidate = candidate
        self._dtype: str | None = None
        self._copies: dict[str, SentenceTransformer] = {}

    def source(self, mode: str) -> SentenceTransformer:
        if mode == "base":
            return self.session.models.base_of(self.candidate)[0]
        if mode == "merged":
            return self.candidate.merged()
        return self.candidate.model

    def model(self, mode: str, dtype: str) -> SentenceTransformer:
        model = self.source(mode)
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


def encoder(
    model: SentenceTransformer,
    texts: Sequence[str],
    batch_size: int,
    *,
    key: str,
    events: list[EncodeEvent],
) -> tuple[Callable[[], None], Callable[[], int]]:
    """A function that encodes `texts` once (halving the batch size on out-of-memory, which
    then sticks), and one that tells the batch size in use."""
    state = {"batch_size": batch_size}

    def encode_once() -> None:
        _, state["batch_size"] = encode_texts(
            model, texts, state["batch_size"], key=key, events=events
        )

    return encode_once, lambda: state["batch_size"]


def interleaved_seconds(
    functions: dict[str, Callable[[], None]], rounds: int
) -> dict[str, list[float]]:
    """Time each function `rounds` times, alternating between them after one warmup each,
    so that a neighbour's load on a shared machine falls on all of them alike."""
    for function in functions.values():
        function()
    seconds: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def run_benchmark(
    benchmark: Any,
    session: GateSession,
    candidate: LoadedCandidate,
    variants: ModelVariants,
    case: ThroughputCase,
) -> ThroughputRun | None:
    """Time one case with pytest-benchmark (1 warmup round, then `rounds` rounds of one
    encode of the corpus each) and record it; None when benchmarks are disabled."""
    spec = session.config.throughput
    texts = corpus(session)
    name = candidate.checkpoint.name
    encode_once, batch_in_use = encoder(
        variants.model(case.mode, case.dtype),
        texts,
        case.batch_size,
        key=f"throughput/{name}/{case.id}",
        events=session.models.embedder.events,
    )
    benchmark.group = f"{name} {case.dtype} batch {case.batch_size}"
    benchmark.extra_info.update(
        checkpoint=name,
        mode=case.mode,
        dtype=case.dtype,
        batch_size=case.batch_size,
        sentences=len(texts),
        device=session.device,
    )
    with PeakMemory(session.device) as peak:
        benchmark.pedantic(encode_once, rounds=spec.rounds, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(
        peak_memory_bytes=peak.bytes, peak_memory=peak.kind, effective_batch_size=batch_in_use()
    )
    if not benchmark.enabled or not benchmark.stats:
        return None
    run = ThroughputRun(
        case.mode,
        case.dtype,
        case.batch_size,
        len(texts),
        list(benchmark.stats.stats.data),
        peak_memory_bytes=peak.bytes,
        peak_memory=peak.kind,
        effective_batch_size=batch_in_use(),
    )
    benchmark.extra_info["sentences_per_second"] = round(run.sentences_per_second, 1)
    record_of(session, candidate).runs[run.key] = run
    return run


def _time_base_and_merged(
    session: GateSession,
    candidate: LoadedCandidate,
    variants: ModelVariants,
    dtype: str,
    batch_size: int,
) -> tuple[ThroughputRun, ThroughputRun]:
    texts = corpus(session)
    name = candidate.checkpoint.name
    functions, batches = {}, {}
    for mode in ("base", "merged"):
        functions[mode], batches[mode] = encoder(
            variants.model(mode, dtype),
            texts,
            batch_size,
            key=f"throughput/{name}/{ThroughputCase(mode, dtype, batch_size).id}",
            events=session.models.embedder.events,
        )
    with PeakMemory(session.device) as peak:
        seconds = interleaved_seconds(functions, session.config.throughput.rounds)
    base, merged = (
        ThroughputRun(
            mode,
            dtype,
            batch_size,
            len(texts),
            seconds[mode],
            peak_memory_bytes=peak.bytes,
            peak_memory=f"{peak.kind}, base and merged together",
            effective_batch_size=batches[mode](),
            timed_by="ratio test (interleaved)",
        )
        for mode in ("base", "merged")
    )
    return base, merged


def measure_merged_ratios(
    session: GateSession, candidate: LoadedCandidate, variants: ModelVariants
) -> list[MergedRatio]:
    """Merged over base sentences/s per dtype and batch size, from this run's benchmarks.

    A case the benchmarks did not time (deselected, or `--benchmark-disable`) is timed here,
    base and merged interleaved. A ratio below the minimum is re-measured interleaved
    before it counts, so one noisy neighbour does not fail the gate; both numbers are kept.
    """
    spec = session.config.throughput
    record = record_of(session, candidate)
    ratios = []
    for dtype in throughput_dtypes(session.device):
        for batch_size in spec.batch_sizes:
            base = record.runs.get(("base", dtype, batch_size))
            merged = record.runs.get(("merged", dtype, batch_size))
            timed_here = base is None or merged is None
            if timed_here:
                base, merged = _time_base_and_merged(
                    session, candidate, variants, dtype, batch_size
                )
                record.runs[base.key], record.runs[merged.key] = base, merged
            assert base is not None and merged is not None
            ratio = MergedRatio(
                dtype, batch_size, base.sentences_per_second, merged.sentences_per_second
            )
            if ratio.first < spec.min_merged_ratio and not timed_here:
                again_base, again_merged = _time_base_and_merged(
                    session, candidate, variants, dtype, batch_size
                )
                ratio.remeasured = (
                    again_merged.sentences_per_second / again_base.sentences_per_second
                )
            ratios.append(ratio)
    record.ratios = ratios
    return ratios


def check_merged_ratio(
    name: str,
    ratios: Sequence[MergedRatio],
    min_ratio: float,
    *,
    rounds: int,
    sentences: int,
    device: str,
) -> str | None:
    """None when merged runs at `min_ratio` of the base's speed or better, in every case."""
    misses = [r for r in ratios if r.ratio < min_ratio]
    if not misses:
        return None
    lines = [
        f"  {r.dtype} batch {r.batch_size}: merged {r.merged:.0f} sent/s vs base "
        f"{r.base:.0f} sent/s = {r.first:.3f}x"
        + (f", re-measured interleaved {r.remeasured:.3f}x" if r.remeasured is not None else "")
        for r in misses
    ]
    return (
        f"{name}: the merged model encodes slower than {min_ratio:g}x the base "
        f"(best of {rounds} rounds over {sentences} sentences on {device}):\n"
        + "\n".join(lines)
        + "\nA merged LoRA model has the base's architecture and should run at its speed: check "
        "that merge_and_unload removed every LoRA layer and that the merged copy has the base's "
        "dtype and device."
    )
