"""Outcomes: each gate check's result per checkpoint, the checks that do not apply, and whether
the verdicts rest on a complete run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.run.verdicts import ERROR, FAILED, PASSED, SKIPPED, UNSOUND_OUTCOMES, sorted_checks

#: a test's phases report separately; the worst one is its outcome
OUTCOME_SEVERITY = {PASSED: 0, FAILED: 1, SKIPPED: 2, ERROR: 3}


@dataclass
class CheckOutcome:
    """One gate test's result for one checkpoint."""

    checkpoint: str
    check: str
    outcome: str  # passed | failed | error | skipped
    message: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "outcome": self.outcome, "message": self.message}


@dataclass(frozen=True)
class NotApplicable:
    """A check not generated for a checkpoint, because it cannot apply to its kind."""

    check: str
    checkpoint: str
    reason: str


@dataclass
class Outcomes:
    """Every gate test's outcome by node id, and the checks that were not applicable."""

    by_test: dict[str, CheckOutcome] = field(default_factory=dict)
    not_applicable: list[NotApplicable] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.by_test)

    def record(self, nodeid: str, outcome: CheckOutcome) -> None:
        """Keep a test's worst phase: a teardown error after a pass is still an error."""
        previous = self.by_test.get(nodeid)
        if (
            previous is None
            or OUTCOME_SEVERITY[outcome.outcome] > OUTCOME_SEVERITY[previous.outcome]
        ):
            self.by_test[nodeid] = outcome

    def has_failed(self, checkpoint: str) -> bool:
        """A gate test of this checkpoint did not pass so far: it can no longer be promoted."""
        return any(
            o.checkpoint == checkpoint and o.outcome != PASSED for o in self.by_test.values()
        )

    def unsound(self) -> list[CheckOutcome]:
        """Gate tests skipped or errored: not run to a verdict, so the gate fails closed."""
        return [o for o in self.by_test.values() if o.outcome in UNSOUND_OUTCOMES]

    def checks_of(self, checkpoint: str) -> list[dict[str, Any]]:
        """A checkpoint's checks as results.json lists them (by name)."""
        return sorted_checks(
            [o.to_dict() for o in self.by_test.values() if o.checkpoint == checkpoint]
        )


def incomplete_reasons(
    outcomes: Outcomes,
    missing: dict[str, list[str]],
    unreadable_gating: dict[str, str],
) -> list[str]:
    """Why the verdicts do not rest on every check of every checkpoint and gating data set.

    Empty for a complete run; otherwise the run fails and results.json says
    `complete: false` with these reasons (a partial report never passes for a whole one).
    `missing`: each judged checkpoint's required checks that did not run (an xdist worker
    judges none: its share of a checkpoint's checks is completed by the others).
    """
    reasons = []
    unsound = outcomes.unsound()
    if unsound:
        reasons.append(
            f"{len(unsound)} gate test(s) were skipped or errored, so their checks have no "
            "verdict (FAILED CLOSED)"
        )
    for name, error in unreadable_gating.items():
        reasons.append(f"gating data set '{name}' could not be read: {error.splitlines()[0]}")
    return reasons + missing_check_reasons(
        {name: (checks, bool(outcomes.checks_of(name))) for name, checks in missing.items()}
    )


#: how many missing checks a reason names before it counts the rest
NAMED_MISSING = 6


def missing_check_reasons(missing: dict[str, tuple[list[str], bool]]) -> list[str]:
    """One reason per checkpoint with required checks that did not run; `missing` maps a
    checkpoint to (those checks, whether any of its checks ran)."""
    reasons = []
    for name, (checks, any_ran) in sorted(missing.items()):
        if not checks:
            continue
        if not any_ran:
            reasons.append(
                f"checkpoint '{name}' was not gated: none of its {len(checks)} required checks ran"
            )
            continue
        named = ", ".join(checks[:NAMED_MISSING])
        more = len(checks) - NAMED_MISSING
        reasons.append(
            f"checkpoint '{name}' is INCOMPLETE: {len(checks)} required check(s) did not run: "
            f"{named}{f' and {more} more' if more > 0 else ''}"
        )
    return reasons
