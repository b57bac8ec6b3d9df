"""Every part of a data set is checked when it is read: the test part must have pairs, both
classes if labelled and gold scores that vary if graded; a threshold policy that picks its
threshold on the calibration part needs that part, labelled, with both classes. Each refusal
names the file and the part, and says how to fix it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cases import cases

from harness.config import DatasetSpec
from harness.errors import DataError
from harness.quality.evaluate import load_dataset
from harness.quality.metrics import ThresholdPolicy

BEST_F1 = ThresholdPolicy("best_f1")
TARGET_RECALL = ThresholdPolicy("target_recall", 0.9)
FIXED = ThresholdPolicy("fixed", 0.5)
IN_SPLITS = {"calibration_split": "calibration", "test_split": "test"}


def rows(n: int, split: str | None = None, *, label: int | None = None, score: float | None = None,
         labelled: bool = True, graded: bool = True, part: str = "test") -> list[dict]:  # fmt: skip
    """`n` pairs of a split (or of a file holding one `part`), labels alternating 1/0 (or all
    `label`), scores to match (or all `score`); no labels or no scores if not `labelled` or not
    `graded`. The parts share no pair."""
    out = []
    for i in range(n):
        positive = i % 2 == 0 if label is None else bool(label)
        what = split or part
        row: dict = {"sentence1": f"{what} ticket {i}", "sentence2": f"{what} issue {i}"}
        if labelled:
            row["label"] = int(positive)
        if graded:
            row["score"] = (4.0 if positive else 1.0) if score is None else score
        if split:
            row["split"] = split
        out.append(row)
    return out


def write(folder: Path, name: str, content: list[dict]) -> Path:
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in content), encoding="utf-8")
    return path


# (name, data rows, calibration file rows or None, spec keys, policy,
#  file named ("data" or "calibration"), problem, fix)
REFUSED = [
    (
        "test part of one class",
        rows(6, "test", label=1) + rows(4, "calibration"), None, IN_SPLITS, BEST_F1, "data",
        "all 6 pairs of the test part (split 'test') carry label 1: ROC-AUC, F1 and the FP rate "
        "are undefined with one class",
        "add pairs of the other class, or set binary_cutoff so both classes occur",
    ),
    (
        "no test part left",
        rows(6, "calibration"), None, {"calibration_split": "calibration"}, BEST_F1, "data",
        "the test part (every split but 'calibration') holds no pairs",
        "add test pairs to the file, or set test_split to a split it has",
    ),
    (
        "constant gold scores",
        rows(8, score=3.0, labelled=False), None, {}, BEST_F1, "data",
        "all 8 pair(s) of the test part carry gold score 3: Spearman and Pearson correlation are "
        "undefined when the gold scores do not vary",
        "add pairs with other scores (at least two distinct scores are needed)",
    ),
    (
        "constant gold scores beside labels",
        rows(8, "test", score=2.5) + rows(4, "calibration"), None, IN_SPLITS, FIXED, "data",
        "all 8 pair(s) of the test part (split 'test') carry gold score 2.5: Spearman and "
        "Pearson correlation are undefined",
        "add pairs with other scores",
    ),
    (
        "calibration split of one class",
        rows(8, "test") + rows(5, "calibration", label=0), None, IN_SPLITS, BEST_F1, "data",
        "all 5 pairs of the calibration part (split 'calibration') carry label 0: the threshold "
        "policy 'best_f1' cannot pick a threshold with one class",
        "add calibration pairs of the other class, set binary_cutoff so both classes occur, or "
        "use a fixed threshold",
    ),
    (
        "calibration file of one class",
        rows(8), rows(3, label=1, part="calibration"), {}, TARGET_RECALL, "calibration",
        "all 3 pairs of the calibration part (calibration_path) carry label 1: the threshold "
        "policy 'target_recall' cannot pick a threshold with one class",
        "add calibration pairs of the other class",
    ),
    (
        "calibration file without labels",
        rows(8), rows(4, labelled=False, part="calibration"), {}, BEST_F1, "calibration",
        "the calibration part (calibration_path) has no labels, and the threshold policy "
        "'best_f1' picks the threshold on labelled pairs",
        "give its rows a 0/1 label, set binary_cutoff so its scores give labels, or use a fixed "
        "threshold",
    ),
    (
        "no calibration part",
        rows(8), None, {}, BEST_F1, "data",
        "the threshold policy 'best_f1' picks the threshold on a labelled calibration part, and "
        "this data set has none",
        "set calibration_path (or calibration_split and test_split) under [datasets.tickets] in "
        "gate.toml, or use a fixed threshold",
    ),
]  # fmt: skip


def spec_in(folder: Path, role: str, data: list[dict], calibration: list[dict] | None,
            keys: dict) -> tuple[DatasetSpec, dict[str, Path]]:  # fmt: skip
    files = {"data": write(folder, "data", data)}
    if calibration is not None:
        files["calibration"] = write(folder, "calibration", calibration)
        keys = {**keys, "calibration_path": files["calibration"]}
    return DatasetSpec("tickets", role, files["data"], "jsonl", **keys), files


@pytest.mark.parametrize("role", ["gate", "reference"])
@pytest.mark.parametrize(
    ("name", "data", "calibration", "keys", "policy", "file", "problem", "fix"), cases(REFUSED)
)
def test_a_part_unfit_for_its_metrics_is_refused_when_read(
    tmp_path, role, name, data, calibration, keys, policy, file, problem, fix
):
    spec, files = spec_in(tmp_path, role, data, calibration, keys)
    with pytest.raises(DataError) as refused:
        load_dataset(spec, policy)
    message = str(refused.value)
    assert message.startswith(f"{files[file]}: {problem}"), message
    assert f"\n  fix: {fix}" in message, message


# (name, data rows, calibration file rows or None, spec keys, policy): each read as it is
ACCEPTED = [
    ("a fixed threshold needs no calibration part", rows(8), None, {}, FIXED),
    (
        "a fixed threshold takes a calibration split of one class",
        rows(8, "test") + rows(5, "calibration", label=0), None, IN_SPLITS, FIXED,
    ),
    ("a graded-only set has no threshold to pick", rows(8, labelled=False), None, {}, BEST_F1),
    (
        "binary_cutoff labels the calibration file",
        rows(8), rows(4, labelled=False, part="calibration"), {"binary_cutoff": 3.0},
        BEST_F1,
    ),
    ("two parts fit for every metric", rows(8, "test") + rows(4, "calibration"), None, IN_SPLITS,
     TARGET_RECALL),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "calibration", "keys", "policy"), cases(ACCEPTED))
def test_parts_fit_for_what_is_asked_of_them_are_read(
    tmp_path, name, data, calibration, keys, policy
):
    spec, _ = spec_in(tmp_path, "gate", data, calibration, keys)
    loaded = load_dataset(spec, policy)
    assert len(loaded.test) == 8
