"""RunContext: what a gate run was over and where it ran, as plain data. With the run's
findings and outcomes it is everything results.json is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harness.checkpoint.discover import Checkpoint
from harness.config import GateConfig
from harness.errors import GateInputError
from harness.quality.evaluate import LoadedDataset
from harness.quality.evaluate_retrieval import LoadedRetrieval

#: a readable data set: pairs, or a retrieval set
Dataset = LoadedDataset | LoadedRetrieval


@dataclass(frozen=True)
class BaselineRecord:
    """A loaded baseline as results.json names it."""

    name: str
    model: str
    path: str
    weights_fingerprint: str
    #: the cached snapshot's commit (None: not from the Hugging Face cache)
    revision: str | None = None


@dataclass(frozen=True)
class RunContext:
    """The run's inputs (config, checkpoints, data sets, baselines), its environment and the
    work it did (texts encoded per model and mode, out-of-memory fallbacks).

    `checkpoints` are the ones this run gates; `discovered` every one found before
    `--shard K/N` (`shard`) chose them (None: the same as `checkpoints`, an unsharded run)."""

    config: GateConfig
    checkpoints: list[Checkpoint]
    datasets: dict[str, Dataset | GateInputError]
    started: datetime
    shard: tuple[int, int] | None = None
    discovered: list[Checkpoint] | None = None
    baselines: list[BaselineRecord] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    texts_encoded: dict[str, int] = field(default_factory=dict)
    encode_events: list[dict[str, Any]] = field(default_factory=list)

    def all_discovered(self) -> list[Checkpoint]:
        """Every checkpoint found, this run's share or not, sorted by name."""
        found = self.checkpoints if self.discovered is None else self.discovered
        return sorted(found, key=lambda c: c.name)

    def unreadable(self, *, gating: bool) -> dict[str, str]:
        return unreadable_datasets(self.config, self.datasets, gating=gating)


def unreadable_datasets(
    config: GateConfig, datasets: dict[str, Dataset | GateInputError], *, gating: bool
) -> dict[str, str]:
    """Gating (or reference) data sets that could not be read, with the reason."""
    gates = {spec.name: spec.gates for spec in config.datasets}
    return {
        name: str(data)
        for name, data in datasets.items()
        if isinstance(data, GateInputError) and gates[name] == gating
    }
