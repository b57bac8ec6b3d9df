"""The terminal summary of a gate run, rendered from results.json: leaderboards, then verdicts."""

from __future__ import annotations

import textwrap
from typing import Any

from harness.leaderboard import render_text, verdict_reason

WIDTH = 100


def render_summary(results: dict[str, Any], report_path: str | None = None) -> str:
    """Plain text for a 100-column terminal, no colour."""
    env = results["environment"]
    versions = ", ".join(f"{k.replace('_', '-')} {v}" for k, v in env["versions"].items())
    lines = [f"device: {env['device_note']}   dtype: {env['dtype']}"]
    lines += textwrap.wrap(f"versions: {versions}", WIDTH, subsequent_indent="  ")
    lines += ["", render_text(results), ""]
    for name, error in results["missing_reference_datasets"].items():
        lines += textwrap.wrap(
            f"reference data set '{name}' was not evaluated: {error.splitlines()[0]}",
            WIDTH,
            subsequent_indent="  ",
        )
    for checkpoint in results["checkpoints"]:
        head = f"{checkpoint['verdict']:<8} {checkpoint['name']}"
        reason = verdict_reason(checkpoint)
        lines += textwrap.wrap(
            head + (f": {reason}" if reason else ""), WIDTH, subsequent_indent="         "
        )
    if results["not_applicable"]:
        lines.append("not applicable (not run, not counted as passed):")
        lines += [
            f"  {n['check']}[{n['checkpoint']}]: {n['reason']}" for n in results["not_applicable"]
        ]
    unsound = [
        c
        for ckpt in results["checkpoints"]
        for c in ckpt["checks"]
        if c["outcome"] in ("skipped", "error")
    ]
    if unsound:
        lines.append(
            f"FAILED CLOSED: {len(unsound)} gate test(s) were skipped or errored; "
            "a gate that did not run a check cannot pass it"
        )
    if report_path:
        lines.append(f"report: {report_path}")
    return "\n".join(lines)
