"""gate.toml validation: the repository's file loads; every mistake names its key and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.config import check_device, load_config
from harness.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
GATE_TOML = REPO / "gate.toml"


def edited(tmp_path: Path, pattern: str, replacement: str) -> Path:
    """A copy of the repository's gate.toml with one regex substitution (which must match)."""
    text, count = re.subn(pattern, replacement, GATE_TOML.read_text(encoding="utf-8"), flags=re.M)
    assert count, f"{pattern!r} matched nothing in gate.toml"
    path = tmp_path / "gate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path)), "the message names the file"
    assert "\n  fix: " in message, "the message says how to fix it"
    return message


def test_repository_gate_toml_loads():
    config = load_config(GATE_TOML)

    assert config.source == GATE_TOML
    assert config.checkpoints_dir == REPO / "models"
    assert config.device == "auto"
    assert config.baselines[0].model == "sentence-transformers/all-MiniLM-L6-v2"
    assert config.effect.probe_path == REPO / "fixtures" / "probe_sentences.txt"
    assert config.effect.probe_path.is_file()
    gating = [spec for spec in config.datasets if spec.gates]
    assert [spec.name for spec in gating] == ["it_incidents"]
    assert gating[0].path == REPO / "fixtures" / "it_incidents.jsonl"
    assert gating[0].targets["fp_rate"] == pytest.approx(0.20)
    assert all(not spec.targets for spec in config.datasets if not spec.gates)


@pytest.mark.parametrize(
    ("pattern", "typo", "table", "meant"),
    [
        (r"^batch_size = ", "batch_sise = ", "gate", "batch_size"),
        (
            r"^min_mean_cosine_distance = ",
            "min_mean_cosine_distanse = ",
            "effect",
            "min_mean_cosine_distance",
        ),
        (r"^n_resamples = ", "n_resample = ", "comparison", "n_resamples"),
        (
            r"^calibration_split = ",
            "calibraton_split = ",
            "datasets.it_incidents",
            "calibration_split",
        ),
        (r"^\[threshold\]", "[treshold]", "gate.toml", "threshold"),
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
        (
            r"^spearman = 0\.80",
            "spearman = 1.5",
            "[targets] spearman = 1.5 is outside its range [-1.0, 1.0]",
        ),
        (
            r"^roc_auc = 0\.95",
            "roc_auc = -0.1",
            "[targets] roc_auc = -0.1 is outside its range [0.0, 1.0]",
        ),
        (
            r"^confidence = 0\.95",
            "confidence = 1.5",
            "[comparison] confidence = 1.5 is outside its range",
        ),
        (
            r"^batch_size = 64",
            "batch_size = 0",
            "[gate] batch_size = 0 is outside its range [1, 65536]",
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


@pytest.mark.parametrize("device", ["gpu", "cuda0", "CPU", "cuda:x", ""])
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
