"""The terminal summary of a gate run, rendered from results.json: leaderboards, then verdicts."""

from __future__ import annotations

import textwrap
from typing import Any

from harness.report.leaderboard import render_text, verdict_reason

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
    for dataset in results.get("datasets", []):  # noted, never failing on their own
        notes = []
        if dataset.get("duplicate_pairs"):
            notes.append(f"{dataset['duplicate_pairs']} duplicate pair(s), each counted again")
        if dataset.get("truncated_texts"):
            notes.append(
                f"{dataset['truncated_texts']} text(s) longer than the baseline's max_seq_length "
                "(truncated when encoded)"
            )
        if notes:
            lines += textwrap.wrap(
                f"data set '{dataset['name']}': {'; '.join(notes)}", WIDTH, subsequent_indent="  "
            )
    for event in results.get("encode_events", []):  # out of GPU memory: the batch size halved
        lines += textwrap.wrap(event["message"], WIDTH, subsequent_indent="  ")
    for checkpoint in results["checkpoints"]:
        head = f"{checkpoint['verdict']:<8} {checkpoint['name']}"
        reason = verdict_reason(checkpoint)
        lines += textwrap.wrap(
            head + (f": {reason}" if reason else ""), WIDTH, subsequent_indent="         "
        )
        if checkpoint.get("change_profile"):
            lines += textwrap.wrap(
                profile_line(checkpoint["change_profile"]),
                WIDTH,
                initial_indent="         ",
                subsequent_indent="           ",
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
    if not results.get("complete", True):
        lines.append("INCOMPLETE: the verdicts do not cover everything the gate must check:")
        for reason in results["incomplete_reasons"]:
            lines += textwrap.wrap(
                reason,
                WIDTH,
                initial_indent="  - ",
                subsequent_indent="    ",
                break_long_words=False,  # paths stay whole
                break_on_hyphens=False,
            )
    if report_path:
        lines.append(f"report: {report_path}")
    return "\n".join(lines)


def profile_line(profile: dict[str, Any]) -> str:
    """results.json's `change_profile` (harness.checkpoint.change_profile) in one line: how many
    adapted modules
    changed, and the smallest and largest relative update."""
    n, changed = profile.get("n_modules", 0), profile.get("n_changed", 0)
    if not n:
        return "change profile: no adapted module found"
    line = (
        f"change profile: {changed} of {n} adapted modules changed; relative update "
        f"min {profile['min_relative_update']:.2e} ({profile['min_module']}), "
        f"max {profile['max_relative_update']:.2e} ({profile['max_module']})"
    )
    unchanged = profile.get("unchanged") or []
    if unchanged:
        line += f"; unchanged: {', '.join(unchanged[:3])}" + (", ..." if len(unchanged) > 3 else "")
    return line
