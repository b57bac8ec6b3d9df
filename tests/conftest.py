"""Fixtures shared by the harness's own tests: built checkpoints and a gate project for pytester.

The helpers themselves live in modules beside this one (tests/ is on sys.path): paths.py,
gate_project.py, adapter_battery.py, cases.py, factories.py, bad_inputs.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gate_project import GateProject, gate_toml  # noqa: F401 (gate_toml: benchmarks/gate_cost.py)


@pytest.fixture(scope="session")
def good_adapter_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained sentence-transformers-style adapter, built once per run: copy, never edit."""
    from factories import make_adapter

    return make_adapter(tmp_path_factory.mktemp("templates") / "good-adapter")


@pytest.fixture
def good_adapter(good_adapter_template: Path, tmp_path: Path) -> Path:
    """A private copy of the trained adapter, free to break."""
    from factories import copy_checkpoint

    return copy_checkpoint(good_adapter_template, tmp_path / "good-adapter")


@pytest.fixture(scope="session")
def embeddings_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One baseline-embedding cache for all gate projects of a run (the baseline never changes)."""
    return tmp_path_factory.mktemp("embeddings-cache")


@pytest.fixture(scope="session")
def model_libraries() -> None:
    """torch, transformers, PEFT and sentence-transformers imported once, before any pytester:
    pytester restores sys.modules after each test, and a library first imported inside one
    would be imported again by the next over its still-loaded C extensions, which crashes the
    process (torch: "bad call flags", then a segfault)."""
    import peft  # noqa: F401
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401


@pytest.fixture
def gate_project(
    model_libraries: None, pytester: pytest.Pytester, embeddings_cache: Path
) -> GateProject:
    """A gate project (GateProject.create) in this test's pytester folder."""
    return GateProject.create(pytester, embeddings_cache)


@pytest.fixture(scope="module")
def once_per_module() -> Callable[[str, Callable[[], Any]], Any]:
    """`once_per_module(key, build)`: what `build()` returns, built by the module's first test
    that asks and handed to its other tests as it is (one gate run shared by a case table's
    tests). An exception `build()` raised is raised again, not built again."""
    built: dict[str, tuple[bool, Any]] = {}

    def once(key: str, build: Callable[[], Any]) -> Any:
        if key not in built:
            try:
                built[key] = (True, build())
            except Exception as error:
                built[key] = (False, error)
        ok, value = built[key]
        if not ok:
            raise value
        return value

    return once
