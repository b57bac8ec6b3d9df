"""Calibration and test parts that share pairs: a gating set is refused, naming how many and
one of them; a reference set is read, and the count travels to results.json and the summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from paths import GATE_TOML
from results_factory import build

from harness.config import DatasetSpec, load_config
from harness.errors import DataError
from harness.quality.evaluate import load_dataset
from harness.quality.metrics import ThresholdPolicy
from harness.quality.pairs import PairDataset
from harness.report.document import build_results
from harness.report.terminal import render_summary
from harness.run.context import RunContext
from harness.run.findings import Findings
from harness.run.outcomes import Outcomes

BEST_F1 = ThresholdPolicy("best_f1")

ROWS = [
    ("calibration", "a cat sat", "a cat was sitting", 1),
    ("calibration", "the disk is full", "no space left on device", 1),
    ("calibration", "it rains", "the printer jams", 0),
    ("test", "a cat was sitting", "a cat sat", 1),  # a calibration pair, sentences swapped
    ("test", "the disk is full", "no space left on device", 1),  # the same pair again
    ("test", "the disk is full", "no space left on device", 1),  # ... twice in the test part
    ("test", "dns fails", "the name does not resolve", 1),
    ("test", "coffee is hot", "the vpn is down", 0),
]


def write_pairs(folder: Path, rows) -> Path:
    path = folder / "pairs.jsonl"
    path.write_text(
        "".join(
            json.dumps({"split": split, "sentence1": a, "sentence2": b, "label": label}) + "\n"
            for split, a, b, label in rows
        ),
        encoding="utf-8",
    )
    return path


def spec_of(path: Path, role: str) -> DatasetSpec:
    targets = {"fp_rate": 0.2, "roc_auc": 0.9} if role == "gate" else {}
    return DatasetSpec(
        "tickets", role, path, "jsonl", calibration_split="calibration", test_split="test",
        targets=targets,
    )  # fmt: skip


def test_a_gating_set_whose_parts_share_pairs_is_refused(tmp_path):
    path = write_pairs(tmp_path, ROWS)
    with pytest.raises(DataError) as caught:
        load_dataset(spec_of(path, "gate"), BEST_F1)
    message = str(caught.value)
    assert message.startswith(
        f"{path}: 2 pair(s) of gating data set 'tickets' are in both its calibration and its "
        "test part (sentence order ignored), e.g. 'a cat was sitting' / 'a cat sat': the "
        "threshold would be tuned on pairs it is judged on"
    )
    assert "fix: remove the shared pairs from one of the parts, or make the data set" in message


def test_a_separate_calibration_file_is_compared_too(tmp_path):
    test = write_pairs(tmp_path, ROWS[3:])
    (tmp_path / "calibration").mkdir()
    calibration = write_pairs(tmp_path / "calibration", ROWS[:3])
    spec = DatasetSpec(
        "tickets", "gate", test, "jsonl", calibration_path=calibration,
        targets={"fp_rate": 0.2, "roc_auc": 0.9},
    )  # fmt: skip
    with pytest.raises(DataError, match=r"^\S+calibration/pairs.jsonl: 2 pair\(s\) of gating"):
        load_dataset(spec, BEST_F1)


def test_a_reference_set_is_read_and_its_overlap_counted(tmp_path):
    data = load_dataset(spec_of(write_pairs(tmp_path, ROWS), "reference"), BEST_F1)
    assert (len(data.calibration), len(data.test), data.calibration_overlap) == (3, 5, 2)


def test_parts_without_shared_pairs(tmp_path):
    rows = [r for r in ROWS if r[1] not in ("a cat was sitting", "the disk is full")]
    data = load_dataset(spec_of(write_pairs(tmp_path, rows), "gate"), BEST_F1)
    assert data.calibration_overlap == 0


def test_shared_pairs_ignore_sentence_order_and_repeats():
    def pairs(*rows: tuple[str, str]) -> PairDataset:
        return PairDataset.build("x", "x.jsonl", *zip(*rows, strict=True), labels=[1] * len(rows))

    test = pairs(("b", "a"), ("c", "d"), ("a", "b"), ("e", "e"))
    calibration = pairs(("a", "b"), ("d", "x"), ("e", "e"))
    assert test.shared_pairs(calibration) == [("b", "a"), ("e", "e")]
    assert pairs(("c", "c")).shared_pairs(pairs(("c", "d"))) == []


def test_results_json_counts_each_data_sets_overlap(tmp_path):
    reference = spec_of(write_pairs(tmp_path, ROWS), "reference")
    gating = next(s for s in load_config(GATE_TOML).datasets if s.gates)
    config = load_config(GATE_TOML).replace(datasets=(gating, reference))
    datasets = {s.name: load_dataset(s, config.threshold) for s in config.datasets}
    context = RunContext(config, [], datasets, datetime(2026, 12, 1, tzinfo=UTC))
    doc = build_results(context, Findings(), Outcomes(), finished=context.started)
    assert [(d["name"], d["calibration_overlap"]) for d in doc["datasets"]] == [
        ("it_incidents", 0),
        ("tickets", 2),
    ]


def test_the_summary_shows_a_reference_sets_overlap():
    results, _ = build(datasets={"it": "both", "stsb": "graded"})
    results["datasets"][1]["calibration_overlap"] = 3
    summary = " ".join(render_summary(results).split())
    assert (
        "data set 'stsb': 3 pair(s) in both the calibration and the test part (the threshold is "
        "tuned on pairs it is judged on)"
    ) in summary
    assert "data set 'it'" not in summary
