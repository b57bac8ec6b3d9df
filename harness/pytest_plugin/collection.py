"""Collection: one parametrized id per checkpoint, checks that do not apply dropped (and listed
as not applicable), each checkpoint's gate tests run together, and none for a shard that hashing
left empty."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import pytest

from harness.checkpoint.discover import Checkpoint
from harness.checkpoint.training_pairs import leakage_applies
from harness.embedding.device import low_precision_dtypes
from harness.errors import GateInputError
from harness.pytest_plugin.session import gate
from harness.pytest_plugin.xdist import note_empty_shard, note_grouping
from harness.run.battery import configured_checks
from harness.run.outcomes import NotApplicable

CHECK = pytest.StashKey[tuple[str, str]]()  # (checkpoint name, check name) of a gate item
COLLECTED_AT = pytest.StashKey[int]()  # an item's place in collection order (files, definitions)
UNUSABLE = pytest.StashKey[GateInputError]()  # why the gate's input cannot be used, if it cannot
EMPTY_SHARD = pytest.StashKey[bool]()  # --shard K/N holds no checkpoint: its gate tests deselected
#: the checks this run selected, per checkpoint (a run that misses one of its battery cannot
#: promote it, so it is not staged)
SELECTED_CHECKS = pytest.StashKey[dict[str, set[str]]]()
ADAPTER_ONLY = "adapter_only"
#: a check of the checkpoint's training record: gate.toml's [training_record] says whether and
#: to which checkpoints it applies
TRAINING_RECORD = "training_record"
#: the leakage check: gate.toml's [leakage] says whether and to which checkpoints it applies
LEAKAGE = "leakage"


@dataclass(frozen=True)
class UnusableInput:
    """Stands in for the checkpoints when the gate's input cannot be used.

    Every gate test then fails with the input's message, so `pytest -m gpu` fails closed
    with a readable reason, while a run that deselects the gate is not disturbed.
    """

    error: GateInputError


@dataclass(frozen=True)
class NoPairSet:
    """Stands in for the gating pair sets where gate.toml has none (every gating set is a
    retrieval set): the checks of a pair set do not exist, so their case is dropped."""


NO_PAIR_SET = NoPairSet()


@dataclass(frozen=True)
class EmptyShard:
    """Stands in for the checkpoints of a shard that hashing left none: its gate tests are
    deselected, and the run reports that it gated 0 of the checkpoints (the other shards gate
    them; combining the shards checks that every one was gated)."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "checkpoint" not in metafunc.fixturenames:
        return
    try:
        session = gate(metafunc.config)
        checkpoints: list[Checkpoint] = session.checkpoints
        names = [spec.name for spec in session.config.datasets if spec.gates]
        pair_sets = [
            spec.name for spec in session.config.datasets if spec.gates and not spec.is_retrieval
        ]
    except GateInputError as exc:
        metafunc.config.stash[UNUSABLE] = exc
        _stand_in(metafunc, UnusableInput(exc), "unusable-input")
        return
    if not checkpoints:
        metafunc.config.stash[EMPTY_SHARD] = True
        note_empty_shard(metafunc.config)
        _stand_in(metafunc, EmptyShard(), "empty-shard")
        return
    if "gate_dataset" in metafunc.fixturenames:
        metafunc.parametrize("gate_dataset", names, ids=names)
    if "gate_pair_set" in metafunc.fixturenames:  # none: one case, dropped at collection
        metafunc.parametrize(
            "gate_pair_set", pair_sets or [NO_PAIR_SET], ids=pair_sets or ["no-pair-set"]
        )
    metafunc.parametrize(
        "checkpoint",
        # under xdist (--dist loadgroup, set by -n) each checkpoint's tests go to one worker
        [pytest.param(c, id=c.name, marks=pytest.mark.xdist_group(c.name)) for c in checkpoints],
        scope="session",
    )
    if "merge_dtype" in metafunc.fixturenames:  # after checkpoint: ids read `<checkpoint>-<dtype>`
        metafunc.parametrize("merge_dtype", low_precision_dtypes(session.device))


def _stand_in(metafunc: pytest.Metafunc, checkpoint: UnusableInput | EmptyShard, id: str) -> None:
    """One case for a gate test that has no checkpoint to gate."""
    metafunc.parametrize("checkpoint", [checkpoint], ids=[id], scope="session")
    for name in ("gate_dataset", "gate_pair_set"):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, ["-"], ids=["-"])
    if "merge_dtype" in metafunc.fixturenames:
        metafunc.parametrize("merge_dtype", ["-"], ids=["-"])


@pytest.hookimpl(trylast=True)  # after xdist's own, which marks test ids with their group
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop checks that do not apply to a checkpoint (its kind, or a training record it lacks and
    need not have), and list them as not applicable; drop the checks gate.toml does not ask for
    (the training record without [training_record], the slice gate without [slices] gate = true,
    ...), and an empty shard's gate tests."""
    note_grouping(config, items)
    kept, dropped = [], []
    selected: dict[str, set[str]] = config.stash.setdefault(SELECTED_CHECKS, {})
    for item in items:
        callspec = getattr(item, "callspec", None)
        checkpoint = callspec.params.get("checkpoint") if callspec else None
        if isinstance(checkpoint, EmptyShard) or (
            callspec is not None and callspec.params.get("gate_pair_set") is NO_PAIR_SET
        ):
            dropped.append(item)  # a shard with nothing, or a pair-set check with no pair set
            continue
        if callspec is None or not isinstance(checkpoint, Checkpoint):
            kept.append(item)
            continue
        check = getattr(item, "originalname", item.name).removeprefix("test_")
        if not configured_checks(gate(config).config).get(check, True):
            dropped.append(item)  # gate.toml does not ask for it: the check does not exist
            continue
        params = [str(v) for k, v in callspec.params.items() if k != "checkpoint"]
        if params:  # gate_dataset, throughput_case: one check name per parametrized case
            check = f"{check}[{'-'.join(params)}]"
        reason = _not_applicable(item, checkpoint, config)
        if reason is not None:
            gate(config).outcomes.not_applicable.append(
                NotApplicable(check, checkpoint.name, reason)
            )
            dropped.append(item)
            continue
        item.stash[CHECK] = (checkpoint.name, check)
        selected.setdefault(checkpoint.name, set()).add(check)
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    _order_by_checkpoint(items)


def _not_applicable(item: pytest.Item, checkpoint: Checkpoint, config: pytest.Config) -> str | None:
    """Why a gate check cannot apply to this checkpoint, or None if it applies."""
    if item.get_closest_marker(ADAPTER_ONLY) and not checkpoint.is_adapter:
        return f"{checkpoint.kind.replace('_', ' ')} has no adapter"
    gate_config = gate(config).config
    record = gate_config.training_record
    if item.get_closest_marker(TRAINING_RECORD) and record and not record.applies(checkpoint.path):
        return f"no {record.file} in its folder ([training_record] required = false)"
    leakage = gate_config.analyses.leakage
    applies = leakage is None or leakage_applies(checkpoint.path, leakage)
    if item.get_closest_marker(LEAKAGE) and not applies:
        assert leakage is not None
        return (
            f"no {leakage.record} in its folder to name its training pairs "
            "([leakage] required = false)"
        )
    return None


class CollectionOrder:
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
