"""harness.throughput.measure without models, pytest-benchmark or a session: cases, the corpus,
timing a case and the merged/base ratio with fake encodes, the merged/base check, records, the
leaderboard's throughput table and sent/s column, the [throughput] table of gate.toml."""

from __future__ import annotations

import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
from paths import REPO
from results_factory import GRADED, build

from harness.config import ThroughputSpec, load_config
from harness.errors import ConfigError
from harness.report.leaderboard import render_markdown, render_text, throughput_rows
from harness.throughput import measure as throughput
from harness.throughput.measure import (
    INTERLEAVED,
    CheckpointThroughput,
    Corpus,
    MergedRatio,
    ThroughputCase,
    ThroughputRun,
    check_merged_ratio,
    interleaved_seconds,
    measure_case,
    measure_merged_ratios,
)
from harness.throughput.memory import PeakMemory
from harness.throughput.variants import ModelVariants

# ---- cases -----------------------------------------------------------------------------------


def test_cpu_cases_are_float32_with_base_and_merged_back_to_back():
    ids = [c.id for c in throughput.cases([16, 64], "cpu")]

    assert ids == [
        "base-float32-b16", "merged-float32-b16", "shipped-float32-b16",
        "base-float32-b64", "merged-float32-b64", "shipped-float32-b64",
    ]  # fmt: skip
    assert ThroughputCase.parse("merged-float32-b64") == ThroughputCase("merged", "float32", 64)
    assert ThroughputCase("base", "float32", 1).adapter_only
    assert not ThroughputCase("shipped", "float32", 1).adapter_only


def test_cuda_adds_half_precision_dtypes():
    cases = throughput.cases([32], "cuda:0")

    assert {c.dtype for c in cases} == {"float32", "float16", "bfloat16"}
    assert len(cases) == 9


# ---- the merged/base check -------------------------------------------------------------------


def test_merged_ratio_passes_at_the_minimum_and_fails_below_with_the_numbers():
    ok = MergedRatio("float32", 16, base=700.0, merged=665.0)  # 0.95
    slow = MergedRatio("float32", 64, base=800.0, merged=560.0)  # 0.70

    assert check_merged_ratio("ckpt", [ok], 0.95, rounds=5, sentences=512, device="cpu") is None
    message = check_merged_ratio("ckpt", [ok, slow], 0.95, rounds=5, sentences=512, device="cpu")

    assert message is not None
    assert message.startswith(
        "ckpt: the merged model encodes slower than 0.95x the base (best of 5 rounds over 512 "
        "sentences on cpu):"
    )
    assert "float32 batch 64: merged 560 sent/s vs base 800 sent/s = 0.700x" in message
    assert "batch 16" not in message


def test_a_first_miss_that_the_re_measurement_clears_passes_and_both_are_kept():
    noisy = MergedRatio("float32", 16, base=700.0, merged=600.0, remeasured=0.99)
    still_slow = MergedRatio("float32", 64, base=700.0, merged=600.0, remeasured=0.80)

    assert noisy.ratio == 0.99 and noisy.to_dict(0.95)["first_ratio"] == pytest.approx(0.8571)
    assert check_merged_ratio("c", [noisy], 0.95, rounds=3, sentences=10, device="cpu") is None
    message = check_merged_ratio("c", [still_slow], 0.95, rounds=3, sentences=10, device="cpu")
    assert "= 0.857x, re-measured interleaved 0.800x" in message


def test_interleaved_timing_alternates_after_one_warmup_each():
    calls = []
    functions = {"base": lambda: calls.append("b"), "merged": lambda: calls.append("m")}

    seconds = interleaved_seconds(functions, rounds=3)

    assert calls == ["b", "m"] + ["b", "m"] * 3
    assert {name: len(s) for name, s in seconds.items()} == {"base": 3, "merged": 3}


def test_peak_memory_on_the_cpu_is_the_peak_rss():
    with PeakMemory("cpu") as peak:
        block = bytearray(64 << 20)  # 64 MiB, touched
        block[::4096] = b"x" * len(block[::4096])

    assert peak.bytes >= 64 << 20
    assert "RSS" in peak.kind


# ---- timing with fake encodes ----------------------------------------------------------------


