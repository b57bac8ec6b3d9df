"""The gate's fixtures: the session, the checkpoint under test, the baseline, the candidate and
its evaluations. Bad input fails the gate test with its own message, never a traceback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

from harness.checkpoint.discover import Checkpoint
from harness.errors import GateInputError
from harness.pytest_plugin.collection import SELECTED_CHECKS, UnusableInput
from harness.pytest_plugin.session import gate
from harness.run.battery import required_checks
from harness.run.models import LoadedBaseline
from harness.run.session import GateSession
from harness.runs.promotion import stage, staging_dir

if TYPE_CHECKING:
    from harness.checkpoint.load import LoadedCandidate

T = TypeVar("T")


def passes(message: str | None) -> None:
    """In a gate test: fail with the check's own message (no harness traceback), or pass."""
    if message:
        pytest.fail(message, pytrace=False)


def _or_fail(action: Callable[[], T], context: str = "") -> T:
    """Run `action`; bad input fails the gate test with its own message, no traceback."""
    try:
        return action()
    except GateInputError as exc:
        message = f"{context}{exc}"
    pytest.fail(message, pytrace=False)  # outside `except`: no "during handling" chain


@pytest.fixture
def assert_adapter_applied() -> Callable[..., None]:
    """For a test of a team's own serving code: `assert_adapter_applied(model, adapter_dir)`
    fails the test with the gate's diagnosis (no traceback) unless the model its code loaded
    holds the adapter file's tensors unchanged and encodes differently from its base."""
    from harness.checkpoint.own_loader import AdapterNotApplied
    from harness.checkpoint.own_loader import assert_adapter_applied as check

    def applied(model: object, adapter_dir: str | Path, **options: object) -> None:
        try:
            check(model, adapter_dir, **options)  # type: ignore[arg-type]
        except AdapterNotApplied as exc:
            message = str(exc)
        else:
            return
        pytest.fail(message, pytrace=False)  # outside `except`: no "during handling" chain

    return applied


@pytest.fixture(scope="session")
def gate_session(request: pytest.FixtureRequest) -> GateSession:
    """The run's GateSession: config, device, checkpoints, baselines, embeddings."""
    return _or_fail(lambda: gate(request.config), "the release gate cannot run: ")


@pytest.fixture(scope="session")
def usable_checkpoint(checkpoint: Checkpoint | UnusableInput) -> Checkpoint:
    """The checkpoint under test; unusable gate input fails here, before any model loads."""
    if isinstance(checkpoint, UnusableInput):
        pytest.fail(f"the release gate cannot run: {checkpoint.error}", pytrace=False)
    if checkpoint.refusal is not None:  # this checkpoint alone: the others are gated
        pytest.fail(str(checkpoint.refusal), pytrace=False)
    return checkpoint


@pytest.fixture(scope="session")
def baseline(gate_session: GateSession) -> LoadedBaseline:
    """The first baseline, loaded once for the whole run and never modified."""
    return _or_fail(lambda: gate_session.models.baseline(0))


@pytest.fixture(scope="session")
def candidate_evaluations(candidate: LoadedCandidate, gate_session: GateSession) -> dict:
    """The candidate on every readable data set (gating and reference), evaluated once."""
    return _or_fail(lambda: gate_session.evaluate_candidate(candidate))


@pytest.fixture
def evaluation(candidate_evaluations: dict, gate_dataset: str, gate_session: GateSession):
    """The candidate's evaluation on one gating data set (pairs or retrieval)."""
    return _evaluation_on(gate_dataset, candidate_evaluations, gate_session)


@pytest.fixture
def pair_evaluation(candidate_evaluations: dict, gate_pair_set: str, gate_session: GateSession):
    """The candidate's evaluation on one gating pair data set (not a retrieval set)."""
    return _evaluation_on(gate_pair_set, candidate_evaluations, gate_session)


def _evaluation_on(name: str, candidate_evaluations: dict, gate_session: GateSession):
    """The candidate's evaluation on a gating data set; an unreadable one fails here."""
    _or_fail(lambda: gate_session.dataset(name), f"gating data set '{name}': ")
    return candidate_evaluations[name]


@pytest.fixture(scope="session")
def candidate(
    usable_checkpoint: Checkpoint,
    gate_session: GateSession,
    baseline: LoadedBaseline,
    request: pytest.FixtureRequest,
) -> Iterator[LoadedCandidate]:
    """The checkpoint under test, loaded once; tests are grouped so one candidate is resident.

    The baseline is loaded (and fingerprinted) first, so a load that touches it is caught.
    """
    from harness.checkpoint.load import load_candidate
    from harness.embedding.memory import release_memory, trim_heap

    checkpoint = usable_checkpoint
    loaded = _or_fail(
        lambda: load_candidate(
            checkpoint,
            gate_session.config.aliases,
            gate_session.device,
            bases=gate_session.models.configured_bases,
        )
    )
    pipelines = gate_session.findings.pipelines
    pipelines[checkpoint.name] = gate_session.models.candidate_pipeline(loaded)
    if loaded.base_path is not None:
        gate_session.findings.bases[checkpoint.name] = {
            "path": str(loaded.base_path),
            "revision": loaded.base_revision,
        }
    yield loaded
    # the verdict is final only at the end of the run; one that already failed, or whose
    # battery this run did not select, needs no copy
    promote_to = gate_session.promote_to
    selected = request.config.stash.get(SELECTED_CHECKS, {}).get(checkpoint.name, set())
    if (
        promote_to is not None
        and not gate_session.outcomes.has_failed(checkpoint.name)
        and set(required_checks(checkpoint, gate_session.config, gate_session.device)) <= selected
    ):
        stage(loaded, staging_dir(promote_to))
    gate_session.models.forget_candidate(checkpoint.name)
    del loaded
    release_memory()
    trim_heap()  # freed weights back to the OS: peak memory stays flat over checkpoints
