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

[datasets.incidents_retrieval]
kind = "retrieval"
role = "gate"
derived_from = "incidents"
[datasets.incidents_retrieval.targets]
"recall@5" = 0.9
"""


#: the only gating set a retrieval view: no pair-set check exists
RETRIEVAL_ONLY = """\
[datasets.incidents]
role = "reference"
path = "{path}"
format = "jsonl"
calibration_split = "calibration"
test_split = "test"

[datasets.incidents_retrieval]
kind = "retrieval"
role = "gate"
derived_from = "incidents"
[datasets.incidents_retrieval.targets]
"recall@5" = 0.9
"""

#: a [training_record] table; a checkpoint without the file is not applicable, not required
TRAINING_RECORD = """
[training_record]
file = "training_metadata.json"
expect = ["learning_rate == 5e-6"]
"""
GATE_MODULES = (
    "test_analyses.py",
    "test_behaviour.py",
    "test_leakage.py",
    "test_quality.py",
    "test_throughput.py",
    "test_training_record.py",
)


def collect(
    gate_project,
    pytester,
    *,
    record: str | None = None,
    file: str = "training_metadata.json",
    datasets: str = TWO_GATING_SETS,
) -> dict[str, set[str]]:
    """Every module of tests/gate in the project, an adapter (with `file` holding `record`, if
    given) and a full model: the checks collected per checkpoint."""
    for module in GATE_MODULES:
        gate_project.include(module)
    data = (REPO / "fixtures" / "it_incidents.jsonl").as_posix()
    gate_project.replace_datasets(datasets.format(path=data))
    adapter = adapter_folder(gate_project.checkpoint_path("adapter"), st_layout=True)
    if record is not None:
        (adapter / file).write_text(record, encoding="utf-8")
    gate_project.stub_checkpoint("full")

    items, _ = pytester.inline_genitems("-m", "gpu", "--device=cpu", "-p", "no:cacheprovider")

    collected: dict[str, set[str]] = defaultdict(set)
    for item in items:
        if CHECK in item.stash:
            name, check = item.stash[CHECK]
            collected[name].add(check)
    return collected


def battery(gate_project) -> dict[str, list[str]]:
    config = load_config(gate_project.path / "gate.toml")
    checkpoints = discover_checkpoints(gate_project.path / "models")
    assert [c.name for c in checkpoints] == ["adapter", "full"]
    return {c.name: required_checks(c, config, "cpu") for c in checkpoints}


@pytest.mark.parametrize("throughput_required", [True, False], ids=["throughput", "no-throughput"])
def test_the_declared_battery_is_what_tests_gate_collects(
    gate_project, pytester, throughput_required
):
    if not throughput_required:
        gate_project.set_config("[throughput]\n", "[throughput]\nrequired = false\n")

    collected = collect(gate_project, pytester)

    for name, required in battery(gate_project).items():
        if throughput_required:
            assert sorted(collected[name]) == required
        else:  # collected, counted when run, not required
            throughput = {c for c in collected[name] if "throughput" in c}
            assert throughput and not throughput & set(required)
            assert sorted(collected[name] - throughput) == required
        assert "meets_targets[incidents_again]" in required
        assert "beats_baseline[incidents_retrieval]" in required
        assert "fp_rate_under_target[incidents_retrieval]" not in required  # pairs only
        assert "no_slice_worse[incidents_retrieval]" not in required
        assert "no_slice_worse[incidents]" in required  # [slices] gate = true
        assert not any(c.startswith(("matryoshka_targets", "high_overlap")) for c in required)
        assert not any("shown_only" in check for check in required)
        assert "training_record" not in required  # no [training_record] table: no such check
        assert "no_leakage" not in required  # no train_settings.json to name training pairs


def test_the_training_record_is_in_the_battery_where_the_record_is(gate_project, pytester):
    gate_project.set_config("[throughput]\n", TRAINING_RECORD + "\n[throughput]\n")

    collected = collect(gate_project, pytester, record='{"learning_rate": 5e-06}')

    required = battery(gate_project)
    assert sorted(collected["adapter"]) == required["adapter"]
    assert sorted(collected["full"]) == required["full"]
    assert "training_record" in required["adapter"]
    assert "training_record" not in required["full"]  # not applicable: no file, not required


def test_the_leakage_check_is_in_the_battery_where_the_record_is(gate_project, pytester):
    record = '{"data": {"file": "x.csv"}}'  # [leakage] record_field = "data.file"

    collected = collect(gate_project, pytester, record=record, file="train_settings.json")

    required = battery(gate_project)
    assert sorted(collected["adapter"]) == required["adapter"]
    assert sorted(collected["full"]) == required["full"]
    assert "no_leakage" in required["adapter"] and "no_leakage" not in required["full"]


def test_a_gate_of_retrieval_sets_only_has_no_pair_set_checks(gate_project, pytester):
    collected = collect(gate_project, pytester, datasets=RETRIEVAL_ONLY)

    required = battery(gate_project)
    assert sorted(collected["adapter"]) == required["adapter"]
    assert "beats_baseline[incidents_retrieval]" in required["adapter"]
    assert not any("no-pair-set" in check or "fp_rate" in check for check in collected["adapter"])