class FakeClock:
    """perf_counter for harness.throughput.measure: advanced only by the fake encodes."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


class FakeEncode:
    """A CorpusEncode that takes `seconds` of the fake clock per call and logs its calls; after
    `oom_after` calls it runs at half its batch size (as an out-of-memory halving does)."""

    def __init__(self, name, seconds, log, clock=None, *, sentences=100, batch=16, oom_after=None):
        self.name, self.seconds, self.log, self.clock = name, seconds, log, clock
        self.sentences, self.batch_size, self.oom_after = sentences, batch, oom_after

    def __call__(self) -> None:
        self.log.append(self.name)
        if self.clock is not None:
            self.clock.now += self.seconds
        if self.oom_after is not None and self.log.count(self.name) > self.oom_after:
            self.batch_size = max(1, self.batch_size // 2)


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(throughput, "time", SimpleNamespace(perf_counter=fake.perf_counter))
    return fake


def test_a_case_is_timed_by_the_timer_it_is_given_with_peak_memory_and_the_batch_in_use():
    calls = []
    encode = FakeEncode("shipped", 0.0, calls, sentences=64, batch=16, oom_after=1)

    def timer(function, rounds):  # as pytest-benchmark: one warmup, then the rounds
        for _ in range(rounds + 1):
            function()
        return [0.5, 0.25, 0.4][:rounds]

    run = measure_case(
        encode, ThroughputCase("shipped", "float32", 16), rounds=3, device="cpu", timer=timer
    )

    assert calls == ["shipped"] * 4
    assert run.seconds == [0.5, 0.25, 0.4] and run.sentences_per_second == 64 / 0.25
    assert (run.batch_size, run.effective_batch_size) == (16, 2)  # halved on calls 2, 3, 4
    assert run.peak_memory_bytes > 0 and "RSS" in run.peak_memory
    assert run.timed_by == "pytest-benchmark"
    untimed = measure_case(
        encode, ThroughputCase("shipped", "float32", 16), rounds=3, device="cpu",
        timer=lambda function, rounds: function(),
    )  # fmt: skip
    assert untimed is None  # pytest-benchmark disabled: nothing timed, nothing recorded


def test_without_a_timer_a_case_is_warmed_up_once_then_timed_per_round(clock):
    calls = []
    encode = FakeEncode("base", 0.5, calls, clock, sentences=100)

    run = measure_case(encode, ThroughputCase("base", "float32", 16), rounds=4, device="cpu")

    assert calls == ["base"] * 5
    assert run.seconds == [0.5] * 4 and run.sentences_per_second == 200.0


def fake_base_and_merged(clock, log, asked, merged_seconds):
    """base_and_merged for measure_merged_ratios: base takes 1 s per encode, merged
    `merged_seconds[batch]`; records each (dtype, batch size) asked for in `asked`."""

    def base_and_merged(dtype, batch):
        asked.append((dtype, batch))
        return {
            "base": FakeEncode(f"base{batch}", 1.0, log, clock, sentences=100, batch=batch),
            "merged": FakeEncode(
                f"merged{batch}", merged_seconds[batch], log, clock, sentences=100, batch=batch
            ),
        }

    return base_and_merged


def test_a_ratio_below_the_minimum_is_re_measured_interleaved_and_both_are_kept(clock):
    spec = ThroughputSpec(batch_sizes=(16,), min_merged_ratio=0.95, rounds=3)
    benchmarked = {
        ("base", "float32", 16): ThroughputRun("base", "float32", 16, 100, [1.0, 1.1]),
        ("merged", "float32", 16): ThroughputRun("merged", "float32", 16, 100, [2.0, 2.2]),
    }  # a noisy neighbour made merged look half as fast
    log, asked = [], []

    ratios, timed = measure_merged_ratios(
        benchmarked, fake_base_and_merged(clock, log, asked, {16: 1.0}), spec, "cpu"
    )

    assert asked == [("float32", 16)]
    assert log == ["base16", "merged16"] * 4  # one warmup each, then 3 rounds, alternating
    [ratio] = ratios
    assert ratio.first == 0.5 and ratio.remeasured == 1.0 and ratio.ratio == 1.0
    assert timed == []  # the re-measurement is a ratio, not a benchmark's run
    assert check_merged_ratio("c", ratios, 0.95, rounds=3, sentences=100, device="cpu") is None


def test_a_ratio_whose_benchmarks_did_not_run_is_timed_here_once(clock):
    spec = ThroughputSpec(batch_sizes=(16, 64), min_merged_ratio=0.95, rounds=2)
    benchmarked = {
        ("base", "float32", 16): ThroughputRun("base", "float32", 16, 100, [1.0]),
        ("merged", "float32", 16): ThroughputRun("merged", "float32", 16, 100, [1.0]),
    }  # batch 64 deselected (or --benchmark-disable)
    log, asked = [], []

    ratios, timed = measure_merged_ratios(
        benchmarked, fake_base_and_merged(clock, log, asked, {64: 1.25}), spec, "cpu"
    )

    assert asked == [("float32", 64)]  # timed here, and a miss timed here is not timed again
    assert log == ["base64", "merged64"] * 3
    assert [(r.batch_size, r.first, r.remeasured) for r in ratios] == [
        (16, 1.0, None),
        (64, 0.8, None),
    ]
    assert [(r.key, r.seconds, r.timed_by) for r in timed] == [
        (("base", "float32", 64), [1.0, 1.0], INTERLEAVED),
        (("merged", "float32", 64), [1.25, 1.25], INTERLEAVED),
    ]
    assert timed[0].peak_memory.endswith(", base and merged together")
    message = check_merged_ratio("c", ratios, 0.95, rounds=2, sentences=100, device="cpu")
    assert "float32 batch 64: merged 80 sent/s vs base 100 sent/s = 0.800x" in message


def test_models_per_mode_are_asked_for_on_first_use_and_float32_is_the_model_itself():
    asked = []
    shipped = object()
    variants = ModelVariants(
        {"shipped": lambda: asked.append("shipped") or shipped, "merged": lambda: 1 / 0}
    )

    assert asked == []  # a full model never merges: "merged" is never asked for
    assert variants.model("shipped", "float32") is shipped and asked == ["shipped"]


def test_the_corpus_is_the_probe_sentences_cycled_to_its_size(tmp_path):
    probe = tmp_path / "probe.txt"
    probe.write_text("one\ntwo\nthree\n", encoding="utf-8")

    corpus = Corpus.read(ThroughputSpec(corpus_size=7), probe)

    assert corpus.path == probe
    assert corpus.texts == ("one", "two", "three", "one", "two", "three", "one")
    record = CheckpointThroughput.of("c", corpus, ThroughputSpec(min_merged_ratio=0.9), "cpu", None)
    assert (record.sentences, record.distinct_sentences, record.min_merged_ratio) == (7, 3, 0.9)
    own = tmp_path / "corpus.txt"
    own.write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="the throughput corpus has no sentences"):
        Corpus.read(ThroughputSpec(corpus_path=own), probe)
    with pytest.raises(ConfigError, match="the throughput corpus does not exist"):
        Corpus.read(ThroughputSpec(), tmp_path / "missing.txt")


def test_the_pytest_benchmark_timer_is_pedantic_with_one_warmup_and_none_when_disabled():
    from harness.pytest_plugin.throughput import pytest_benchmark_timer

    class Benchmark:
        def __init__(self, enabled):
            self.enabled, self.stats, self.calls = enabled, None, []

        def pedantic(self, target, **options):
            self.calls.append(options)
            target()
            if self.enabled:
                self.stats = SimpleNamespace(stats=SimpleNamespace(data=[0.3, 0.2]))

    enabled, disabled = Benchmark(True), Benchmark(False)
    ran = []

    assert pytest_benchmark_timer(enabled)(lambda: ran.append(1), 5) == [0.3, 0.2]
    assert pytest_benchmark_timer(disabled)(lambda: ran.append(1), 5) is None
    assert enabled.calls == [{"rounds": 5, "iterations": 1, "warmup_rounds": 1}]
    assert ran == [1, 1]


def test_measuring_throughput_on_the_cpu_never_imports_torch():
    code = (
        "import sys\n"
        "import harness.pytest_plugin.throughput, harness.pytest_plugin.benchmarks\n"
        "from harness.throughput.measure import ThroughputCase, measure_case\n"
        "from harness.throughput.variants import ModelEncode, ModelVariants\n"
        "class Encode:\n"
        "    sentences, batch_size = 10, 4\n"
        "    def __call__(self): pass\n"
        "run = measure_case(Encode(), ThroughputCase('base', 'float32', 4), rounds=2, "
        "device='cpu')\n"
        "assert run.peak_memory_bytes > 0\n"
        "heavy = [m for m in ('torch', 'peft', 'sentence_transformers', 'transformers') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr


# ---- records, results and the leaderboard ----------------------------------------------------


def record(
    name: str, speeds: dict[tuple[str, int], float], base: str | None
) -> CheckpointThroughput:
    """A checkpoint's record with one run per (mode, batch size) at `speeds` sentences/s."""
    result = CheckpointThroughput(name, "cpu", "/probe.txt", 512, 64, base=base)
    for (mode, batch), sps in speeds.items():
        run = ThroughputRun(mode, "float32", batch, 512, [512 / sps, 512 / sps * 1.1], 10 << 20)
        result.runs[run.key] = run
    for batch in sorted({b for _, b in speeds}):
        if ("base", batch) in speeds and ("merged", batch) in speeds:
            result.ratios.append(
                MergedRatio("float32", batch, speeds[("base", batch)], speeds[("merged", batch)])
            )
    return result


