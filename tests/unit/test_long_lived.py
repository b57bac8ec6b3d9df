"""The plugin keeps the collector off what the run imported: frozen from the end of collection
(a test sees a frozen generation), unfrozen at the end (nothing stays frozen in the process
that ran the session, here the outer one)."""

from __future__ import annotations

import gc

import pytest


def test_imports_are_frozen_during_the_run_and_unfrozen_after(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import gc

        def test_sees_the_imports_frozen():
            assert gc.get_freeze_count() > 0
        """
    )
    gc.unfreeze()  # the outer session's own freeze must not make the inner test pass

    result = pytester.runpytest_inprocess("-p", "harness.pytest_plugin.long_lived")

    result.assert_outcomes(passed=1)
    assert gc.get_freeze_count() == 0
