"""The battery the gate declares (harness/run/battery.py) is what the real gate tests are:
collecting every module of tests/gate gives, per checkpoint, exactly its required checks, so
a check added to tests/gate without being declared (or declared and never written) is seen
here rather than in a run that can never be complete.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from checkpoint_folders import adapter_folder
from paths import REPO

from harness.checkpoint.discover import discover_checkpoints
from harness.config import load_config
from harness.pytest_plugin.collection import CHECK
from harness.run.battery import required_checks

TWO_GATING_SETS = """\
[datasets.incidents]
role = "gate"
path = "{path}"
format = "jsonl"
calibration_split = "calibration"
test_split = "test"

[datasets.incidents_again]
role = "gate"
path = "{path}"
format = "jsonl"
calibration_split = "calibration"
test_split = "test"

[datasets.shown_only]
role = "reference"
path = "{path}"
format = "jsonl"
calibration_split = "calibration"
test_split = "test"
"""


@pytest.mark.parametrize("throughput_required", [True, False], ids=["throughput", "no-throughput"])
def test_the_declared_battery_is_what_tests_gate_collects(
    gate_project, pytester, throughput_required
):
    for module in ("test_behaviour.py", "test_quality.py", "test_throughput.py"):
        gate_project.include(module)
    data = (REPO / "fixtures" / "it_incidents.jsonl").as_posix()
    gate_project.replace_datasets(TWO_GATING_SETS.format(path=data))
    if not throughput_required:
        gate_project.set_config("[throughput]\n", "[throughput]\nrequired = false\n")
    adapter_folder(gate_project.checkpoint_path("adapter"), st_layout=True)
    gate_project.stub_checkpoint("full")

    items, _ = pytester.inline_genitems("-m", "gpu", "--device=cpu", "-p", "no:cacheprovider")

    collected: dict[str, set[str]] = defaultdict(set)
    for item in items:
        if CHECK in item.stash:
            name, check = item.stash[CHECK]
            collected[name].add(check)
    config = load_config(gate_project.path / "gate.toml")
    checkpoints = discover_checkpoints(gate_project.path / "models")
    assert [c.name for c in checkpoints] == ["adapter", "full"]
    for checkpoint in checkpoints:
        required = required_checks(checkpoint, config, "cpu")
        if throughput_required:
            assert sorted(collected[checkpoint.name]) == required
        else:  # collected, counted when run, not required
            throughput = {c for c in collected[checkpoint.name] if "throughput" in c}
            assert throughput and not throughput & set(required)
            assert sorted(collected[checkpoint.name] - throughput) == required
        assert "meets_targets[incidents_again]" in required
        assert not any("shown_only" in check for check in required)
