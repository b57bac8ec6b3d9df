"""The verdict rule, one place for a run and for merged runs: PROMOTE only if every gate check
of a checkpoint passed, else REJECT with the first check (by name) that did not. By name, not
by run order, so a run split over workers or shards reads the same."""

from __future__ import annotations

from typing import Any


def sorted_checks(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checks ({"check", "outcome", "message"}) by name; equal names keep their order."""
    return sorted(checks, key=lambda c: c["check"])


def verdict_of(checks: list[dict[str, Any]]) -> tuple[str, dict[str, Any] | None]:
    """("PROMOTE", None), or ("REJECT", the first failing check) over `sorted_checks` order."""
    failures = [c for c in sorted_checks(checks) if c["outcome"] != "passed"]
    return ("REJECT", failures[0]) if failures else ("PROMOTE", None)