SPEEDS = {
    ("base", 16): 650.0, ("merged", 16): 640.0, ("shipped", 16): 530.0,
    ("base", 64): 870.0, ("merged", 64): 850.0, ("shipped", 64): 720.0,
}  # fmt: skip


def test_leaderboard_sent_per_second_is_float32_at_the_largest_batch_size():
    records = {
        "cand-a": record("cand-a", SPEEDS, base="baseline/all-MiniLM-L6-v2"),
        "full": record("full", {("shipped", 64): 900.0}, base=None),
    }

    speeds = throughput.sentences_per_second_by_model(records)

    assert speeds == {
        "cand-a": pytest.approx(720.0),
        "all-MiniLM-L6-v2": pytest.approx(870.0),
        "full": pytest.approx(900.0),
    }


def results_with_throughput() -> dict:
    results, _ = build(
        candidates={"minilm-stsb-lora-r16-v3": 0.9, "minilm-hardneg-lora": 0.7},
        baselines={"all-MiniLM-L6-v2": 0.5},
        datasets={"it_incidents": "both", "stsb_reference": GRADED},
    )
    for checkpoint in results["checkpoints"]:
        block = record(checkpoint["name"], SPEEDS, base="baseline/all-MiniLM-L6-v2")
        checkpoint["throughput"] = block.to_dict()
    for evaluation in results["evaluations"]:
        evaluation["throughput"] = 870.0 if evaluation["role"] == "baseline" else 12345.6
    return results


