"""Where the repository's own files are, for the harness's tests (one definition each)."""

from __future__ import annotations

from pathlib import Path

from harness.toml_table import datasets_root

REPO = Path(__file__).resolve().parents[1]
GATE_TOML = REPO / "gate.toml"
#: the real gate test modules (the adapter, quality, behaviour and throughput batteries)
GATE_TESTS = REPO / "tests" / "gate"
#: the shared public data sets (STS-B, MRPC): $GATE_DATASETS, else ../shared/datasets
DATASETS = datasets_root(REPO)
