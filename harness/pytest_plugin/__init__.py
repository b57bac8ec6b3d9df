"""The release gate's pytest plugin: options, collection by checkpoint, fixtures, recorder,
pytest-benchmark and xdist hooks. The only package of the gate that imports pytest.

Loaded through the `pytest11` entry point "harness.pytest_plugin" (so its options work
wherever pytest puts its rootdir), and by the project's conftest.py under the same name,
which pytest then skips."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # no code path of the gate may reach a model hub
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402

from harness.errors import GateInputError  # noqa: E402
from harness.pytest_plugin.collection import (  # noqa: E402
    ADAPTER_ONLY,
    LEAKAGE,
    TRAINING_RECORD,
    CollectionOrder,
)
from harness.pytest_plugin.fixtures import passes  # noqa: E402, F401  (for gate test modules)
from harness.pytest_plugin.recorder import GateRecorder  # noqa: E402
from harness.pytest_plugin.session import GATE, LazyGate, gate  # noqa: E402
from harness.pytest_plugin.xdist import XdistController, follow_controller, is_controller  # noqa: E402

pytest_plugins = [
    "harness.pytest_plugin.options",
    "harness.pytest_plugin.collection",
    "harness.pytest_plugin.fixtures",
    "harness.pytest_plugin.benchmarks",
    "harness.pytest_plugin.xdist",
    "harness.pytest_plugin.long_lived",
    "harness.pytest_plugin.project",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{ADAPTER_ONLY}: a gate check that applies only to adapter checkpoints"
    )
    config.addinivalue_line(
        "markers",
        f"{TRAINING_RECORD}: a gate check of the training record ([training_record] in gate.toml)",
    )
    config.addinivalue_line(
        "markers", f"{LEAKAGE}: the check for evaluation pairs in training ([leakage] in gate.toml)"
    )
    config.stash[GATE] = LazyGate(config)
    config.pluginmanager.register(GateRecorder(config), "release-gate-recorder")
    config.pluginmanager.register(CollectionOrder(), "release-gate-collection-order")
    if is_controller(config):
        config.pluginmanager.register(XdistController(config), "release-gate-xdist")
    follow_controller(config)
    if config.getoption("gate_device", None) not in (None, "auto"):
        try:  # fail now: --device cuda without a GPU is an error, never a skip
            gate(config)
        except GateInputError as exc:
            raise pytest.UsageError(str(exc)) from None
