"""The terminal summary of a gate run, rendered from results.json: leaderboards, then verdicts."""

from __future__ import annotations

from typing import Any

from harness.quality.checks import margin_note
from harness.report.analyses_text import analysis_lines
from harness.report.leaderboard import datasets_in, render_text, verdict_reason
from harness.report.plaintext import wrap
from harness.run.findings import not_measured
from harness.run.verdicts import unsound_checks


def render_summary(results: dict[str, Any], report_path: str | None = None) -> str:
    """Plain text for a 100-column terminal, no colour."""
    env = results["environment"]
    versions = ", ".join(f"{k.replace('_', '-')} {v}" for k, v in env["versions"].items())
    lines = [f"device: {env['device_note']}   dtype: {env['dtype']}"]
    lines += wrap(f"versions: {versions}", "  ")
    shard = results.get("shard")
    if shard:  # the other shards gate the rest: `python -m harness combine` checks they all ran
        lines.append(
            f"{len(results['checkpoints'])} of {len(results['discovered'])} checkpoints on "
            f"shard {shard['index']}/{shard['count']}"
        )
    board = render_text(results)  # empty for a run that evaluated nothing (an empty shard)
    lines += ["", board, ""] if board.strip() else [""]
    comparison = results.get("config", {}).get("comparison")
    margin = comparison and margin_note(comparison["metrics"], comparison["min_delta"])
    if margin:
        lines += wrap(margin, "  ")
    reference_problems = [
        f"reference data set '{name}' was not evaluated: {error.splitlines()[0]}"
        for name, error in results["missing_reference_datasets"].items()
    ]
    reference_problems += [
        line for dataset in results.get("datasets", []) for line in evaluation_errors(dataset)
    ]
    for line in reference_problems:  # paths stay whole
        lines += wrap(line, "  ", break_on_hyphens=False, break_long_words=False)
    for dataset in results.get("datasets", []):  # noted, never failing on their own
        notes = []
        if dataset.get("duplicate_pairs"):
            notes.append(f"{dataset['duplicate_pairs']} duplicate pair(s), each counted again")
        if dataset.get("truncated_texts"):
            notes.append(
                f"{dataset['truncated_texts']} text(s) longer than the baseline's max_seq_length "
                "(truncated when encoded)"
            )
        if dataset.get("calibration_overlap"):
            notes.append(
                f"{dataset['calibration_overlap']} pair(s) in both the calibration and the test "
                "part (the threshold is tuned on pairs it is judged on)"
            )
        if notes:
            lines += wrap(f"data set '{dataset['name']}': {'; '.join(notes)}", "  ")
    for dataset in datasets_in(results):  # shown, gating only where gate.toml says so
        for line in analysis_lines(results, dataset):
            lines += wrap(line, "  ")
    for event in results.get("encode_events", []):  # out of GPU memory: the batch size halved
        lines += wrap(event["message"], "  ")
    for checkpoint in results["checkpoints"]:
        head = f"{checkpoint['verdict']:<8} {checkpoint['name']}"
        reason = verdict_reason(checkpoint)
        lines += wrap(head + (f": {reason}" if reason else ""), "         ")
        if checkpoint.get("missing_checks"):
            missing = ", ".join(checkpoint["missing_checks"])
            lines += wrap(f"did not run: {missing}", "           ", first="         ")
        if pipeline_line(checkpoint.get("pipeline")):
            lines += wrap(pipeline_line(checkpoint["pipeline"]), "           ", first="         ")
        if checkpoint.get("change_profile"):
            lines += wrap(
                profile_line(checkpoint["change_profile"]), "           ", first="         "
            )
        elif checkpoint.get("kind") == "adapter":
            lines.append(f"         change profile: {not_measured('change_profile')}")
        if checkpoint.get("training_record"):
            lines += wrap(
                training_record_line(checkpoint["training_record"]),
                "           ",
                first="         ",
                break_on_hyphens=False,
                break_long_words=False,
            )
    if results["not_applicable"]:
        lines.append("not applicable (not run, not counted as passed):")
        lines += [
            f"  {n['check']}[{n['checkpoint']}]: {n['reason']}" for n in results["not_applicable"]
        ]
    failed_closed = failed_closed_note(results)
    if failed_closed:
        lines.append(failed_closed)
    if not results.get("complete", True):
        lines.append("INCOMPLETE: the verdicts do not cover everything the gate must check:")
        for reason in results["incomplete_reasons"]:
            lines += wrap(  # paths stay whole
                reason, "    ", first="  - ", break_on_hyphens=False, break_long_words=False
            )
    if report_path:
        lines.append(f"report: {report_path}")
    return "\n".join(lines)


def evaluation_errors(dataset: dict[str, Any]) -> list[str]:
    """One line per model a reference set (a results.json `datasets[]` row) could not be
    evaluated on: the first line of the error."""
    return [
        f"reference data set '{dataset['name']}' could not be evaluated for {model}: "
        + error.splitlines()[0]
        for model, error in dataset.get("evaluation_errors", {}).items()
    ]


def pipeline_line(pipeline: dict[str, Any] | None) -> str:
    """How a candidate's pipeline relates to its base's; empty where there is nothing to say."""
    if not pipeline:
        return ""
    if pipeline.get("from") == "base":
        return "pipeline: its base's (a plain-PEFT adapter folder carries none of its own)"
    if pipeline.get("differs_from_base"):
        return "pipeline differs from its base: " + ", ".join(pipeline["differs_from_base"])
    return ""


def failed_closed_note(results: dict[str, Any]) -> str | None:
    """The line that says gate tests were skipped or errored, or None if every one ran."""
    unsound = unsound_checks(results["checkpoints"])
    if not unsound:
        return None
    return (
        f"FAILED CLOSED: {len(unsound)} gate test(s) were skipped or errored; "
        "a gate that did not run a check cannot pass it"
    )


def training_record_line(record: dict[str, Any]) -> str:
    """results.json's `training_record` in one line: why it could not be read, the expectations
    it missed, or how many fields it has with every expectation met."""
    if record.get("error"):
        return "training record: " + record["error"].splitlines()[0]
    misses = record.get("misses") or []
    if misses:
        return (
            f"training record: {len(misses)} of {record['expectations']} expectation(s) missed: "
            + "; ".join(misses)
        )
    n = len(record.get("fields", {}))
    if not record.get("expectations"):
        return f"training record: {n} fields (no expectation set)"
    return f"training record: {n} fields, every expectation met"


def profile_line(profile: dict[str, Any]) -> str:
    """results.json's `change_profile` (harness.checkpoint.change_profile) in one line: how many
    adapted modules changed, and the smallest and largest relative update."""
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
