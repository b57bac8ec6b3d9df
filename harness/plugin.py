"""The release gate's pytest plugin: options, parametrization by checkpoint, fixtures, summary."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar, cast

os.environ["HF_HUB_OFFLINE"] = "1"  # no code path of the gate may reach a model hub
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402

from harness import throughput  # noqa: E402  (its hooks: pytest-benchmark vs fail-closed)
from harness.checkpoints import Checkpoint  # noqa: E402
from harness.config import check_device, load_config  # noqa: E402
from harness.distributed import (  # noqa: E402
    XdistController,
    follow_controller,
    is_controller,
    note_grouping,
    parse_shard,
    partials_dir,
    pytest_cmdline_main,  # noqa: F401  (a hook: -n N distributes by checkpoint)
    worker_id,
)
from harness.encoding import release_memory, trim_heap  # noqa: E402
from harness.errors import GateInputError  # noqa: E402
from harness.loading import LoadedCandidate, load_candidate  # noqa: E402
from harness.merge import merge_runs  # noqa: E402
from harness.promotion import promote, stage, staging_dir  # noqa: E402
from harness.report import write_report  # noqa: E402
from harness.results import build_results  # noqa: E402
from harness.session import CheckOutcome, GateSession, LoadedBaseline  # noqa: E402
from harness.summary import render_summary  # noqa: E402
from harness.tolerances import low_precision_dtypes  # noqa: E402

GATE: pytest.StashKey[_LazyGate] = pytest.StashKey()
CHECK = pytest.StashKey[tuple[str, str]]()  # (checkpoint name, check name) of a gate item
COLLECTED_AT = pytest.StashKey[int]()  # an item's place in collection order (files, definitions)
UNUSABLE = pytest.StashKey[GateInputError]()  # why the gate's input cannot be used, if it cannot
ADAPTER_ONLY = "adapter_only"
T = TypeVar("T")


def _device_option(value: str) -> str:
    try:
        return check_device(value)
    except GateInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("release gate", "release gate for sentence-embedding checkpoints")
    group.addoption(
        "--gate-config",
        default=None,
        metavar="PATH",
        help="gate configuration (default: gate.toml in the rootdir)",
    )
    group.addoption(
        "--checkpoint",
        action="append",
        default=[],
        dest="gate_checkpoints",
        metavar="PATH",
        help="gate only this checkpoint folder (repeatable)",
    )
    group.addoption(
        "--device",
        default=None,
        type=_device_option,
        dest="gate_device",
        help="auto | cpu | cuda | cuda:N (default: gate.toml, else auto)",
    )
    group.addoption(
        "--shard",
        default=None,
        type=parse_shard,
        dest="gate_shard",
        metavar="K/N",
        help="gate only shard K of N (a stable hash of each checkpoint's name)",
    )
    group.addoption(
        "--promote-to",
        default=None,
        metavar="DIR",
        dest="gate_promote_to",
        help="copy each checkpoint that passes every gate test, merged, into DIR/<name>/",
    )
    group.addoption(
        "--report-dir",
        default=None,
        metavar="DIR",
        dest="gate_report_dir",
        help="where reports are written (default: gate.toml's report_dir)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{ADAPTER_ONLY}: a gate check that applies only to adapter checkpoints"
    )
    config.stash[GATE] = _LazyGate(config)
    config.pluginmanager.register(GateRecorder(config), "release-gate-recorder")
    config.pluginmanager.register(_CollectionOrder(), "release-gate-collection-order")
    if is_controller(config):
        config.pluginmanager.register(XdistController(config), "release-gate-xdist")
    follow_controller(config)
    if not config.pluginmanager.is_registered(throughput):
        config.pluginmanager.register(throughput, "release-gate-throughput")
    if config.getoption("gate_device", None) not in (None, "auto"):
        try:  # fail now: --device cuda without a GPU is an error, never a skip
            gate(config)
        except GateInputError as exc:
            raise pytest.UsageError(str(exc)) from None


class _LazyGate:
    """Reads gate.toml on first use, so runs without gate tests never need it."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._session: GateSession | None = None

    def get(self) -> GateSession:
        if self._session is None:
            opts = self._config.option
            path = opts.gate_config or Path(self._config.rootpath) / "gate.toml"
            gate_config = load_config(path)
            if opts.gate_report_dir:
                gate_config = gate_config.replace(report_dir=Path(opts.gate_report_dir).resolve())
            self._session = GateSession(
                config=gate_config,
                requested_device=opts.gate_device or gate_config.device,
                device_source="--device" if opts.gate_device else str(gate_config.source),
                checkpoint_paths=list(opts.gate_checkpoints),
                shard=opts.gate_shard,
                promote_to=Path(opts.gate_promote_to).resolve() if opts.gate_promote_to else None,
                worker=worker_id(self._config),
            )
        return self._session


def passes(message: str | None) -> None:
    """In a gate test: fail with the check's own message (no harness traceback), or pass."""
    if message:
        pytest.fail(message, pytrace=False)


