"""Two gate runs on the CPU over the same inputs write the same results.json, apart from the
`run` block (timestamps, timings, and the texts encoded: the second run serves the baseline
from the embedding cache the first one filled)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from bad_inputs import tiny_gating_set

pytestmark = pytest.mark.slow

BASELINE_KEY = "baseline/all-MiniLM-L6-v2"


def differences(a: Any, b: Any, where: str = "") -> Iterator[str]:
    """Every path at which two JSON documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from differences(a.get(key), b.get(key), f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from differences(x, y, f"{where}[{index}]")
    elif a != b:
        yield f"{where}: {str(a)[:80]!r} != {str(b)[:80]!r}"


def test_two_runs_give_identical_results(gate_project, good_adapter, tmp_path):
    gate_project.include("test_quality.py")
    tiny_gating_set(gate_project)
    gate_project.set_config('cache_dir = "', f'cache_dir = "{tmp_path.as_posix()}/own-cache" #')

    runs = [gate_project.run(good_adapter) for _ in range(2)]

    for run in runs:  # the adapter and quality checks (INCOMPLETE without the rest)
        outcomes = run.result.parseoutcomes()
        assert outcomes["passed"] > 0 and not {"failed", "error", "errors"} & set(outcomes)
    folders = sorted(
        p
        for p in (gate_project.path / "reports").iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
    )
    first, second = (json.loads((f / "results.json").read_text()) for f in folders)
    assert first["run"]["texts_encoded"][BASELINE_KEY] > 0
    assert BASELINE_KEY not in second["run"]["texts_encoded"]  # all from the cache
    assert first["evaluations"] and first["checkpoints"][0]["checks"]
    first.pop("run"), second.pop("run")
    assert first == second, "\n".join(differences(first, second))
