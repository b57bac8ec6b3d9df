"""pytest-benchmark's options made coherent with the fail-closed gate.

- `--benchmark-skip` deselects the throughput tests (as `-m "gpu and not benchmark"` does)
  instead of skipping them, which would fail the gate closed;
- `--benchmark-only` deselects the other gate tests and keeps the merged/base ratio test;
- `--benchmark-disable` (and xdist, which implies it) runs each benchmark once untimed; the
  ratio test then times base and merged itself;
- a regression found by `--benchmark-compare-fail` rejects the checkpoint it belongs to
  (check `throughput_vs_stored_run`) and fails the run, instead of a traceback at the end.

Through pytest-benchmark's options and hooks, except its list of regressions (see
`_performance_regressions`), for which it has no public interface.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.pytest_plugin.session import started_gate
from harness.run.outcomes import CheckOutcome
from harness.throughput.measure import REGRESSION_CHECK

#: per benchmark name as --benchmark-compare-fail reports it, the checkpoints it may belong to
COMPARED_CHECKPOINTS = pytest.StashKey[dict[str, set[str]]]()


def _is_gate_item(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "checkpoint" in callspec.params


def _benchmark_selection(config: pytest.Config) -> tuple[bool, bool]:
    """(--benchmark-skip, --benchmark-only) as pytest-benchmark applies them: only wins."""
    only = bool(config.getoption("benchmark_only", False))
    return bool(config.getoption("benchmark_skip", False)) and not only, only


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own hook has marked skips
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--benchmark-skip / --benchmark-only select gate tests rather than skip them."""
    skip, only = _benchmark_selection(config)
    if not (skip or only):
        return
    kept, dropped = [], []
    for item in items:
        throughput = item.get_closest_marker("benchmark") is not None
        if _is_gate_item(item) and throughput == skip:
            dropped.append(item)
            continue
        if _is_gate_item(item) and only:  # pytest-benchmark skips tests without its fixture:
            item.own_markers[:] = [  # the ratio test is a throughput test all the same
                m
                for m in item.own_markers
                if not (m.name == "skip" and "--benchmark-only" in str(m.kwargs.get("reason")))
            ]
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.hookimpl(wrapper=True, optionalhook=True)
def pytest_benchmark_group_stats(
    config: pytest.Config, benchmarks: list[dict[str, Any]], group_by: str
) -> Any:
    """Note which checkpoint each benchmark compared with a stored run belongs to, under the
    name --benchmark-compare-fail reports a regression by (this hook gets every benchmark,
    compared ones with the stored `source`, after the comparison and before the report)."""
    from pytest_benchmark.utils import NAME_FORMATTERS

    name_format = NAME_FORMATTERS[config.getoption("benchmark_name")]
    compared: dict[str, set[str]] = {}
    for bench in benchmarks:
        checkpoint = (bench.get("extra_info") or {}).get("checkpoint")
        if checkpoint and bench.get("path"):
            compared.setdefault(name_format(bench), set()).add(checkpoint)
    config.stash[COMPARED_CHECKPOINTS] = compared
    return (yield)


def _performance_regressions(config: pytest.Config) -> list[tuple[str, str]]:
    """pytest-benchmark's own list of (benchmark name, failure) from --benchmark-compare-fail.

    No public interface reports or vetoes a regression: pytest-benchmark raises
    PerformanceRegression in its terminal summary for each entry left in this list.
    """
    benchmark_session = config.pluginmanager.get_plugin("pytest-benchmark")
    return [] if benchmark_session is None else benchmark_session.performance_regressions


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Turn --benchmark-compare-fail regressions of gate benchmarks into a failed check.

    Runs after pytest-benchmark compared the runs (in its sessionfinish wrapper) and before
    the gate writes its report (trylast), so the verdicts and results.json carry them.
    """
    regressions = _performance_regressions(session.config)
    if not regressions:
        return
    gate_session = started_gate(session.config)
    if gate_session is None:
        return
    compared = session.config.stash.get(COMPARED_CHECKPOINTS, {})
    by_checkpoint: dict[str, list[str]] = {}
    remaining = []
    for name, failure in regressions:
        checkpoints = compared.get(name, set())
        if len(checkpoints) != 1:  # not a gate benchmark, or a name that does not tell which
            remaining.append((name, failure))
            continue
        by_checkpoint.setdefault(next(iter(checkpoints)), []).append(f"{name}: {failure}")
    for checkpoint, lines in by_checkpoint.items():
        message = (
            f"{checkpoint}: encode throughput regressed against the stored benchmark run "
            "(--benchmark-compare-fail):\n" + "\n".join(f"  {line}" for line in lines)
        )
        gate_session.outcomes.record(
            f"{REGRESSION_CHECK}::{checkpoint}",
            CheckOutcome(checkpoint, REGRESSION_CHECK, "failed", message),
        )
        if checkpoint in gate_session.findings.throughput:
            gate_session.findings.throughput[checkpoint].regressions = lines
    if by_checkpoint:
        regressions[:] = remaining  # reported by the gate instead
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
