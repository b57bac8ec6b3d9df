"""The training record through the real gate (pytester): a record that meets gate.toml's
expectations passes, one that misses fails naming each path with its expected and found value,
an invalid one fails naming the file, and a checkpoint without one is not applicable unless the
record is required. The folders are stubs: the check reads only the folder, no model loads.

A run of this one gate module holds part of the battery, so it ends INCOMPLETE: the tests read
each check's outcome, results.json and the summary, not the verdict."""

from __future__ import annotations

import json

MODULE = "test_training_record_battery.py"  # the project's copy of tests/gate's module
FILE = "training_metadata.json"
TABLE = """
[training_record]
file = "training_metadata.json"
required = {required}
expect = [
    "learning_rate == 5e-6",
    "curriculum_learning.num_phases >= 1",
    "adversarial_diagnostic.pass_status == true",
]
"""
#: the motivating team's record, as the notebook meant it
MEANT = {
    "learning_rate": 5e-06,
    "curriculum_learning": {"enabled": True, "num_phases": 3, "epochs_per_phase": 4},
    "adversarial_diagnostic": {"roc_auc": 0.982, "f1_score": 0.9457, "pass_status": True},
}
#: and as the code trained it: the learning rate hard-coded, the curriculum switched off
TRAINED = {
    **MEANT,
    "learning_rate": 2e-05,
    "curriculum_learning": {"enabled": False, "num_phases": 0},
}


def project_with(gate_project, *, required: bool = False, table: bool = True):
    gate_project.include("test_training_record.py")
    if table:
        table_text = TABLE.format(required=str(required).lower())
        gate_project.set_config("[throughput]\n", table_text + "\n[throughput]\n")
    records = {"meets": json.dumps(MEANT), "misses": json.dumps(TRAINED), "broken": "{"}
    for name, record in records.items():
        (gate_project.stub_checkpoint(name) / FILE).write_text(record, encoding="utf-8")
    gate_project.stub_checkpoint("without")
    return gate_project.run(args=[MODULE])


def checkpoint_row(results: dict, name: str) -> dict:
    return next(c for c in results["checkpoints"] if c["name"] == name)


def test_records_pass_fail_and_are_shown(gate_project):
    run = project_with(gate_project)

    assert run.outcomes("meets") == {"test_training_record": "PASSED"}
    assert run.outcomes("misses") == {"test_training_record": "FAILED"}
    assert run.outcomes("broken") == {"test_training_record": "FAILED"}
    assert run.outcomes("without") == {}
    misses = run.section("test_training_record", "misses")
    assert "misses 2 of 3 expectation(s)" in misses
    assert "learning_rate: expected == 5e-06, found 2e-05" in misses
    assert "curriculum_learning.num_phases: expected >= 1, found 0" in misses
    broken = run.section("test_training_record", "broken")
    assert f"broken/{FILE}:1: the training record is not valid JSON" in broken
    assert "Traceback" not in misses + broken

    summary = " ".join(run.summary().split())
    assert "training record: 7 fields, every expectation met" in summary
    assert (
        "training record: 2 of 3 expectation(s) missed: learning_rate: expected == 5e-06, "
        "found 2e-05; curriculum_learning.num_phases: expected >= 1, found 0" in summary
    )
    not_applicable = f"no {FILE} in its folder ([training_record] required = false)"
    assert f"training_record[without]: {not_applicable}" in summary

    results = gate_project.results()
    meets = checkpoint_row(results, "meets")
    assert meets["training_record"]["fields"]["learning_rate"] == 5e-06
    assert meets["training_record"]["fields"]["adversarial_diagnostic.pass_status"] is True
    assert "training_record" in meets["required_checks"]
    without = checkpoint_row(results, "without")
    assert without["training_record"] is None
    assert "training_record" not in without["required_checks"]
    assert results["not_applicable"] == [
        {"check": "training_record", "checkpoint": "without", "reason": not_applicable}
    ]
    assert checkpoint_row(results, "misses")["training_record"]["misses"] == [
        "learning_rate: expected == 5e-06, found 2e-05",
        "curriculum_learning.num_phases: expected >= 1, found 0",
    ]
    page = (gate_project.path / "reports" / "latest" / "report.html").read_text(encoding="utf-8")
    assert "<td>curriculum_learning.epochs_per_phase</td><td>4</td>" in page


def test_a_required_record_that_is_absent_fails(gate_project):
    run = project_with(gate_project, required=True)

    assert run.outcomes("without") == {"test_training_record": "FAILED"}
    message = run.section("test_training_record", "without")
    assert f"without/{FILE}: the checkpoint has no training record" in message
    assert f"save the training record as {FILE} in the checkpoint folder" in message
    results = gate_project.results()
    assert "training_record" in checkpoint_row(results, "without")["required_checks"]
    assert not results["not_applicable"]


def test_without_a_table_there_is_no_such_check(gate_project):
    run = project_with(gate_project, table=False)

    assert all(run.outcomes(name) == {} for name in ("meets", "misses", "broken", "without"))
    assert "4 deselected" in run.text  # not collected for any checkpoint, record or not
    assert "not applicable" not in run.text
