"""gate.toml validation: the repository's file loads; every mistake names its key and the fix."""

from __future__ import annotations

import pytest
from config_edits import config_error, edited
from paths import GATE_TOML, REPO

from harness.config import check_device, load_config


def test_repository_gate_toml_loads():
    config = load_config(GATE_TOML)

    assert config.source == GATE_TOML
    assert config.checkpoints_dir == REPO / "models"
    assert config.device == "auto"
    assert config.baselines[0].model == "sentence-transformers/all-MiniLM-L6-v2"
    assert config.effect.probe_path == REPO / "fixtures" / "probe_sentences.txt"
    assert config.effect.probe_path.is_file()
    gating = [spec for spec in config.datasets if spec.gates]
    assert [spec.name for spec in gating] == ["it_incidents", "it_incidents_retrieval"]
    assert gating[0].path == REPO / "fixtures" / "it_incidents.jsonl"
    assert gating[0].targets["fp_rate"] == pytest.approx(0.20)
    assert all(not spec.targets for spec in config.datasets if not spec.gates)


@pytest.mark.parametrize(
    ("pattern", "typo", "table", "meant"),
    [
        pytest.param(r"^batch_size = ", "batch_sise = ", "gate", "batch_size", id="batch_size"),
        pytest.param(
            r"^min_mean_cosine_distance = ",
            "min_mean_cosine_distanse = ",
            "effect",
            "min_mean_cosine_distance",
            id="min_mean_cosine_distance",
        ),
        pytest.param(
            r"^n_resamples = ", "n_resample = ", "comparison", "n_resamples", id="n_resamples"
        ),
        pytest.param(
            r"^calibration_split = ",
            "calibraton_split = ",
            "datasets.it_incidents",
            "calibration_split",
            id="calibration_split",
        ),
        pytest.param(r"^\[threshold\]", "[treshold]", "gate.toml", "threshold", id="threshold"),
    ],
)
def test_unknown_key_is_an_error_that_suggests_the_right_one(tmp_path, pattern, typo, table, meant):
    message = config_error(edited(tmp_path, pattern, typo))
    wrong = typo.strip("[] =")
    assert f"unknown key '{wrong}' in [{table}]" in message
    assert f"did you mean '{meant}'?" in message


@pytest.mark.parametrize(
    ("pattern", "replacement", "expected"),
    [
        pytest.param(
            r"^spearman = 0\.80",
            "spearman = 1.5",
            "[targets] spearman = 1.5 is outside its range [-1.0, 1.0]",
            id="spearman",
        ),
        pytest.param(
            r"^roc_auc = 0\.95",
            "roc_auc = -0.1",
            "[targets] roc_auc = -0.1 is outside its range [0.0, 1.0]",
            id="roc_auc",
        ),
        pytest.param(
            r"^confidence = 0\.95",
            "confidence = 1.5",
            "[comparison] confidence = 1.5 is outside its range",
            id="confidence",
        ),
        pytest.param(
            r"^batch_size = 64",
            "batch_size = 0",
            "[gate] batch_size = 0 is outside its range [1, 65536]",
            id="batch_size",
        ),
    ],
)
def test_value_outside_its_range_is_an_error(tmp_path, pattern, replacement, expected):
    message = config_error(edited(tmp_path, pattern, replacement))
    assert expected in message
    assert "fix: set" in message and "to a value between" in message


def test_unknown_target_metric_is_an_error(tmp_path):
    message = config_error(edited(tmp_path, r"^spearman = 0\.80", "spearmann = 0.80"))
    assert "unknown metric 'spearmann' in [targets]" in message
    assert "did you mean 'spearman'?" in message
    assert "known metrics: spearman, pearson, roc_auc" in message


def test_unknown_comparison_metric_is_an_error(tmp_path):
    message = config_error(
        edited(tmp_path, r'^metrics = \["spearman", "roc_auc"\]', 'metrics = ["spearman", "auc"]')
    )
    assert "[comparison] metrics names an unknown metric 'auc'" in message
    assert "known metrics:" in message