def gate(config: pytest.Config) -> GateSession:
    """The run's GateSession (created on first use); bad input raises GateInputError."""
    session = config.stash[GATE].get()
    session.device  # noqa: B018 - resolve once; a missing GPU is an input error
    return session


@dataclass(frozen=True)
class UnusableInput:
    """Stands in for the checkpoints when the gate's input cannot be used.

    Every gate test then fails with the input's message, so `pytest -m gpu` fails closed
    with a readable reason, while a run that deselects the gate is not disturbed.
    """

    error: GateInputError


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "checkpoint" not in metafunc.fixturenames:
        return
    try:
        session = gate(metafunc.config)
        checkpoints: list[Checkpoint] = session.checkpoints
        names = [spec.name for spec in session.config.datasets if spec.gates]
    except GateInputError as exc:
        metafunc.config.stash[UNUSABLE] = exc
        metafunc.parametrize(
            "checkpoint", [UnusableInput(exc)], ids=["unusable-input"], scope="session"
        )
        if "gate_dataset" in metafunc.fixturenames:
            metafunc.parametrize("gate_dataset", ["-"], ids=["-"])
        if "merge_dtype" in metafunc.fixturenames:
            metafunc.parametrize("merge_dtype", ["-"], ids=["-"])
        return
    if "gate_dataset" in metafunc.fixturenames:
        metafunc.parametrize("gate_dataset", names, ids=names)
    metafunc.parametrize(
        "checkpoint",
        # under xdist (--dist loadgroup, set by -n) each checkpoint's tests go to one worker
        [pytest.param(c, id=c.name, marks=pytest.mark.xdist_group(c.name)) for c in checkpoints],
        scope="session",
    )
    if "merge_dtype" in metafunc.fixturenames:  # after checkpoint: ids read `<checkpoint>-<dtype>`
        metafunc.parametrize("merge_dtype", low_precision_dtypes(session.device))


@pytest.hookimpl(trylast=True)  # after xdist's own, which marks test ids with their group
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop checks that do not apply to a checkpoint's kind, and list them as not applicable."""
    note_grouping(config, items)
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        checkpoint = callspec.params.get("checkpoint") if callspec else None
        if callspec is None or not isinstance(checkpoint, Checkpoint):
            kept.append(item)
            continue
        check = getattr(item, "originalname", item.name).removeprefix("test_")
        params = [str(v) for k, v in callspec.params.items() if k != "checkpoint"]
        if params:  # gate_dataset, throughput_case: one check name per parametrized case
            check = f"{check}[{'-'.join(params)}]"
        if item.get_closest_marker(ADAPTER_ONLY) and not checkpoint.is_adapter:
            gate(config).not_applicable.append(
                (check, checkpoint.name, f"{checkpoint.kind.replace('_', ' ')} has no adapter")
            )
            dropped.append(item)
            continue
        item.stash[CHECK] = (checkpoint.name, check)
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    _order_by_checkpoint(items)


class _CollectionOrder:
    @pytest.hookimpl(tryfirst=True)  # before pytest reorders items by their fixtures
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for index, item in enumerate(items):
            item.stash[COLLECTED_AT] = index


def _order_by_checkpoint(items: list[pytest.Item]) -> None:
    """One candidate in memory at a time: each checkpoint's gate tests run together, in the
    order they were written (so the merged-throughput ratio reads the benchmarks before it).
    Other tests keep their places."""
    slots = [i for i, item in enumerate(items) if CHECK in item.stash]
    collected_at = {i: items[i].stash.get(COLLECTED_AT, i) for i in slots}
    first_seen: dict[str, int] = {}
    for i in slots:
        name = items[i].stash[CHECK][0]
        first_seen[name] = min(first_seen.get(name, collected_at[i]), collected_at[i])
    gated = sorted(slots, key=lambda i: (first_seen[items[i].stash[CHECK][0]], collected_at[i]))
    gated_items = [items[i] for i in gated]
    for slot, item in zip(slots, gated_items, strict=True):
        items[slot] = item


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if CHECK in item.stash:
        report.user_properties.append(("gate_check", item.stash[CHECK]))
    return report


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
            outcome = "skipped"
        elif report.failed:
            outcome = "failed" if report.when == "call" else "error"
        elif report.when == "call":
            outcome = "passed"
        else:
            return
        message = "" if outcome == "passed" else _message(report)
        gate(self.config).record(report.nodeid, CheckOutcome(check[0], check[1], outcome, message))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Write the report folder; fail closed if a gate test was skipped or errored, a gating
        data set could not be read, a checkpoint was not gated, or nothing was gated at all."""
        gate_session = _started_gate(self.config)
        if gate_session is None or not gate_session.outcomes:
            if self.gate_tests_run and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED  # gated nothing: never a pass
            return
        worker = worker_id(self.config)  # a worker gates a share; the controller, all
        if (
            gate_session.incomplete_reasons(gated_only=worker is not None)
            and session.exitstatus == pytest.ExitCode.OK
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        finished = datetime.now(UTC)
        if worker is not None:  # a worker's share, merged by the controller
            results = build_results(
                gate_session, started=gate_session.started, finished=finished, gated_only=True
            )
            write_report(
                results, gate_session.arrays(), partials_dir(self.config) / worker, when=finished
            )
            return
        controller = self.config.pluginmanager.get_plugin("release-gate-xdist")
        if controller is not None:
            try:
                results, arrays = merge_runs(controller.worker_reports(), split_checkpoints=True)
            except GateInputError as exc:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
                self.merge_error = f"the workers' reports could not be merged: {exc}"
                return
        else:
            results = build_results(gate_session, started=gate_session.started, finished=finished)
            arrays = gate_session.arrays()
        self.results = results
        self.report_path = write_report(
            results, arrays, gate_session.config.report_dir, when=finished
        )
        if gate_session.promote_to is not None:
            self.promoted = promote(
                results, staging_dir(gate_session.promote_to), gate_session.promote_to
            )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        gate_session = _started_gate(self.config)
        if gate_session is None or not gate_session.outcomes:
            if self.gate_tests_run:
                terminalreporter.write_sep("=", "release gate")
                terminalreporter.write_line(_nothing_gated(self.config))
            return
        if self.results is None:
            if self.merge_error:
                terminalreporter.write_sep("=", "release gate")
                terminalreporter.write_line(f"FAILED CLOSED: {self.merge_error}")
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


def _nothing_gated(config: pytest.Config) -> str:
    """The summary of a gate run that gated no checkpoint (it fails, and writes no report)."""
    error = config.stash.get(UNUSABLE, None)
    why = f"the release gate cannot run: {error}" if error else "no gate test ran for a checkpoint"
    return f"NOTHING GATED: {why}\nno checkpoint may be promoted on this run; no report was written"


def _started_gate(config: pytest.Config) -> GateSession | None:
    """The run's GateSession if anything created it, without creating one."""
    return config.stash[GATE]._session


