"""The gate's options as pytest users type them: the space form and the `=` form, with paths
outside the project, on the first run and on every later one (once the report folder exists),
from the project root. pytest reads `--checkpoint /elsewhere/ckpt` as a test path before any
plugin loads and settles on a rootdir outside the project; the plugin, loaded through its
entry point, still parses its options and finds its project (gate.toml, tests/gate)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from paths import GATE_TOML, REPO

pytestmark = pytest.mark.slow

EXAMPLE_ADAPTER = REPO / "models" / "minilm-stsb-lora"


def gate(*options: str) -> subprocess.CompletedProcess[str]:
    """`python -m pytest -m gpu ...` from the project root, one cheap check selected."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-k", "baseline_untouched",
               "-p", "no:cacheprovider", *options]  # fmt: skip
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_options_in_both_forms_with_paths_outside_the_project_on_every_run(tmp_path):
    outside = tmp_path / "elsewhere"
    checkpoint = shutil.copytree(EXAMPLE_ADAPTER, outside / "minilm-stsb-lora")
    reports = outside / "reports"
    forms = {
        "space": ["--checkpoint", str(checkpoint), "--report-dir", str(reports),
                  "--device", "cpu", "--shard", "1/1"],
        "=": [f"--checkpoint={checkpoint}", f"--report-dir={reports}", "--device=cpu",
              "--shard=1/1"],
        # a path inside the project among the values: pytest then finds the project's ini
        "space, --gate-config": ["--gate-config", str(GATE_TOML), "--checkpoint",
                                 str(checkpoint), "--report-dir", str(reports)],
    }  # fmt: skip

    seen = []
    for night in (1, 2):  # the second night: the report folder exists, pytest sees a path
        for form, options in forms.items():
            done = gate(*options)
            why = (form, night, done.stdout[-3000:], done.stderr[-2000:])
            assert "unrecognized arguments" not in done.stderr, why
            assert done.returncode == 1, why  # INCOMPLETE: one check of the battery ran
            passed = re.search(r" 1 passed, (\d+) deselected", done.stdout)
            assert passed, why
            if form == "space":  # pytest missed the project's ini: the plugin collects tests/gate
                assert int(passed[1]) < 40, why  # only the gate's own tests were collected
            results = json.loads((reports / "latest" / "results.json").read_text())
            [row] = results["checkpoints"]
            assert row["path"] == str(checkpoint)
            seen.append((row["verdict"], [(c["check"], c["outcome"]) for c in row["checks"]]))
    assert seen == [("INCOMPLETE", [("baseline_untouched", "passed")])] * 6
    assert len([p for p in reports.iterdir() if not p.is_symlink()]) == 6
