"""The gate's command-line options, validated where they are parsed."""

from __future__ import annotations

import argparse

import pytest

from harness.config import check_device
from harness.errors import GateInputError
from harness.pytest_plugin.xdist import parse_shard


def _device_option(value: str) -> str:
    try:
        return check_device(value)
    except GateInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("release gate", "release gate for sentence-embedding checkpoints")
    group.addoption(
        "--gate-config",
        default=None,
        metavar="PATH",
        help="gate configuration (default: gate.toml of the project pytest is run in)",
    )
    group.addoption(
        "--checkpoint",
        action="append",
        default=[],
        dest="gate_checkpoints",
        metavar="PATH",
        help="gate only this checkpoint folder (repeatable)",
    )
    group.addoption(
        "--device",
        default=None,
        type=_device_option,
        dest="gate_device",
        help="auto | cpu | cuda | cuda:N (default: gate.toml, else auto)",
    )
    group.addoption(
        "--shard",
        default=None,
        type=parse_shard,
        dest="gate_shard",
        metavar="K/N",
        help="gate only shard K of N (a stable hash of each checkpoint's name)",
    )
    group.addoption(
        "--promote-to",
        default=None,
        metavar="DIR",
        dest="gate_promote_to",
        help="copy each checkpoint that passes every gate test, merged, into DIR/<name>/",
    )
    group.addoption(
        "--report-dir",
        default=None,
        metavar="DIR",
        dest="gate_report_dir",
        help="where reports are written (default: gate.toml's report_dir)",
    )
