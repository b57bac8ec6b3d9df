"""The throughput tests' glue: a candidate's models from the GateSession, the run's corpus and
`[throughput]` spec, pytest-benchmark as the timer, the numbers recorded into the findings."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from harness.throughput.measure import (
    CheckpointThroughput,
    Corpus,
    ThroughputCase,
    Timer,
    check_merged_ratio,
    measure_case,
    measure_merged_ratios,
)
from harness.throughput.variants import ModelEncode, ModelVariants

if TYPE_CHECKING:
    from harness.checkpoint.load import LoadedCandidate
    from harness.run.session import GateSession


def pytest_benchmark_timer(benchmark: Any) -> Timer:
    """pytest-benchmark's `benchmark` fixture as the Timer: `benchmark.pedantic` with one
    warmup round and one call per round; None when benchmarks are disabled."""

    def timed(function: Any, rounds: int) -> list[float] | None:
        benchmark.pedantic(function, rounds=rounds, iterations=1, warmup_rounds=1)
        if not benchmark.enabled or not benchmark.stats:
            return None
        return list(benchmark.stats.stats.data)

    return timed


class CandidateThroughput:
    """A candidate's throughput in the gate run: base, merged and shipped models from the
    session, measured on the run's corpus and recorded as `findings.throughput[name]`."""

    def __init__(self, gate_session: GateSession, candidate: LoadedCandidate) -> None:
        self.session = gate_session
        self.candidate = candidate
        self.name = candidate.checkpoint.name
        self.spec = gate_session.config.throughput
        self.models = ModelVariants(
            {
                "base": lambda: gate_session.models.base_of(candidate)[0],
                "merged": candidate.merged,
                "shipped": lambda: candidate.model,
            }
        )

    @cached_property
    def corpus(self) -> Corpus:
        return Corpus.read(self.spec, self.session.config.effect.probe_path)

    @property
    def record(self) -> CheckpointThroughput:
        """The checkpoint's record in the run's findings (created on first use)."""
        records = self.session.findings.throughput
        if self.name not in records:
            base = None
            if self.candidate.peft_model is not None:
                base = self.session.models.base_of(self.candidate)[1]
            records[self.name] = CheckpointThroughput.of(
                self.name, self.corpus, self.spec, self.session.device, base
            )
        return records[self.name]

    def encode(self, mode: str, dtype: str, batch_size: int) -> ModelEncode:
        case = ThroughputCase(mode, dtype, batch_size)
        return ModelEncode(
            self.models.model(mode, dtype),
            self.corpus.texts,
            batch_size,
            key=f"throughput/{self.name}/{case.id}",
            events=self.session.models.embedder.events,
        )

    def time_case(self, benchmark: Any, case: ThroughputCase) -> None:
        """Time one case with pytest-benchmark (grouped per checkpoint, dtype and batch size,
        described in `extra_info`) and record it, unless benchmarks are disabled."""
        encode = self.encode(case.mode, case.dtype, case.batch_size)
        benchmark.group = f"{self.name} {case.dtype} batch {case.batch_size}"
        benchmark.extra_info.update(
            checkpoint=self.name,
            mode=case.mode,
            dtype=case.dtype,
            batch_size=case.batch_size,
            sentences=encode.sentences,
            device=self.session.device,
        )
        run = measure_case(
            encode,
            case,
            rounds=self.spec.rounds,
            device=self.session.device,
            timer=pytest_benchmark_timer(benchmark),
        )
        if run is None:
            return
        benchmark.extra_info.update(
            peak_memory_bytes=run.peak_memory_bytes,
            peak_memory=run.peak_memory,
            effective_batch_size=run.effective_batch_size,
            sentences_per_second=round(run.sentences_per_second, 1),
        )
        self.record.runs[run.key] = run

    def check_merged_ratio(self) -> str | None:
        """Measure merged over base (from this run's benchmarks, timed here where they did not
        run), record it, and return the failure message of a miss."""
        record = self.record
        ratios, timed_here = measure_merged_ratios(
            record.runs,
            lambda dtype, batch: {m: self.encode(m, dtype, batch) for m in ("base", "merged")},
            self.spec,
            self.session.device,
        )
        record.runs.update((run.key, run) for run in timed_here)
        record.ratios = ratios
        return check_merged_ratio(
            self.name,
            ratios,
            self.spec.min_merged_ratio,
            rounds=self.spec.rounds,
            sentences=self.spec.corpus_size,
            device=self.session.device,
        )

    def release(self) -> None:
        """Free the converted copies (the candidate is leaving memory)."""
        self.models.release()
