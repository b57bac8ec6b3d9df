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
from harness.pytest_plugin.throughput import CandidateThroughput
from harness.throughput.measure import ThroughputCase, cases

pytestmark = [pytest.mark.gpu, pytest.mark.benchmark]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "throughput_case" not in metafunc.fixturenames:
        return
    try:
        session = gate(metafunc.config)
        table = cases(session.config.throughput.batch_sizes, session.device)
    except GateInputError:  # every gate test fails with the input's message (the plugin)
        metafunc.parametrize("throughput_case", ["-"], ids=["-"])
        return
    metafunc.parametrize(
        "throughput_case",
        [
            pytest.param(case.id, id=case.id, marks=[pytest.mark.adapter_only] * case.adapter_only)
            for case in table
        ],
    )


@pytest.fixture(scope="session")
def candidate_throughput(candidate, gate_session):
    """The candidate's throughput measurement; its converted copies leave with the candidate."""
    measurement = CandidateThroughput(gate_session, candidate)
    yield measurement
    measurement.release()


def test_encode_throughput(benchmark, candidate_throughput, throughput_case):
    candidate_throughput.time_case(benchmark, ThroughputCase.parse(throughput_case))


@pytest.mark.adapter_only
def test_merged_throughput_ratio(candidate_throughput):
    passes(candidate_throughput.check_merged_ratio())
