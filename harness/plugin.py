"""The release gate's pytest plugin: options, parametrization by checkpoint, fixtures, summary."""

from __future__ import annotations

import argparse
import gc
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

os.environ["HF_HUB_OFFLINE"] = "1"  # no code path of the gate may reach a model hub
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402

from harness.checkpoints import Checkpoint  # noqa: E402
from harness.config import check_device, load_config  # noqa: E402
from harness.errors import GateInputError  # noqa: E402
from harness.loading import LoadedCandidate, load_candidate  # noqa: E402
from harness.report import write_report  # noqa: E402
from harness.results import build_results  # noqa: E402
from harness.session import CheckOutcome, GateSession, LoadedBaseline  # noqa: E402
from harness.summary import render_summary  # noqa: E402

GATE = pytest.StashKey[GateSession]()
CHECK = pytest.StashKey[tuple[str, str]]()  # (checkpoint name, check name) of a gate item
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
    config.stash[GATE] = _LazyGate(config)  # type: ignore[assignment]
    config.pluginmanager.register(GateRecorder(config), "release-gate-recorder")
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
            )
        return self._session


def gate(config: pytest.Config) -> GateSession:
    """The run's GateSession (created on first use); bad input raises GateInputError."""
    session = config.stash[GATE].get()  # type: ignore[attr-defined]
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
        metafunc.parametrize(
            "checkpoint", [UnusableInput(exc)], ids=["unusable-input"], scope="session"
        )
        if "gate_dataset" in metafunc.fixturenames:
            metafunc.parametrize("gate_dataset", ["-"], ids=["-"])
        return
    if "gate_dataset" in metafunc.fixturenames:
        metafunc.parametrize("gate_dataset", names, ids=names)
    metafunc.parametrize(
        "checkpoint", checkpoints, ids=[c.name for c in checkpoints], scope="session"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop checks that do not apply to a checkpoint's kind, and list them as not applicable."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        checkpoint = callspec.params.get("checkpoint") if callspec else None
        if not isinstance(checkpoint, Checkpoint):
            kept.append(item)
            continue
        check = getattr(item, "originalname", item.name).removeprefix("test_")
        if "gate_dataset" in callspec.params:
            check = f"{check}[{callspec.params['gate_dataset']}]"
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    if CHECK in item.stash:
        report.user_properties.append(("gate_check", item.stash[CHECK]))
    return report


class GateRecorder:
    """Collects gate tests' outcomes from their reports (on the xdist controller too)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        check = dict(report.user_properties).get("gate_check")
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
        """Write the report folder; fail closed if a gate test was skipped or errored."""
        gate_session = _started_gate(self.config)
        if gate_session is None or not gate_session.outcomes:
            return
        if gate_session.unsound() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        finished = datetime.now(UTC)
        gate_session.results = build_results(
            gate_session, started=gate_session.started, finished=finished
        )
        gate_session.report_path = write_report(
            gate_session.results,
            gate_session.arrays(),
            gate_session.config.report_dir,
            when=finished,
        )

    def pytest_terminal_summary(self, terminalreporter) -> None:  # type: ignore[no-untyped-def]
        gate_session = _started_gate(self.config)
        if gate_session is None or not gate_session.outcomes:
            return
        if gate_session.results is None:
            return
        terminalreporter.write_sep("=", "release gate")
        terminalreporter.write_line(
            render_summary(gate_session.results, str(gate_session.report_path))
        )


def _started_gate(config: pytest.Config) -> GateSession | None:
    """The run's GateSession if anything created it, without creating one."""
    return config.stash[GATE]._session  # type: ignore[attr-defined]


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
        lambda: load_candidate(checkpoint, gate_session.config.aliases, gate_session.device)
    )
    yield loaded
    gate_session.embedder.forget(f"candidate/{checkpoint.name}/")
    del loaded
    gc.collect()
    if gate_session.device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
