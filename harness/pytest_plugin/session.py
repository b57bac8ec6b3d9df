"""The run's GateSession, kept in `config.stash` and created from gate.toml on first use."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_config
from harness.pytest_plugin.project import gate_config_path
from harness.pytest_plugin.xdist import worker_id
from harness.run.session import GateSession


class LazyGate:
    """Reads gate.toml on first use, so runs without gate tests never need it."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self.session: GateSession | None = None

    def get(self) -> GateSession:
        if self.session is None:
            opts = self._config.option
            gate_config = load_config(gate_config_path(self._config))
            if opts.gate_report_dir:
                gate_config = gate_config.replace(report_dir=Path(opts.gate_report_dir).resolve())
            self.session = GateSession(
                config=gate_config,
                requested_device=opts.gate_device or gate_config.device,
                device_source="--device" if opts.gate_device else str(gate_config.source),
                checkpoint_paths=list(opts.gate_checkpoints),
                shard=opts.gate_shard,
                promote_to=Path(opts.gate_promote_to).resolve() if opts.gate_promote_to else None,
                worker=worker_id(self._config),
            )
        return self.session


GATE = pytest.StashKey[LazyGate]()


def gate(config: pytest.Config) -> GateSession:
    """The run's GateSession (created on first use); bad input raises GateInputError."""
    session = config.stash[GATE].get()
    session.device  # noqa: B018 - resolve once; a missing GPU is an input error
    return session


def started_gate(config: pytest.Config) -> GateSession | None:
    """The run's GateSession if anything created it, without creating one."""
    return config.stash[GATE].session
