"""`python -m harness compare OLD NEW`: what changed between two gate runs' results.json.

The rule for a metric: for every (model, data set, metric) both runs report, the change is
flagged when the new value lies outside the old run's interval (`metrics[m].ci`), or the old
value outside the new run's interval. Within both intervals the runs agree up to resampling
noise and the change is only counted. A metric without an interval in either run is compared
exactly and never counts as a regression. The direction comes from
`harness.quality.checks.greater_is_better`: a flagged change the worse way is a regression.
Per-slice metrics are compared by the same rule; a slice newly significantly worse than the
baseline, and more leaked evaluation pairs on a gating set, are regressions too.

A verdict that was PROMOTE and is anything else now (REJECT, INCOMPLETE) is a regression too.
Data sets whose fingerprint changed are warned about, and every metric on them is marked
"different data": such changes still count (fail closed), but they compare different pairs.

Exit status: 0 nothing regressed, 1 a regression, 2 unreadable input.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import GateInputError
from harness.quality.checks import greater_is_better
from harness.report.folder import read_results
from harness.report.leaderboard import verdict_reason
from harness.report.plaintext import wrap
from harness.run.verdicts import PROMOTE

EXIT_OK, EXIT_REGRESSION, EXIT_UNREADABLE = 0, 1, 2
REASON = 120  # characters of a new verdict's first failure


@dataclass
class Change:
    """One line of the comparison."""

    kind: str  # metric | verdict
    text: str
    regression: bool = False
    improvement: bool = False


@dataclass
class Comparison:
    """Everything that differs between two runs."""

    regressions: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # verdict changes that are neither, notes
    warnings: list[str] = field(default_factory=list)
    new_checkpoints: list[str] = field(default_factory=list)
    vanished_checkpoints: list[str] = field(default_factory=list)
    within_interval: int = 0  # metric changes within both intervals (not listed)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    @property
    def unchanged(self) -> bool:
        return not (self.regressions or self.improvements or self.other or self.warnings
                    or self.new_checkpoints or self.vanished_checkpoints or self.within_interval)

    def add(self, change: Change) -> None:
        if change.regression:
            self.regressions.append(change)
        elif change.improvement:
            self.improvements.append(change)
        else:
            self.other.append(change.text)


def _value(row: dict[str, Any] | None) -> float | None:
    value = (row or {}).get("value")
    return None if value is None or not math.isfinite(value) else float(value)


def _interval(row: dict[str, Any] | None) -> tuple[float, float] | None:
    ci = (row or {}).get("ci")
    if not ci or len(ci) != 2 or any(v is None or not math.isfinite(v) for v in ci):
        return None
    return float(ci[0]), float(ci[1])


def _outside(value: float, interval: tuple[float, float] | None) -> bool:
    return interval is not None and not interval[0] <= value <= interval[1]


def _fmt_ci(interval: tuple[float, float] | None) -> str:
    return "no interval" if interval is None else f"[{interval[0]:.4f}, {interval[1]:.4f}]"


def compare_metric(
    model: str, dataset: str, metric: str, old: dict[str, Any], new: dict[str, Any],
    *, different_data: bool = False,
) -> Change | None:
    """The change of one metric by the interval rule (module docstring), or None if none."""
    old_value, new_value = _value(old), _value(new)
    if old_value is None or new_value is None:
        if (old_value is None) != (new_value is None):
            return Change("metric", f"{model} on {dataset}: {metric} "
                          f"{_show(old_value)} -> {_show(new_value)} (became "
                          f"{'defined' if old_value is None else 'undefined'})")
        return None
    if old_value == new_value:
        return None
    old_ci, new_ci = _interval(old), _interval(new)
    higher = greater_is_better(metric)
    head = f"{model} on {dataset}: {metric} {old_value:.4f} -> {new_value:.4f}"
    if old_ci is None and new_ci is None:
        return Change("metric", f"{head} (no interval to judge it)")
    if not (_outside(new_value, old_ci) or _outside(old_value, new_ci)):
        return Change("metric", "")  # within the intervals: counted, not listed
    if higher is None:
        return Change("metric", f"{head} (beyond the intervals; unknown metric, no direction)")
    better = (new_value > old_value) == higher
    word = "better" if better else "WORSE"
    note = ", different data" if different_data else ""
    text = (f"{head} ({new_value - old_value:+.4f}, {word}{note}); old interval "
            f"{_fmt_ci(old_ci)}, new {_fmt_ci(new_ci)}")
    return Change("metric", text, regression=not better, improvement=better)


def _show(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"


def _by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in rows if "name" in row}


def compare_results(old: dict[str, Any], new: dict[str, Any]) -> Comparison:
    """Every difference between two results.json documents that a reviewer acts on."""
    out = Comparison()
    old_sets, new_sets = _by_name(old["datasets"]), _by_name(new["datasets"])
    changed_data: set[str] = set()
    for name in sorted(old_sets.keys() & new_sets.keys()):
        before, after = old_sets[name], new_sets[name]
        if before.get("status", "ok") != after.get("status", "ok"):
            changed_data.add(name)
            out.warnings.append(f"data set '{name}' was {before.get('status', 'ok')}, now "
                                f"{after.get('status', 'ok')}")
            continue
        for key, what in (("fingerprint", "test"), ("calibration_fingerprint", "calibration")):
            if before.get(key) != after.get(key):
                changed_data.add(name)
                out.warnings.append(
                    f"data set '{name}' changed ({what} fingerprint {_short(before.get(key))} -> "
                    f"{_short(after.get(key))}): its metrics compare different data"
                )
    for name in sorted(new_sets.keys() - old_sets.keys()):
        out.other.append(f"data set '{name}' is new")
    for name in sorted(old_sets.keys() - new_sets.keys()):
        out.other.append(f"data set '{name}' is no longer configured")

    old_ckpts, new_ckpts = _by_name(old["checkpoints"]), _by_name(new["checkpoints"])
    out.new_checkpoints = [
        f"{n} ({new_ckpts[n].get('verdict')})" for n in new_ckpts if n not in old_ckpts
    ]
    out.vanished_checkpoints = [
        f"{n} (was {old_ckpts[n].get('verdict')})" for n in old_ckpts if n not in new_ckpts
    ]
    for name in [n for n in old_ckpts if n in new_ckpts]:
        before, after = old_ckpts[name], new_ckpts[name]
        was, now = before.get("verdict"), after.get("verdict")
        if was != now:
            reason = verdict_reason(after, limit=REASON) if now != PROMOTE else ""
            text = f"{name}: {was} -> {now}" + (f" ({reason})" if reason else "")
            out.add(Change("verdict", text, regression=was == PROMOTE, improvement=now == PROMOTE))
        if before.get("fingerprint") != after.get("fingerprint"):
            out.other.append(f"checkpoint {name}: files changed (fingerprint "
                             f"{_short(before.get('fingerprint'))} -> "
                             f"{_short(after.get('fingerprint'))})")

    old_evals = {(e["model"], e["dataset"]): e for e in old["evaluations"]}
    for ev in new["evaluations"]:
        model, dataset = ev["model"], ev["dataset"]
        if (model, dataset) not in old_evals:
            continue
        before = old_evals[(model, dataset)]
        different = dataset in changed_data
        _metric_changes(model, dataset, before["metrics"], ev["metrics"], different, out)
        for was, now in _matching_slices(before, ev):
            where = f"{dataset} [slice {now['slice']}]"
            _metric_changes(model, where, was["metrics"], now["metrics"], different, out)
        _slice_test_changes(model, dataset, before, ev, out)
    for name in [n for n in old_ckpts if n in new_ckpts]:
        _leakage_changes(name, old_ckpts[name].get("leakage"), new_ckpts[name].get("leakage"), out)

    _context_changes(old, new, out)
    return out


def _metric_changes(
    model: str,
    where: str,
    before: dict[str, Any],
    after: dict[str, Any],
    different_data: bool,
    out: Comparison,
) -> None:
    """Every metric both runs report for `model` at `where`, by the interval rule."""
    for metric in [m for m in before if m in after]:
        change = compare_metric(
            model, where, metric, before[metric], after[metric], different_data=different_data
        )
        if change is None:
            continue
        if not change.text:
            out.within_interval += 1
        else:
            out.add(change)


def _slices_of(evaluation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    slices = evaluation.get("slices") or {}
    return {row["slice"]: row for row in slices.get("rows", [])}


def _matching_slices(
    before: dict[str, Any], after: dict[str, Any]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    old, new = _slices_of(before), _slices_of(after)
    return [(old[name], new[name]) for name in sorted(old.keys() & new.keys())]


def _worse_slices(evaluation: dict[str, Any]) -> set[tuple[str, str]]:
    test = (evaluation.get("slices") or {}).get("test") or {}
    return {(r["slice"], r["metric"]) for r in test.get("rows", []) if r["significantly_worse"]}


def _slice_test_changes(
    model: str, dataset: str, before: dict[str, Any], after: dict[str, Any], out: Comparison
) -> None:
    """A slice that became, or stopped being, significantly worse than the baseline."""
    was, now = _worse_slices(before), _worse_slices(after)
    for slice_name, metric in sorted(now - was):
        out.add(Change("metric", f"{model} on {dataset}: slice '{slice_name}' is now "
                       f"significantly worse than the baseline on {metric}", regression=True))
    for slice_name, metric in sorted(was - now):
        out.add(Change("metric", f"{model} on {dataset}: slice '{slice_name}' is no longer "
                       f"significantly worse than the baseline on {metric}", improvement=True))


def _leakage_changes(
    name: str, before: dict[str, Any] | None, after: dict[str, Any] | None, out: Comparison
) -> None:
    """More (or fewer) evaluation pairs found in a checkpoint's training pairs; more on a gating
    set is a regression."""
    if not before or not after:
        return
    old = {row["dataset"]: row for row in before.get("datasets", [])}
    for row in after.get("datasets", []):
        was = old.get(row["dataset"])
        if was is None:
            continue
        count, previous = row["pairs"]["normalised"], was["pairs"]["normalised"]
        if count == previous:
            continue
        more = count > previous
        out.add(Change(
            "leakage",
            f"{name}: {previous} -> {count} test pairs of '{row['dataset']}' found in training",
            regression=more and row["role"] == "gate",
            improvement=not more and row["role"] == "gate",
        ))


def _short(fingerprint: Any) -> str:
    return "none" if not fingerprint else str(fingerprint)[:12]


def _context_changes(old: dict[str, Any], new: dict[str, Any], out: Comparison) -> None:
    """Config, baseline weights, device and package versions that differ (notes only)."""
    old_cfg, new_cfg = old.get("config", {}), new.get("config", {})
    if old_cfg.get("fingerprint") != new_cfg.get("fingerprint"):
        out.other.append(f"gate config changed (fingerprint {_short(old_cfg.get('fingerprint'))} "
                         f"-> {_short(new_cfg.get('fingerprint'))})")
    old_base = {b.get("name"): b.get("weights_fingerprint") for b in old.get("baselines", [])}
    for b in new.get("baselines", []):
        name = b.get("name")
        if name in old_base and old_base[name] != b.get("weights_fingerprint"):
            out.warnings.append(f"baseline '{name}' has different weights: deltas against it "
                                "compare with another model")
    old_env, new_env = old.get("environment", {}), new.get("environment", {})
    if old_env.get("device") != new_env.get("device"):
        out.other.append(f"device {old_env.get('device')} -> {new_env.get('device')}")
    old_v, new_v = old_env.get("versions", {}), new_env.get("versions", {})
    moved = [f"{k} {old_v.get(k)} -> {new_v.get(k)}" for k in sorted(old_v.keys() | new_v.keys())
             if old_v.get(k) != new_v.get(k)]
    if moved:
        out.other.append("versions: " + ", ".join(moved))


def render(comparison: Comparison, old_path: Path, new_path: Path) -> str:
    """The comparison as plain text, at most `harness.report.plaintext.WIDTH` columns."""
    lines = _wrap(f"old: {old_path}", "     ") + _wrap(f"new: {new_path}", "     ")
    if comparison.unchanged:
        return "\n".join([*lines, "no change: same verdicts, metrics, checkpoints and data sets"])
    for warning in comparison.warnings:
        lines += _wrap(f"WARNING: {warning}", "  ")
    sections = [
        (f"REGRESSIONS ({len(comparison.regressions)})",
         [c.text for c in comparison.regressions]),
        (f"IMPROVEMENTS ({len(comparison.improvements)})",
         [c.text for c in comparison.improvements]),
        ("NEW CHECKPOINTS", comparison.new_checkpoints),
        ("VANISHED CHECKPOINTS", comparison.vanished_checkpoints),
        ("OTHER CHANGES", comparison.other),
    ]
    for title, items in sections:
        if items:
            lines += ["", title]
            for item in items:
                lines += _wrap(f"  {item}", "      ")
    lines.append("")
    if comparison.within_interval:
        lines += _wrap(f"{comparison.within_interval} metric change(s) within both runs' "
                       "intervals (resampling noise) not listed", "  ")
    lines.append("result: REGRESSION" if comparison.regressed else "result: no regression")
    return "\n".join(lines)


def _wrap(text: str, indent: str) -> list[str]:
    """Wrapped, never at a hyphen: hyphenated names stay whole unless longer than a line."""
    return wrap(text, indent, break_on_hyphens=False)


def main(old: str, new: str) -> int:
    """Print the comparison; the exit status (0 ok, 1 regression, 2 unreadable input)."""
    try:
        old_path, old_doc = read_results(old)
        new_path, new_doc = read_results(new)
        comparison = compare_results(old_doc, new_doc)
    except GateInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except (KeyError, TypeError, AttributeError) as exc:
        print(f"error: a results.json is malformed ({type(exc).__name__}: {exc})\n"
              "  fix: compare results.json files written by a gate run, unedited", file=sys.stderr)
        return EXIT_UNREADABLE
    print(render(comparison, old_path, new_path))
    return EXIT_REGRESSION if comparison.regressed else EXIT_OK
