"""A pytest release gate for fine-tuned sentence-embedding models and their adapters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"


def assert_adapter_applied(model: Any, adapter_dir: str | Path, **options: Any) -> None:
    """Fail (AdapterNotApplied, an AssertionError, with the gate's diagnosis) unless `model`,
    as a team's own code loaded it, holds every tensor of `adapter_dir`'s adapter file with
    equal values and encodes differently from its base. Options: `base`, `probe`, `aliases`,
    `effect` (see harness.checkpoint.own_loader). Importing harness does not import torch."""
    from harness.checkpoint.own_loader import assert_adapter_applied as check

    check(model, adapter_dir, **options)