@pytest.mark.parametrize("device", ["gpu", "cuda0", "CPU", "cuda:x", pytest.param("", id="empty")])
def test_bad_device_is_an_error(tmp_path, device):
    message = config_error(edited(tmp_path, r'^device = "auto"', f'device = "{device}"'))
    assert f"device '{device}' is not auto, cpu, cuda or cuda:N" in message


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_good_device_names_are_accepted(device):
    assert check_device(device) == device


def test_no_gating_data_set_is_an_error(tmp_path):
    message = config_error(edited(tmp_path, r'^role = "gate"', 'role = "reference"'))
    assert 'no data set has role = "gate"' in message
    assert 'mark at least one [datasets.NAME] with role = "gate"' in message


def test_missing_file_is_an_error(tmp_path):
    message = config_error(tmp_path / "nowhere" / "gate.toml")
    assert "the gate configuration does not exist" in message
    assert "--gate-config" in message


def test_invalid_toml_is_an_error(tmp_path):
    message = config_error(edited(tmp_path, r"^batch_size = 64", "batch_size = = 64"))
    assert "not valid TOML" in message


# ---- settings that would switch a check off --------------------------------------------------

SWITCHED_OFF = [
    # (name, pattern, replacement, problem fragments, fix fragment)
    (
        "no-comparison-metric",
        r'^metrics = \["spearman", "roc_auc"\]',
        "metrics = []",
        ["[comparison] metrics = [] names no metric", "pass every candidate"],
        'fix: name the metrics a candidate is compared on, e.g. metrics = ["spearman", "roc_auc"]',
    ),
    (
        "calibration-split-is-test-split",
        r'^calibration_split = "calibration"',
        'calibration_split = "test"',
        [
            "[datasets.it_incidents] calibration_split and test_split are both 'test'",
            "tuned on the test pairs it is judged on",
        ],
        "fix: give calibration_split and test_split two different splits of the file",
    ),
    (
        "calibration-path-is-path",
        r'^calibration_split = "calibration"',
        'calibration_path = "fixtures/../fixtures/./it_incidents.jsonl"',
        ["[datasets.it_incidents] calibration_path is path (", "it_incidents.jsonl): the thresh"],
        "fix: point calibration_path to a file of other pairs, or take both parts from one file",
    ),
    (
        "calibration-path-and-split",
        r'^calibration_split = "calibration"',
        'calibration_split = "calibration"\ncalibration_path = "fixtures/calibration.jsonl"',
        [
            "[datasets.it_incidents] sets both calibration_path and calibration_split",
            "calibration_split would be ignored",
        ],
        "fix: remove calibration_split (the calibration_path file is the calibration part), or",
    ),
]


@pytest.mark.parametrize(
    ("name", "pattern", "replacement", "problems", "fix"),
    [pytest.param(*row, id=row[0]) for row in SWITCHED_OFF],
)
def test_a_setting_that_switches_a_check_off_is_refused(
    tmp_path, name, pattern, replacement, problems, fix
):
    message = config_error(edited(tmp_path, pattern, replacement))
    for problem in problems:
        assert problem in message
    assert fix in message


def test_the_same_calibration_file_through_a_link_is_refused(tmp_path):
    real = REPO / "fixtures" / "it_incidents.jsonl"
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / real.name).symlink_to(real)  # path, relative to the edited copy
    message = config_error(
        edited(tmp_path, r'^calibration_split = "calibration"', f'calibration_path = "{real}"')
    )
    assert f"calibration_path is path ({real})" in message


def test_a_separate_calibration_file_and_a_test_split_are_accepted(tmp_path):
    config = load_config(
        edited(tmp_path, r'^calibration_split = "calibration"', 'calibration_path = "other.jsonl"')
    )
    spec = next(s for s in config.datasets if s.name == "it_incidents")
    assert (spec.calibration_path, spec.test_split) == (tmp_path / "other.jsonl", "test")


def test_a_negative_min_delta_is_a_margin_and_stays_allowed(tmp_path):
    config = load_config(edited(tmp_path, r"^min_delta = 0\.0", "min_delta = -0.02"))
    assert config.comparison.min_delta == pytest.approx(-0.02)
