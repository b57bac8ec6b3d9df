"""The verdict rule, one place for a run and for merged runs: PROMOTE only if every gate check
of a checkpoint passed, else REJECT with the first check (by name) that did not. By name, not
by run order, so a run split over workers or shards reads the same.

Also the words of results.json's verdicts and check outcomes, for everything that reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PROMOTE, REJECT = "PROMOTE", "REJECT"
#: the verdict of a checkpoint no gate test ran for
NOT_GATED = "NOT GATED"

PASSED, FAILED, SKIPPED, ERROR = "passed", "failed", "skipped", "error"
#: outcomes that are no verdict: the check did not run to its end, so the gate fails closed
UNSOUND_OUTCOMES = (SKIPPED, ERROR)


def sorted_checks(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checks ({"check", "outcome", "message"}) by name; equal names keep their order."""
    return sorted(checks, key=lambda c: c["check"])


def verdict_of(checks: list[dict[str, Any]]) -> tuple[str, dict[str, Any] | None]:
    """(PROMOTE, None), or (REJECT, the first failing check) over `sorted_checks` order."""
    failures = [c for c in sorted_checks(checks) if c["outcome"] != PASSED]
    return (REJECT, failures[0]) if failures else (PROMOTE, None)


def unsound_checks(checkpoints: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The checks of results.json's `checkpoints` that were skipped or errored."""
    return [
        check
        for checkpoint in checkpoints
        for check in checkpoint.get("checks", [])
        if check.get("outcome") in UNSOUND_OUTCOMES
    ]
