"""One report, however the run is split: serial, `-n 2` workers, or `--shard K/N` + combine;
a shard that hashing leaves empty passes and writes its report. (What combining refuses, sums
and recomputes is unit-tested on built documents: tests/unit/test_combine.py.)

And promotion: a checkpoint that passed its whole battery is copied, merged, with its
fingerprint; one that failed anything, or whose battery the run did not select, never is.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest
from factories import copy_checkpoint, make_never_trained
from sentence_transformers import SentenceTransformer

from harness.checkpoint.discover import shard_index
from harness.checkpoint.fingerprints import directory_fingerprint
from harness.report.folder import read_report
from harness.runs.cli import main
from harness.runs.combine import stable

pytestmark = pytest.mark.slow

NAMES = ("alpha", "bravo", "charlie")


@pytest.fixture
def project(gate_project, good_adapter):
    gate_project.include_battery()  # complete without the benchmarks: PROMOTE is possible
    gate_project.relax_targets()  # every applied checkpoint passes
    gate_project.fewer_resamples()
    for name in NAMES:
        copy_checkpoint(good_adapter, gate_project.checkpoint_path(name))
    return gate_project


def run_gate(project, *args: str, report_dir=None, output: list[str] | None = None) -> dict:
    report_dir = report_dir or project.path / "reports"
    run = project.run(args=[f"--report-dir={report_dir}", *args])
    assert run.ret == 0, run.text[-3000:]
    if output is not None:
        output.extend(run.result.outlines)
    return project.results(report_dir)


def workers_of_each_checkpoint(lines: list[str]) -> dict[str, set[str]]:
    """From `-v` xdist output ("[gw1] [ 40%] PASSED path::test[alpha]@alpha", the id marked
    with its xdist group): checkpoint -> the workers that ran its tests."""
    workers = defaultdict(set)
    for line in lines:
        match = re.match(r"\[(gw\d+)\] .*(?:PASSED|FAILED|ERROR|SKIPPED) \S+@(\S+)\s*$", line)
        if match:
            workers[match[2]].add(match[1])
    return dict(workers)


def test_serial_workers_and_combined_shards_give_the_same_report(project):
    serial = run_gate(project)
    assert [c["name"] for c in serial["checkpoints"]] == list(NAMES)
    assert {c["verdict"] for c in serial["checkpoints"]} == {"PROMOTE"}

    lines: list[str] = []
    workers = run_gate(project, "-n", "2", "-v", output=lines)
    assert stable(workers) == stable(serial)
    by_checkpoint = workers_of_each_checkpoint(lines)
    assert set(by_checkpoint) == set(NAMES)
    # grouped by checkpoint: each worker loads each of its checkpoints once
    assert all(len(w) == 1 for w in by_checkpoint.values()), by_checkpoint

    shards = []
    for k in (1, 2):
        out = project.path / f"shard-{k}"
        shard = run_gate(project, f"--shard={k}/2", report_dir=out)
        assert [c["name"] for c in shard["checkpoints"]] == [
            n for n in NAMES if shard_index(n, 2) == k
        ]
        assert shard["discovered"] == serial["discovered"]
        shards.append(out / "latest")
    assert main(["combine", "--out", str(project.path / "combined"), *map(str, shards)]) == 0
    _, combined, _ = read_report(project.path / "combined" / "latest")
    assert stable(combined) == stable(serial)


def test_an_empty_shard_gates_nothing_passes_and_writes_its_report(gate_project):
    """Hashing may leave a shard no checkpoint: a normal result, whose report tells combining
    the shards that it ran, and over which checkpoints."""
    folders = [gate_project.stub_checkpoint(name) for name in NAMES]  # never loaded
    assert [n for n in NAMES if shard_index(n, 4) == 1] == []

    run = gate_project.run(args=["--shard=1/4"])

    assert run.ret == 0, run.text[-3000:]
    assert "0 of 3 checkpoints on shard 1/4" in run.summary()
    assert "NOTHING GATED" not in run.text and not re.search(r"\d+ (skipped|failed)", run.text)
    results = gate_project.results()
    assert results["shard"] == {"index": 1, "count": 4}
    assert (results["checkpoints"], results["complete"]) == ([], True)
    assert results["discovered"] == [
        {"name": folder.name, "fingerprint": directory_fingerprint(folder)} for folder in folders
    ]


def test_only_a_checkpoint_that_passed_everything_is_promoted(project, tmp_path):
    make_never_trained(project.checkpoint_path("charlie"))  # fails: changes nothing
    target = tmp_path / "promoted"
    run = project.run(args=[f"--promote-to={target}"])
    assert run.ret == 1
    assert sorted(p.name for p in target.iterdir()) == ["alpha", "bravo"]  # no staging left
    record = json.loads((target / "alpha" / "gate-record.json").read_text())
    assert record["checkpoint"]["verdict"] == "PROMOTE"
    assert record["complete"] is True
    assert record["checks_passed"] == record["checkpoint"]["required_checks"]
    folder_files = {p.name for p in (target / "alpha").iterdir()} - {"gate-record.json"}
    assert "adapter_config.json" not in folder_files  # merged: a standalone model
    assert "model.safetensors" in folder_files  # always safetensors, whatever the adapter was
    assert not [name for name in folder_files if name.endswith((".bin", ".pt", ".pth"))]
    model = SentenceTransformer(str(target / "alpha"), device="cpu")
    assert model.encode(["printer jams"]).shape == (1, 384)
    assert len(record["model_fingerprint"]) == 64
    assert record["model_fingerprint"] != directory_fingerprint(target / "alpha")  # record added


def test_a_run_that_selects_part_of_the_battery_is_incomplete_and_promotes_nothing(
    project, tmp_path
):
    target = tmp_path / "promoted"
    run = project.run(args=[f"--promote-to={target}", "-k", "adapter and alpha"])

    assert run.ret == 1, "every check that ran passed, yet the run fails"
    assert list(target.iterdir()) == []  # nothing promoted, nothing staged
    results = project.results()
    alpha, bravo, charlie = results["checkpoints"]
    assert {c["outcome"] for c in alpha["checks"]} == {"passed"}
    assert alpha["verdict"] == "INCOMPLETE" and alpha["first_failure"] is None
    ran = {c["check"] for c in alpha["checks"]}
    assert alpha["missing_checks"] == [c for c in alpha["required_checks"] if c not in ran]
    assert "meets_targets[it_incidents]" in alpha["missing_checks"]
    assert "encoding_is_deterministic" in alpha["missing_checks"]
    assert "encode_throughput[base-float32-b16]" not in alpha["required_checks"]  # optional here
    assert bravo["verdict"] == charlie["verdict"] == "INCOMPLETE" and not bravo["checks"]
    assert results["complete"] is False
    summary = run.summary()
    assert "INCOMPLETE alpha: 6 required check(s) did not run" in summary
    assert "did not run: any_text_gives_a_finite_embedding_of_the_right_shape," in summary
    assert "checkpoint 'bravo' was not gated: none of its 14 required checks ran" in summary
    assert f"promoted to {target}: none" in summary
