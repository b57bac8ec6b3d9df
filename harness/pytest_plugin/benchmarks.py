"""pytest-benchmark's options made coherent with the fail-closed gate.

- `--benchmark-skip` deselects the throughput tests (as `-m "gpu and not benchmark"` does)
  instead of skipping them, which would fail the gate closed;
- `--benchmark-only` deselects the other gate tests and keeps the merged/base ratio test;
- `--benchmark-disable` (and xdist, which implies it) runs each benchmark once untimed; the
  ratio test then times base and merged itself;
- a regression found by `--benchmark-compare-fail` rejects the checkpoint it belongs to
  (check `throughput_vs_stored_run`) and fails the run, instead of a traceback at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.pytest_plugin.session import started_gate
from harness.run.outcomes import CheckOutcome
from harness.throughput.measure import REGRESSION_CHECK


def _is_gate_item(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "checkpoint" in callspec.params


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own hook has marked skips
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--benchmark-skip / --benchmark-only select gate tests rather than skip them."""
    bench = getattr(config, "_benchmarksession", None)
    if bench is None or not (bench.skip or bench.only):
        return
    kept, dropped = [], []
    for item in items:
        throughput = item.get_closest_marker("benchmark") is not None
        if _is_gate_item(item) and throughput == bool(bench.skip):
            dropped.append(item)
            continue
        if _is_gate_item(item) and bench.only:  # pytest-benchmark skips tests without its
            item.own_markers[:] = [  # fixture: the ratio test is a throughput test all the same
                m
                for m in item.own_markers
                if not (m.name == "skip" and "--benchmark-only" in str(m.kwargs.get("reason")))
            ]
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Turn --benchmark-compare-fail regressions of gate benchmarks into a failed check.

    Runs after pytest-benchmark compared the runs (in its sessionfinish wrapper) and before
    the gate writes its report (trylast), so the verdicts and results.json carry them.
    """
    bench = getattr(session.config, "_benchmarksession", None)
    if bench is None or not bench.performance_regressions:
        return
    gate_session = started_gate(session.config)
    if gate_session is None:
        return
    attributed: dict[tuple[str, str], str] = {}  # (name as reported, failure) -> checkpoint
    for result in bench.benchmarks:
        checkpoint = (getattr(result, "extra_info", None) or {}).get("checkpoint")
        if not checkpoint:
            continue
        for path, mapping in bench.compared_mapping.items():
            compared = mapping.get(result.fullname)
            if not compared:
                continue
            flat = result.as_dict(
                include_data=False,
                stats=False,
                cprofile=(bench.cprofile_sort_by, bench.cprofile_top),
            )
            flat.update(compared["stats"])
            flat["path"] = str(path)
            flat["source"] = _short_source(path, bench)
            for check in bench.compare_fail:
                failure = check.fails(result, flat)
                if failure:
                    attributed[(bench.name_format(flat), failure)] = checkpoint
    by_checkpoint: dict[str, list[str]] = {}
    for (name, failure), checkpoint in attributed.items():
        by_checkpoint.setdefault(checkpoint, []).append(f"{name}: {failure}")
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
    remaining = [r for r in bench.performance_regressions if tuple(r) not in attributed]
    if len(remaining) < len(bench.performance_regressions):
        bench.performance_regressions[:] = remaining  # reported by the gate instead
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _short_source(path: str | Path, bench: Any) -> str:
    from pytest_benchmark.utils import short_filename

    return short_filename(path, bench.machine_id)
