"""The change profile outside the model: `[effect] min_changed_fraction`, the summary line and
the report's plot by layer (results.json documents built by hand)."""

from __future__ import annotations

import base64
import re

import pytest
from config_edits import config_error, edited
from paths import GATE_TOML
from results_factory import build

from harness.config import load_config
from harness.report.html import render_html
from harness.report.terminal import profile_line, render_summary

MODULES = [
    ("encoder.layer.0.attention.self.query", 0, 2.0e-3),
    ("encoder.layer.0.attention.self.value", 0, 5.0e-3),
    ("encoder.layer.1.attention.self.query", 1, 0.0),
    ("encoder.layer.1.attention.self.value", 1, 4.0e-2),
    ("pooler.dense", None, 0.0),
]


def profile() -> dict:
    return {
        "adapter_name": "default",
        "n_modules": 5,
        "n_changed": 3,
        "zero_threshold": 1e-7,
        "min_relative_update": 0.0,
        "min_module": "encoder.layer.1.attention.self.query",
        "max_relative_update": 4.0e-2,
        "max_module": "encoder.layer.1.attention.self.value",
        "unchanged": ["encoder.layer.1.attention.self.query", "pooler.dense"],
        "modules": [
            {
                "module": m,
                "kind": "lora",
                "layer": layer,
                "update_norm": r,
                "base_norm": 1.0,
                "relative_update": r,
            }
            for m, layer, r in MODULES
        ],
    }


def test_min_changed_fraction_defaults_to_every_module_and_is_validated(tmp_path):
    assert load_config(GATE_TOML).effect.min_changed_fraction == 1.0
    lowered = edited(tmp_path, r"^min_changed_fraction = .*$", "min_changed_fraction = 0.9")
    assert load_config(lowered).effect.min_changed_fraction == pytest.approx(0.9)
    removed = edited(tmp_path, r"^min_changed_fraction = .*$", "")
    assert load_config(removed).effect.min_changed_fraction == 1.0

    too_high = config_error(
        edited(tmp_path, r"^min_changed_fraction = .*$", "min_changed_fraction = 1.5")
    )
    typo = config_error(edited(tmp_path, r"^min_changed_fraction = ", "min_changed_fractoin = "))

    assert "[effect] min_changed_fraction = 1.5 is outside its range [0, 1]" in too_high
    assert "did you mean 'min_changed_fraction'?" in typo


def test_profile_line_names_counts_extremes_and_unchanged_modules():
    line = profile_line(profile())
    assert line == (
        "change profile: 3 of 5 adapted modules changed; relative update min 0.00e+00 "
        "(encoder.layer.1.attention.self.query), max 4.00e-02 "
        "(encoder.layer.1.attention.self.value); unchanged: "
        "encoder.layer.1.attention.self.query, pooler.dense"
    )
    assert profile_line({"n_modules": 0}) == "change profile: no adapted module found"


def test_terminal_summary_shows_one_profile_per_checkpoint():
    results, _ = build(candidates={"cand-a": 0.9, "cand-b": 0.8})
    results["checkpoints"][0]["change_profile"] = profile()
    results["checkpoints"][1].update(change_profile=None, kind="full_model")  # no profile

    summary = render_summary(results)

    lines = summary.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("PROMOTE  cand-a"))
    assert lines[at + 1].startswith("         change profile: 3 of 5 adapted modules changed;")
    assert all(len(line) <= 100 for line in lines)
    assert summary.count("change profile:") == 1


def test_report_plots_the_profile_by_layer():
    results, arrays = build(candidates={"cand-a": 0.9})
    results["checkpoints"][0]["change_profile"] = profile()

    page = render_html(results, arrays)

    figure = re.search(
        r'<figure><img src="data:image/png;base64,([^"]+)" alt="change profile of cand-a">'
        r"<figcaption>([^<]+)</figcaption>",
        page,
    )
    assert figure is not None
    assert base64.b64decode(figure.group(1)).startswith(b"\x89PNG")
    assert figure.group(2).startswith("change profile: 3 of 5 adapted modules changed")
    without = render_html(build(candidates={"cand-a": 0.9})[0], arrays)
    assert 'alt="change profile of' not in without
