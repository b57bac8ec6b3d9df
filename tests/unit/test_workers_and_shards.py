"""Worker pinning, shard parsing and stability, and the check that xdist grouped by checkpoint."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.checkpoint.discover import shard_index
from harness.embedding.device import pinned_device
from harness.pytest_plugin.xdist import UNGROUPED, note_grouping, parse_shard


@pytest.mark.parametrize(
    ("worker", "count", "expected"),
    [("gw0", 2, "cuda:0"), ("gw1", 2, "cuda:1"), ("gw2", 2, "cuda:0"), ("gw5", 4, "cuda:1"),
     ("gw3", 1, "cuda:0")],
)
def test_worker_k_gets_cuda_k_mod_count(worker, count, expected):
    assert pinned_device("cuda", worker, count) == expected


@pytest.mark.parametrize(
    ("device", "worker", "count"),
    [("cuda", None, 4), ("cpu", "gw1", 0), ("cuda:3", "gw1", 4), ("mps", "gw0", 0)],
)
def test_serial_runs_cpu_and_explicit_indices_are_left_alone(device, worker, count):
    assert pinned_device(device, worker, count) == device


@pytest.mark.parametrize("value", ["1/1", "2/4", " 3/3 "])
def test_shard_k_of_n(value):
    k, n = parse_shard(value)
    assert 1 <= k <= n


@pytest.mark.parametrize("value", ["0/2", "3/2", "1-2", "a/b", "1/0", ""])
def test_bad_shard_names_the_expected_form(value):
    with pytest.raises(argparse.ArgumentTypeError, match=r"K/N with 1 <= K <= N"):
        parse_shard(value)


@given(
    names=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=30, unique=True),
    new=st.text(min_size=1, max_size=20),
    shards=st.integers(1, 8),
)
def test_adding_a_checkpoint_never_moves_the_others(names, new, shards):
    before = {n: shard_index(n, shards) for n in names}
    after = {n: shard_index(n, shards) for n in [*names, new]}
    assert all(after[n] == before[n] for n in names)
    assert all(1 <= s <= shards for s in after.values())


def _item(nodeid: str, group: str | None):
    return SimpleNamespace(
        nodeid=nodeid, get_closest_marker=lambda name: group if name == "xdist_group" else None
    )


def _worker_config(loadgroup: bool = True):
    return SimpleNamespace(
        workerinput={"workerid": "gw0"}, workeroutput={},
        option=SimpleNamespace(loadgroup=loadgroup),
    )


def test_a_worker_reports_tests_that_xdist_did_not_group():
    config = _worker_config()
    note_grouping(config, [_item("t.py::test_a[alpha]", "alpha")])
    assert config.workeroutput == {UNGROUPED: True}


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([_item("t.py::test_a[alpha]@alpha", "alpha")], id="grouped"),
        pytest.param([_item("t.py::test_plain", None)], id="not-a-gate-test"),
    ],
)
def test_grouped_or_ungroupable_tests_are_not_reported(items):
    config = _worker_config()
    note_grouping(config, items)
    assert config.workeroutput == {}


def test_without_loadgroup_nothing_is_expected():
    config = _worker_config(loadgroup=False)
    note_grouping(config, [_item("t.py::test_a[alpha]", "alpha")])
    assert config.workeroutput == {}
