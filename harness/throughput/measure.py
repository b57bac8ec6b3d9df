"""Encode throughput of one checkpoint: base, shipped and merged, per dtype and batch size.

Measurement works on encodes of a fixed corpus (`CorpusEncode`, one per model; see
`harness.throughput.variants` for the models) and returns numbers: a `ThroughputRun` per
case, a `MergedRatio` per dtype and batch size, kept in the checkpoint's
`CheckpointThroughput`. What times a case is the caller's `Timer` (the gate passes
pytest-benchmark's); the merged/base ratio times base and merged itself, interleaved.

Modes: `base` is the model an adapter was made for, `shipped` the checkpoint as it is used
(an adapter unmerged, or a full model), `merged` the adapter merged into the base
(`merge_and_unload`). The corpus is `[throughput] corpus_path` (default: `[effect]
probe_path`) cycled to `corpus_size` sentences; one round encodes it once.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.config import ThroughputSpec
from harness.embedding.device import DTYPE_NAMES, throughput_dtypes
from harness.errors import ConfigError
from harness.quality.pairs import read_sentences
from harness.throughput.memory import PeakMemory

MODES = ("base", "merged", "shipped")  # base and merged adjacent: their ratio is gated
ADAPTER_MODES = frozenset({"base", "merged"})
REGRESSION_CHECK = "throughput_vs_stored_run"
INTERLEAVED = "ratio test (interleaved)"  # `timed_by` of the runs the ratio times itself


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


@dataclass(frozen=True)
class Corpus:
    """The fixed texts every benchmark of a run encodes (the same texts for every model)."""

    path: Path
    texts: tuple[str, ...]

    @classmethod
    def read(cls, spec: ThroughputSpec, probe_path: Path) -> Corpus:
        """`[throughput] corpus_path` (default: the probe sentences) cycled to `corpus_size`."""
        path = spec.corpus_path or probe_path
        if not path.is_file():
            raise ConfigError(
                path, "the throughput corpus does not exist", "set [throughput] corpus_path"
            )
        lines = read_sentences(path)
        if not lines:
            raise ConfigError(
                path, "the throughput corpus has no sentences", "one sentence per line"
            )
        return cls(path, tuple(lines[i % len(lines)] for i in range(spec.corpus_size)))


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

    @classmethod
    def of(
        cls, checkpoint: str, corpus: Corpus, spec: ThroughputSpec, device: str, base: str | None
    ) -> CheckpointThroughput:
        """An empty record of a checkpoint measured on `corpus` under `spec`."""
        return cls(
            checkpoint=checkpoint,
            device=device,
            corpus=str(corpus.path),
            sentences=len(corpus.texts),
            distinct_sentences=len(set(corpus.texts)),
            base=base,
            min_merged_ratio=spec.min_merged_ratio,
        )

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


# ---- timing -----------------------------------------------------------------------------------


class CorpusEncode(Protocol):
    """Encodes the corpus once with one model; `batch_size` is the batch size in use (smaller
    than asked once an encode ran out of memory)."""

    sentences: int
    batch_size: int

    def __call__(self) -> None: ...


#: times `function`: one warmup call, then `rounds` timed calls; None when timing is off
Timer = Callable[[Callable[[], None], int], Sequence[float] | None]


def interleaved_seconds(
    functions: Mapping[str, Callable[[], None]], rounds: int
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


def time_rounds(function: Callable[[], None], rounds: int) -> list[float]:
    """The Timer without pytest-benchmark: one warmup call, then `rounds` timed calls."""
    return interleaved_seconds({"function": function}, rounds)["function"]


def measure_case(
    encode: CorpusEncode,
    case: ThroughputCase,
    *,
    rounds: int,
    device: str,
    timer: Timer = time_rounds,
) -> ThroughputRun | None:
    """Time one case with `timer` and measure its peak memory; None when `timer` timed
    nothing (pytest-benchmark disabled)."""
    with PeakMemory(device) as peak:
        seconds = timer(encode, rounds)
    if not seconds:
        return None
    return ThroughputRun(
        case.mode,
        case.dtype,
        case.batch_size,
        encode.sentences,
        list(seconds),
        peak_memory_bytes=peak.bytes,
        peak_memory=peak.kind,
        effective_batch_size=encode.batch_size,
    )


def time_base_and_merged(
    encodes: Mapping[str, CorpusEncode],
    dtype: str,
    batch_size: int,
    *,
    rounds: int,
    device: str,
) -> tuple[ThroughputRun, ThroughputRun]:
    """The `base` and `merged` encodes timed interleaved (`interleaved_seconds`)."""
    with PeakMemory(device) as peak:
        seconds = interleaved_seconds({m: encodes[m] for m in ("base", "merged")}, rounds)
    base, merged = (
        ThroughputRun(
            mode,
            dtype,
            batch_size,
            encodes[mode].sentences,
            seconds[mode],
            peak_memory_bytes=peak.bytes,
            peak_memory=f"{peak.kind}, base and merged together",
            effective_batch_size=encodes[mode].batch_size,
            timed_by=INTERLEAVED,
        )
        for mode in ("base", "merged")
    )
    return base, merged


#: fresh `base` and `merged` encodes at a dtype and batch size
BaseAndMerged = Callable[[str, int], Mapping[str, CorpusEncode]]


def measure_merged_ratios(
    runs: Mapping[tuple[str, str, int], ThroughputRun],
    base_and_merged: BaseAndMerged,
    spec: ThroughputSpec,
    device: str,
) -> tuple[list[MergedRatio], list[ThroughputRun]]:
    """Merged over base sentences/s per dtype and batch size, from the benchmarks' `runs`;
    with the runs timed here.

    A case the benchmarks did not time (deselected, or `--benchmark-disable`) is timed here,
    base and merged interleaved. A ratio below the minimum is re-measured interleaved
    before it counts, so one noisy neighbour does not fail the gate; both numbers are kept.
    """

    def interleaved(dtype: str, batch_size: int) -> tuple[ThroughputRun, ThroughputRun]:
        encodes = base_and_merged(dtype, batch_size)
        return time_base_and_merged(encodes, dtype, batch_size, rounds=spec.rounds, device=device)

    ratios, timed = [], []
    for dtype in throughput_dtypes(device):
        for batch_size in spec.batch_sizes:
            base = runs.get(("base", dtype, batch_size))
            merged = runs.get(("merged", dtype, batch_size))
            timed_here = base is None or merged is None
            if timed_here:
                base, merged = interleaved(dtype, batch_size)
                timed += [base, merged]
            assert base is not None and merged is not None
            ratio = MergedRatio(
                dtype, batch_size, base.sentences_per_second, merged.sentences_per_second
            )
            if ratio.first < spec.min_merged_ratio and not timed_here:
                again_base, again_merged = interleaved(dtype, batch_size)
                ratio.remeasured = (
                    again_merged.sentences_per_second / again_base.sentences_per_second
                )
            ratios.append(ratio)
    return ratios, timed


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
