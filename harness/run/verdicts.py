"""The verdict rule, one place for a run and for combined runs: REJECT with the first check (by
name) that did not pass; else INCOMPLETE while a check of the battery did not run; else
PROMOTE. By name, not by run order, so a run split over workers or shards reads the same.

Also the words of results.json's verdicts and check outcomes, for everything that reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PROMOTE, REJECT = "PROMOTE", "REJECT"
#: every check that ran passed, but the battery is not complete: never promoted, the run fails
INCOMPLETE = "INCOMPLETE"

PASSED, FAILED, SKIPPED, ERROR = "passed", "failed", "skipped", "error"
#: outcomes that are no verdict: the check did not run to its end, so the gate fails closed
UNSOUND_OUTCOMES = (SKIPPED, ERROR)


def sorted_checks(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checks ({"check", "outcome", "message"}) by name; equal names keep their order."""
    return sorted(checks, key=lambda c: c["check"])


def verdict_of(
    checks: list[dict[str, Any]], missing: list[str]
) -> tuple[str, dict[str, Any] | None]:
    """(REJECT, the first failing check over `sorted_checks` order); else (INCOMPLETE, None)
    if required checks are `missing`; else (PROMOTE, None). A failure decides on its own: no
    check still to run could turn it into a PROMOTE."""
    failures = [c for c in sorted_checks(checks) if c["outcome"] != PASSED]
    if failures:
        return REJECT, failures[0]
    return (INCOMPLETE, None) if missing else (PROMOTE, None)


def unsound_checks(checkpoints: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The checks of results.json's `checkpoints` that were skipped or errored."""
    return [
        check
        for checkpoint in checkpoints
        for check in checkpoint.get("checks", [])
        if check.get("outcome") in UNSOUND_OUTCOMES
    ]
