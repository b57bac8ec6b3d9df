"""The throughput benchmarks in a real gate run (pytester, in-process, tiny rounds), and
residency: one candidate in memory at a time, the baseline loaded once.

The projects hold part of the battery (and the runs select part of that), so a checkpoint
whose checks all pass is INCOMPLETE and the run exits 1: `--benchmark-only` or
`-m "gpu and benchmark"` never promotes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from factories import copy_checkpoint
from paths import REPO

pytestmark = pytest.mark.slow

EXAMPLE_ADAPTER = REPO / "models" / "minilm-stsb-lora"
TINY = """
[throughput]
batch_sizes = [8]
min_merged_ratio = {ratio}
corpus_size = 32
rounds = 2
"""


def with_throughput_tests(gate_project, min_merged_ratio: float) -> None:
    """Add the real throughput tests to the project, with tiny rounds."""
    gate_project.include("test_throughput.py")
    toml = gate_project.path / "gate.toml"
    text = toml.read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^\[throughput\]\n.*?(?=^\[|\Z)", "", text)  # drop the repository's table
    toml.write_text(text + TINY.format(ratio=min_merged_ratio), encoding="utf-8")


def slower_stored_runs(storage: Path, factor: float) -> None:
    """Make every stored benchmark `factor` times faster than it was (so now is a regression)."""
    for path in storage.rglob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        for bench in data["benchmarks"]:
            for key in ("min", "max", "mean", "median"):
                bench["stats"][key] *= factor
        path.write_text(json.dumps(data), encoding="utf-8")


def test_benchmarks_write_json_gate_the_ratio_and_catch_a_stored_regression(gate_project):
    with_throughput_tests(gate_project, min_merged_ratio=0.5)
    storage = gate_project.path / "bench-store"
    bench_json = gate_project.path / "bench.json"
    common = ["-m", "gpu and benchmark", f"--benchmark-storage=file://{storage}"]

    run = gate_project.run(
        EXAMPLE_ADAPTER,
        args=[*common, f"--benchmark-json={bench_json}", "--benchmark-autosave"],
    )

    assert run.ret == 1, "the benchmarks alone are INCOMPLETE"
    run.result.assert_outcomes(passed=4)  # 3 benchmarks (base, merged, shipped) + the ratio
    benchmarks = json.loads(bench_json.read_text(encoding="utf-8"))["benchmarks"]
    assert sorted(b["extra_info"]["mode"] for b in benchmarks) == ["base", "merged", "shipped"]
    for bench in benchmarks:
        assert bench["stats"]["rounds"] == 2
        info = bench["extra_info"]
        assert info["sentences"] == 32 and info["batch_size"] == 8 and info["dtype"] == "float32"
        assert info["peak_memory_bytes"] > 0 and "RSS" in info["peak_memory"]
        assert info["sentences_per_second"] > 0
    results = gate_project.results()
    block = results["checkpoints"][0]["throughput"]
    assert [r["mode"] for r in block["runs"]] == ["base", "shipped", "merged"]
    assert block["merged_vs_base"][0]["passed"] is True
    summary = run.summary()
    assert "throughput (sentences/s, best of 2 rounds over 32 sentences; cpu)" in summary
    assert re.search(r"^minilm-stsb-lora\s+float32\s+8\s+\d+\s+\d+\s+\d+\s+[\d.]+x$", summary, re.M)
    assert "INCOMPLETE minilm-stsb-lora: " in summary

    # Again, with a merged/base minimum no model meets, against a stored run 100x faster.
    with_throughput_tests(gate_project, min_merged_ratio=9)
    slower_stored_runs(storage, 0.01)
    run = gate_project.run(
        EXAMPLE_ADAPTER,
        args=[*common, "--benchmark-compare", "--benchmark-compare-fail=min:10%"],
    )

    assert run.ret == pytest.ExitCode.TESTS_FAILED, run.text
    assert run.outcomes("minilm-stsb-lora")["test_merged_throughput_ratio"] == "FAILED"
    message = run.section("test_merged_throughput_ratio", "minilm-stsb-lora")
    assert "the merged model encodes slower than 9x the base" in message
    assert re.search(r"float32 batch 8: merged \d+ sent/s vs base \d+ sent/s = [\d.]+x", message)
    assert "re-measured interleaved" in message
    summary = " ".join(run.summary().split())
    assert "REJECT minilm-stsb-lora" in summary
    results = gate_project.results()
    checks = {c["check"]: c for c in results["checkpoints"][0]["checks"]}
    regression = checks["throughput_vs_stored_run"]
    assert regression["outcome"] == "failed"
    assert "encode throughput regressed against the stored benchmark run" in regression["message"]
    assert len(results["checkpoints"][0]["throughput"]["regressions"]) == 3
    assert "PerformanceRegression" not in run.text  # reported by the gate, not a traceback


def test_benchmark_skip_deselects_only_keeps_the_ratio_test_and_disable_times_the_ratio(
    gate_project,
):
    with_throughput_tests(gate_project, min_merged_ratio=0.5)

    listed = gate_project.run(EXAMPLE_ADAPTER, args=["--co", "-q", "--benchmark-skip"])

    assert listed.ret == 0, listed.text
    assert "test_adapter_battery.py::test_adapter_loaded_exactly" in listed.text
    assert "test_throughput_battery.py" not in listed.text
    assert re.search(r"\(4 deselected\)", listed.text)  # 3 benchmarks + the ratio: not skipped

    only = gate_project.run(EXAMPLE_ADAPTER, args=["--benchmark-only"])

    assert only.ret == 1, "the benchmarks alone never promote"
    [row] = gate_project.results()["checkpoints"]
    assert row["verdict"] == "INCOMPLETE" and "adapter_loaded_exactly" in row["missing_checks"]
    outcomes = only.result.parseoutcomes()
    assert outcomes["passed"] == 4 and "skipped" not in outcomes, only.text
    assert outcomes["deselected"] > 0  # the other gate tests
    assert only.outcomes("minilm-stsb-lora")["test_merged_throughput_ratio"] == "PASSED"

    disabled = gate_project.run(
        EXAMPLE_ADAPTER, args=["-m", "gpu and benchmark", "--benchmark-disable"]
    )

    assert disabled.ret == 1, "the benchmarks alone are INCOMPLETE"
    disabled.result.assert_outcomes(passed=4)
    block = gate_project.results()["checkpoints"][0]["throughput"]
    assert [(r["mode"], r["timed_by"]) for r in block["runs"]] == [
        ("base", "ratio test (interleaved)"),
        ("merged", "ratio test (interleaved)"),
    ]  # the benchmarks ran once untimed; the ratio test timed base and merged itself
    assert block["merged_vs_base"][0]["passed"] is True


RESIDENCY_CONFTEST = """
import gc
import json
import weakref