def test_text_leaderboard_shows_sent_per_second_and_a_throughput_table_within_100_columns():
    results = results_with_throughput()

    text = render_text(results)

    assert max(len(line) for line in text.splitlines()) <= 100
    header = next(line for line in text.splitlines() if line.startswith("#  model"))
    assert header.endswith("sent/s")
    assert re.search(r"minilm-stsb-lora-r16-v3 .* 12346$", text, re.M)
    assert "throughput (sentences/s, best of 2 rounds over 512 sentences; cpu)" in text
    assert re.search(r"^minilm-hardneg-lora\s+float32\s+64\s+870\s+720\s+850\s+0\.98x$", text, re.M)


def test_markdown_leaderboard_has_the_throughput_table():
    results = results_with_throughput()

    markdown = render_markdown(results)

    assert "## Throughput (sentences/s, best of 2 rounds over 512 sentences; cpu)" in markdown
    assert "| checkpoint | dtype | batch | base | shipped | merged | merged/base |" in markdown
    assert "| minilm-stsb-lora-r16-v3 | float32 | 16 | 650 | 530 | 640 | 0.98x |" in markdown
    assert len(throughput_rows(results)) == 4


def test_checkpoint_record_to_dict_orders_runs_and_reports_memory():
    block = record("c", SPEEDS, base="baseline/b").to_dict()

    assert [(r["mode"], r["batch_size"]) for r in block["runs"]] == [
        ("base", 16), ("shipped", 16), ("merged", 16),
        ("base", 64), ("shipped", 64), ("merged", 64),
    ]  # fmt: skip
    run = block["runs"][0]
    assert run["sentences_per_second"] == pytest.approx(650.0, abs=0.1)
    assert run["rounds"] == 2 and run["peak_memory_bytes"] == 10 << 20
    assert block["merged_vs_base"][1]["ratio"] == pytest.approx(850 / 870, abs=1e-4)
    assert block["merged_vs_base"][1]["passed"] is True


# ---- gate.toml [throughput] ------------------------------------------------------------------


def test_repository_gate_toml_has_the_throughput_table():
    spec = load_config(REPO / "gate.toml").throughput

    assert spec.batch_sizes == (16, 64)
    assert spec.min_merged_ratio == 0.95
    assert spec.corpus_path is None  # the probe sentences
    assert spec.corpus_size == 512 and spec.rounds == 5


@pytest.mark.parametrize(
    ("pattern", "replacement", "expected"),
    [
        (
            r"^batch_sizes = .*",
            "batch_sizes = []",
            "must be distinct whole numbers from 1 to 65536",
        ),
        (r"^batch_sizes = .*", "batch_sizes = [16, 16]", "must be distinct whole numbers"),
        (r"^batch_sizes = .*", "batch_sizes = [0]", "must be distinct whole numbers"),
        (r"^batch_sizes = .*", 'batch_sizes = ["16"]', "must be distinct whole numbers"),
        (r"^min_merged_ratio = .*", "min_merged_ratio = -1", "min_merged_ratio = -1 is outside"),
        (r"^rounds = .*", "rounds = 0", "rounds = 0 is outside its range"),
        (
            r"^rounds = .*",
            "round = 3",
            "unknown key 'round' in [throughput]\n  fix: did you mean 'rounds'?",
        ),
    ],
)
def test_bad_throughput_settings_are_errors(tmp_path, pattern, replacement, expected):
    text = (REPO / "gate.toml").read_text(encoding="utf-8")
    text, count = re.subn(pattern, replacement, text, flags=re.M)
    assert count == 1
    path = tmp_path / "gate.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert expected in str(caught.value)
    assert "\n  fix: " in str(caught.value)
