"""The gate fails closed: a run that could not check something never passes (pytester)."""

from __future__ import annotations

import re

import pytest
import torch
from factories import make_full_model


@pytest.fixture
def no_cuda(monkeypatch):
    """torch sees no CUDA device, on any machine (this one has none anyway)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def assert_no_skip(run) -> None:
    assert not re.search(r"\d+ skipped", run.text), "a missing GPU must never be a skip"


def test_device_cuda_option_without_gpu_is_an_error(gate_project, no_cuda):
    run = gate_project.run(gate_project.stub_checkpoint("full-model"), args=["--device=cuda"])

    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert "--device: 'cuda' was asked for but torch sees no CUDA device" in run.text
    assert "fix: run on a GPU machine, or use --device cpu (or auto)" in run.text
    assert_no_skip(run)


def test_device_cuda_in_gate_toml_without_gpu_is_an_error(gate_project, no_cuda):
    gate_project.set_config('device = "auto"', 'device = "cuda"')

    run = gate_project.run(gate_project.stub_checkpoint("full-model"))

    assert run.ret != 0
    assert "gate.toml: 'cuda' was asked for but torch sees no CUDA device" in run.text
    assert " passed" not in run.text
    assert_no_skip(run)


@pytest.mark.slow
def test_a_skipped_gate_test_fails_the_run(gate_project):
    gate_test = gate_project.add_skipping_gate_test("full-model")
    checkpoint = make_full_model(gate_project.checkpoint_path("full-model"))

    run = gate_project.run(checkpoint, args=[gate_test])

    run.result.assert_outcomes(passed=1, skipped=1)  # alone, pytest would call this a success
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    summary = run.summary()
    assert "REJECT   full-model: cannot_check_here skipped" in summary
    assert "this check needs a GPU" in summary
    assert "FAILED CLOSED: 1 gate test(s) were skipped or errored" in summary


def test_a_missing_checkpoints_directory_is_an_error(gate_project):
    """(An empty one: test_bad_inputs.py::test_empty_checkpoints_directory_gates_nothing.)"""
    models = gate_project.path / "models"
    models.rmdir()
    run = gate_project.run()  # no --checkpoint: gate everything below checkpoints_dir

    assert run.ret != 0
    assert f"{models}: the checkpoints directory does not exist" in run.text
    assert "fix: " in run.text
    assert " passed" not in run.text
    assert_no_skip(run)
