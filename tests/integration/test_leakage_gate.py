"""The leakage check through the real gate (pytester) on stub checkpoints: it reads only the
folder and the training pairs its record names, no model loads. Training pairs that hold
evaluation pairs of the gating set fail it, naming the count and examples; the example's own
record (STS-B train) passes, with MRPC test's pairs found there shown but never failing; a
record without the field or naming no file fails saying where to put it; a checkpoint without
a record is not applicable.

A run of this one gate module holds part of the battery: the tests read each check's outcome
and results.json, not the verdict."""

from __future__ import annotations

import json
import shutil

import pytest
from paths import DATASETS, REPO

from harness.quality.pairs import read_pairs

pytestmark = pytest.mark.slow

MODULE = "test_leakage_battery.py"
RECORD = "train_settings.json"
FIXTURE = REPO / "fixtures" / "it_incidents.jsonl"


def with_record(gate_project, name: str, record: dict) -> None:
    (gate_project.stub_checkpoint(name) / RECORD).write_text(json.dumps(record), encoding="utf-8")


@pytest.fixture
def leakage_run(gate_project, tmp_path, once_per_module):
    def run():
        gate_project.include("test_leakage.py")
        gate_project.set_config(
            "[datasets.it_incidents]",
            f'[datasets.mrpc_test]\nrole = "reference"\nformat = "mrpc"\n'
            f'path = "{(DATASETS / "mrpc" / "msr-para-test.tsv").as_posix()}"\n'
            f'calibration_path = "{(DATASETS / "mrpc" / "msr-para-val.tsv").as_posix()}"\n\n'
            "[datasets.it_incidents]",
        )
        # STS-B train with three of the fixture's test pairs typed again: case, spaces, a "!"
        test = read_pairs(FIXTURE, "jsonl", name="it").split("test")
        leaked = tmp_path / "leaked.csv"
        shutil.copyfile(DATASETS / "stsb" / "sts-train.csv", leaked)
        with leaked.open("a", encoding="utf-8") as out:
            for a, b in list(zip(test.sentence1, test.sentence2, strict=True))[:3]:
                out.write(f"main-captions\tMSRvid\t2012test\t9999\t4.0\t{a.upper()}!\t {b}\n")
        with_record(gate_project, "example", {"data": {"file": "stsb/sts-train.csv"}})
        with_record(gate_project, "leaky", {"data": {"file": str(leaked)}})
        with_record(gate_project, "no-field", {"data": {"rows": 5749}})
        with_record(gate_project, "no-file", {"data": {"file": "stsb/gone.csv"}})
        gate_project.stub_checkpoint("no-record")
        return gate_project.run(args=[MODULE]), gate_project.results()

    return once_per_module("leakage", run)


def leakage_of(results: dict, name: str) -> dict:
    return next(c for c in results["checkpoints"] if c["name"] == name)["leakage"]


def test_leaked_gating_pairs_fail_and_reference_pairs_are_shown(leakage_run):
    run, results = leakage_run

    assert run.outcomes("example") == {"test_no_leakage": "PASSED"}
    assert run.outcomes("leaky") == {"test_no_leakage": "FAILED"}
    message = run.section("test_no_leakage", "leaky")
    assert "evaluation pairs leaked into training" in message
    assert "'it_incidents': 3 of 290 distinct pairs (1.0%) are training pairs" in message
    assert "(0 exactly)" in message
    example = {row["dataset"]: row for row in leakage_of(results, "example")["datasets"]}
    assert example["it_incidents"]["pairs"]["normalised"] == 0
    # STS-B's MSRpar genre was drawn from MRPC: its test pairs are in STS-B train
    assert example["mrpc_test"]["role"] == "reference"
    assert example["mrpc_test"]["pairs"]["exact"] == 498


def test_a_record_that_names_no_training_pairs_fails_saying_where(leakage_run):
    run, _ = leakage_run

    assert run.outcomes("no-field") == {"test_no_leakage": "FAILED"}
    assert "has no path at data.file ([leakage] record_field)" in run.section(
        "test_no_leakage", "no-field"
    )
    assert run.outcomes("no-file") == {"test_no_leakage": "FAILED"}
    assert "the training pairs file does not exist" in run.section("test_no_leakage", "no-file")
    assert run.outcomes("no-record") == {}
    assert "no_leakage[no-record]: no train_settings.json in its folder" in " ".join(
        run.summary().split()
    )
