"""Keep the garbage collector off the libraries the gate imports.

torch, transformers, sentence-transformers, hypothesis and the rest are imported by the time
the gate modules are collected: about half a million objects that live as long as the run.
Every full collection walks them all again (about 0.4 CPU s on a 2-core CPU), and a run makes
one per candidate (`release_memory`), one in hypothesis and two in pytest's own teardown.
Frozen after collection (`gc.freeze`), they are left out of those walks; the models, loaded
later, are collected as before. Unfrozen last, after pytest's teardown collections, so an
in-process run (pytester) leaves nothing frozen behind in the process that started it.
"""

from __future__ import annotations

import gc

import pytest


@pytest.hookimpl(tryfirst=True)  # cleanups run last-in first-out: this one after pytest's
def pytest_configure(config: pytest.Config) -> None:
    config.add_cleanup(gc.unfreeze)


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.freeze()