import pytest

pytest_plugins = ["harness.pytest_plugin"]

EVENTS = []
MODELS = []  # (checkpoint, weak reference to one of its models)


def _alive():
    gc.collect()
    return sorted({name for name, ref in MODELS if ref() is not None})


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    value = yield
    if fixturedef.argname == "candidate":
        EVENTS.append(["load", value.checkpoint.name, _alive()])
        MODELS.append((value.checkpoint.name, weakref.ref(value.model)))
    elif fixturedef.argname == "baseline":
        EVENTS.append(["baseline", value.spec.name, []])
    return value


def pytest_fixture_post_finalizer(fixturedef, request):
    if fixturedef.argname == "candidate" and fixturedef.cached_result is not None:
        candidate = fixturedef.cached_result[0]
        if candidate is not None:
            if candidate._merged is not None:
                MODELS.append((candidate.checkpoint.name, weakref.ref(candidate._merged)))
            EVENTS.append(["unload", candidate.checkpoint.name, []])


def pytest_sessionfinish(session):
    EVENTS.append(["end", "", _alive()])
    with open("residency.json", "w", encoding="utf-8") as handle:
        json.dump(EVENTS, handle)
"""


def test_one_candidate_in_memory_at_a_time_and_the_baseline_loaded_once(
    gate_project, good_adapter_template
):
    with_throughput_tests(gate_project, min_merged_ratio=0.1)  # residency, not speed
    (gate_project.path / "conftest.py").write_text(RESIDENCY_CONFTEST, encoding="utf-8")
    names = ["ckpt-a", "ckpt-b", "ckpt-c"]
    checkpoints = [
        copy_checkpoint(good_adapter_template, gate_project.checkpoint_path(n)) for n in names
    ]

    run = gate_project.run(*checkpoints)

    assert run.result.parseoutcomes().get("failed", 0) == 0, run.text  # INCOMPLETE: no quality
    events = json.loads((gate_project.path / "residency.json").read_text(encoding="utf-8"))
    assert [e[:2] for e in events if e[0] == "baseline"] == [["baseline", "all-MiniLM-L6-v2"]]
    order = [e[:2] for e in events if e[0] in ("load", "unload")]
    assert order == [[kind, n] for n in names for kind in ("load", "unload")]
    for kind, name, alive in events:
        if kind in ("load", "end"):
            assert alive == [], f"{alive} still in memory when {kind} {name}"