def _message(report: pytest.TestReport) -> str:
    """The part of a failure a reader needs: the check's own message, not the traceback."""
    if report.skipped and isinstance(report.longrepr, tuple):
        return f"skipped: {report.longrepr[2]}"
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).removeprefix("Failed: ")
    return report.longreprtext.strip()


# ---- fixtures -------------------------------------------------------------------------------


def _or_fail(action: Callable[[], T], context: str = "") -> T:
    """Run `action`; bad input fails the gate test with its own message, no traceback."""
    try:
        return action()
    except GateInputError as exc:
        message = f"{context}{exc}"
    pytest.fail(message, pytrace=False)  # outside `except`: no "during handling" chain


@pytest.fixture(scope="session")
def gate_session(request: pytest.FixtureRequest) -> GateSession:
    """The run's GateSession: config, device, checkpoints, baselines, embeddings."""
    return _or_fail(lambda: gate(request.config), "the release gate cannot run: ")


@pytest.fixture(scope="session")
def usable_checkpoint(checkpoint: Checkpoint | UnusableInput) -> Checkpoint:
    """The checkpoint under test; unusable gate input fails here, before any model loads."""
    if isinstance(checkpoint, UnusableInput):
        pytest.fail(f"the release gate cannot run: {checkpoint.error}", pytrace=False)
    return checkpoint


@pytest.fixture(scope="session")
def baseline(gate_session: GateSession) -> LoadedBaseline:
    """The first baseline, loaded once for the whole run and never modified."""
    return _or_fail(lambda: gate_session.baseline(0))


@pytest.fixture(scope="session")
def candidate_evaluations(candidate: LoadedCandidate, gate_session: GateSession) -> dict:
    """The candidate on every readable data set (gating and reference), evaluated once."""
    return _or_fail(lambda: gate_session.evaluate_candidate(candidate))


@pytest.fixture
def evaluation(candidate_evaluations: dict, gate_dataset: str, gate_session: GateSession):
    """The candidate's evaluation on one gating data set; an unreadable gating set fails here."""
    _or_fail(lambda: gate_session.dataset(gate_dataset), f"gating data set '{gate_dataset}': ")
    return candidate_evaluations[gate_dataset]


@pytest.fixture(scope="session")
def candidate(
    usable_checkpoint: Checkpoint, gate_session: GateSession, baseline: LoadedBaseline
) -> Iterator[LoadedCandidate]:
    """The checkpoint under test, loaded once; tests are grouped so one candidate is resident.

    The baseline is loaded (and fingerprinted) first, so a load that touches it is caught.
    """
    checkpoint = usable_checkpoint
    loaded = _or_fail(
        lambda: load_candidate(
            checkpoint,
            gate_session.config.aliases,
            gate_session.device,
            bases=gate_session.configured_bases(),
        )
    )
    yield loaded
    # the verdict is final only at the end of the run; one that already failed needs no copy
    if gate_session.promote_to is not None and not gate_session.has_failed(checkpoint.name):
        stage(loaded, staging_dir(gate_session.promote_to))
    gate_session.embedder.forget(f"candidate/{checkpoint.name}/")
    del loaded
    release_memory()
    trim_heap()  # freed weights back to the OS: peak memory stays flat over checkpoints
