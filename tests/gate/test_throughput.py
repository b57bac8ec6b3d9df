"""Encode throughput, per checkpoint: base, shipped (adapter unmerged) and merged.

Each case (mode, dtype, batch size of `[throughput] batch_sizes`; float32 everywhere, float16
and bfloat16 on CUDA) is one pytest-benchmark benchmark: one warmup round, then `rounds`
rounds that each encode the fixed corpus once. The merged model's throughput must be at
least `min_merged_ratio` of the base's, as a ratio of this run's best rounds.

    pytest -m "gpu and benchmark" --benchmark-json=bench.json   # just these
    pytest -m "gpu and not benchmark"                           # the gate without them
"""

import pytest

from harness.errors import GateInputError
from harness.pytest_plugin import gate, passes
from harness.throughput import measure as throughput

pytestmark = [pytest.mark.gpu, pytest.mark.benchmark]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "throughput_case" not in metafunc.fixturenames:
        return
    try:
        session = gate(metafunc.config)
        cases = throughput.cases(session.config.throughput.batch_sizes, session.device)
    except GateInputError:  # every gate test fails with the input's message (the plugin)
        metafunc.parametrize("throughput_case", ["-"], ids=["-"])
        return
    metafunc.parametrize(
        "throughput_case",
        [
            pytest.param(case.id, id=case.id, marks=[pytest.mark.adapter_only] * case.adapter_only)
            for case in cases
        ],
    )


@pytest.fixture(scope="session")
def throughput_models(candidate, gate_session):
    """The candidate's models per mode and dtype; converted copies leave with the candidate."""
    variants = throughput.ModelVariants(gate_session, candidate)
    yield variants
    variants.release()


def test_encode_throughput(benchmark, candidate, gate_session, throughput_models, throughput_case):
    case = throughput.ThroughputCase.parse(throughput_case)
    throughput.run_benchmark(benchmark, gate_session, candidate, throughput_models, case)


@pytest.mark.adapter_only
def test_merged_throughput_ratio(candidate, gate_session, throughput_models):
    ratios = throughput.measure_merged_ratios(gate_session, candidate, throughput_models)
    spec = gate_session.config.throughput
    passes(
        throughput.check_merged_ratio(
            candidate.checkpoint.name,
            ratios,
            spec.min_merged_ratio,
            rounds=spec.rounds,
            sentences=spec.corpus_size,
            device=gate_session.device,
        )
    )
