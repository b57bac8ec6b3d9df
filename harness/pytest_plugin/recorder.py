"""GateRecorder: gate tests' outcomes from their reports, the report folder, the summary."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from harness.errors import GateInputError
from harness.pytest_plugin.collection import EMPTY_SHARD, UNUSABLE
from harness.pytest_plugin.session import gate, started_gate
from harness.pytest_plugin.xdist import XdistController, partials_dir, worker_id
from harness.report.document import build_results, score_arrays
from harness.report.folder import write_data, write_report
from harness.report.terminal import render_summary
from harness.run.outcomes import CheckOutcome
from harness.run.verdicts import ERROR, FAILED, PASSED, SKIPPED
from harness.runs.combine import combine_runs
from harness.runs.promotion import promote, staging_dir


class GateRecorder:
    """Collects gate tests' outcomes from their reports (on the xdist controller too)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.gate_tests_run = 0  # gate tests (marker gpu) that started, gating a checkpoint or not
        self.results: dict | None = None  # results.json of the finished run
        self.report_path: Path | None = None
        self.promoted: list[str] = []
        self.merge_error: str | None = None  # why the workers' reports could not be merged

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if item.get_closest_marker("gpu"):  # the marker: a keyword could be a parameter id
            self.gate_tests_run += 1

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        check = cast(tuple[str, str] | None, dict(report.user_properties).get("gate_check"))
        if not check:
            return
        if report.skipped:
            outcome = SKIPPED
        elif report.failed:
            outcome = FAILED if report.when == "call" else ERROR
        elif report.when == "call":
            outcome = PASSED
        else:
            return
        message = "" if outcome == PASSED else _message(report)
        gate(self.config).outcomes.record(
            report.nodeid, CheckOutcome(check[0], check[1], outcome, message)
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Write the report folder; fail closed if a gate test was skipped or errored, a gating
        data set could not be read, a check of a checkpoint's battery did not run, or nothing
        was gated at all. A shard that hashing left empty gates nothing and passes: its report
        (no checkpoint, the shard and every checkpoint discovered) lets combining the shards
        see that it ran."""
        gate_session = started_gate(self.config)
        worker = worker_id(self.config)  # a worker gates a share; the controller, all
        controller = self.config.pluginmanager.get_plugin("release-gate-xdist")
        empty_shard = worker is None and _is_empty_shard(self.config, controller)
        if empty_shard:
            gate_session = gate(self.config)
            if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
                session.exitstatus = pytest.ExitCode.OK  # its gate tests were deselected
        elif gate_session is None or not gate_session.outcomes:
            if self.gate_tests_run and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED  # gated nothing: never a pass
            return
        finished = datetime.now(UTC)
        if worker is not None:  # a worker's share, combined by the controller
            context = gate_session.context()
            results = build_results(
                context,
                gate_session.findings,
                gate_session.outcomes,
                finished=finished,
                gated_only=True,
            )
            write_data(
                results,
                score_arrays(context, gate_session.findings),
                partials_dir(self.config) / worker,
            )
            _fail_if_incomplete(session, results)
            return
        if controller is not None and not empty_shard:
            try:
                results, arrays = combine_runs(controller.worker_reports(), split_checkpoints=True)
            except GateInputError as exc:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
                self.merge_error = f"the workers' reports could not be merged: {exc}"
                return
        else:
            context = gate_session.context()
            results = build_results(
                context, gate_session.findings, gate_session.outcomes, finished=finished
            )
            arrays = score_arrays(context, gate_session.findings)
        _fail_if_incomplete(session, results)
        self.results = results
        self.report_path = write_report(
            results, arrays, gate_session.config.report_dir, when=finished
        )
        if gate_session.promote_to is not None:
            self.promoted = promote(
                results, staging_dir(gate_session.promote_to), gate_session.promote_to
            )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        gate_session = started_gate(self.config)
        if self.results is None or gate_session is None:
            if self.merge_error:
                terminalreporter.write_sep("=", "release gate")
                terminalreporter.write_line(f"FAILED CLOSED: {self.merge_error}")
            elif self.gate_tests_run and (gate_session is None or not gate_session.outcomes):
                terminalreporter.write_sep("=", "release gate")
                terminalreporter.write_line(_nothing_gated(self.config))
            return
        terminalreporter.write_sep("=", "release gate")
        terminalreporter.write_line(render_summary(self.results, str(self.report_path)))
        if gate_session.promote_to is not None:
            names = ", ".join(self.promoted) or "none"
            terminalreporter.write_line(f"promoted to {gate_session.promote_to}: {names}")
        controller = self.config.pluginmanager.get_plugin("release-gate-xdist")
        warning = controller.grouping_warning() if controller is not None else None
        if warning:
            terminalreporter.write_line(warning, yellow=True)


def _is_empty_shard(config: pytest.Config, controller: XdistController | None) -> bool:
    """--shard K/N left shard K no checkpoint (seen at collection, by the workers under xdist)."""
    if controller is not None:
        return controller.empty_shard
    return config.stash.get(EMPTY_SHARD, False)


def _fail_if_incomplete(session: pytest.Session, results: dict) -> None:
    """An incomplete run never exits 0, whatever its tests did."""
    if not results["complete"] and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _nothing_gated(config: pytest.Config) -> str:
    """The summary of a gate run that gated no checkpoint (it fails, and writes no report)."""
    error = config.stash.get(UNUSABLE, None)
    why = f"the release gate cannot run: {error}" if error else "no gate test ran for a checkpoint"
    return f"NOTHING GATED: {why}\nno checkpoint may be promoted on this run; no report was written"


def _message(report: pytest.TestReport) -> str:
    """The part of a failure a reader needs: the check's own message, not the traceback."""
    if report.skipped and isinstance(report.longrepr, tuple):
        return f"skipped: {report.longrepr[2]}"
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).removeprefix("Failed: ")
    return report.longreprtext.strip()
