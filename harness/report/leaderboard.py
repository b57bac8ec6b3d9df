"""Leaderboards from results.json: one ranked table per data set, as text or Markdown."""

from __future__ import annotations

import math
from typing import Any

from harness.quality.checks import greater_is_better, margin_note
from harness.report.analyses_text import analysis_lines, slice_table
from harness.report.plaintext import WIDTH

MAX_REASON = 300
COLUMNS = (("spearman", "Spearman"), ("roc_auc", "ROC-AUC"), ("f1", "F1"), ("fp_rate", "FP rate"))
#: a retrieval set's columns (those its metrics define)
RETRIEVAL_COLUMNS = (
    ("recall@1", "R@1"),
    ("recall@5", "R@5"),
    ("recall@10", "R@10"),
    ("mrr@10", "MRR@10"),
    ("ndcg@10", "nDCG@10"),
)


def is_retrieval(results: dict[str, Any], dataset: str) -> bool:
    return any(
        d.get("kind") == "retrieval" for d in results["datasets"] if d["name"] == dataset
    )


def columns_of(results: dict[str, Any], dataset: str) -> tuple[tuple[str, str], ...]:
    """The metric columns of a data set's leaderboard."""
    return RETRIEVAL_COLUMNS if is_retrieval(results, dataset) else COLUMNS


def primary_metric(results: dict[str, Any], dataset: str) -> str | None:
    """The metric a data set is ranked by: the first comparison metric it defines."""
    defined = {m for e in results["evaluations"] if e["dataset"] == dataset for m in e["metrics"]}
    config = results["config"]
    compared = (
        config.get("retrieval_metrics", [])
        if is_retrieval(results, dataset)
        else [*config["comparison"]["metrics"], "roc_auc", "spearman"]
    )
    for metric in [*compared, *sorted(defined)]:
        if metric in defined:
            return metric
    return None


def _fmt(value: float | None, digits: int = 4) -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.{digits}f}"
    )


def _delta(row: dict[str, Any] | None) -> str:
    if not row or "delta" not in row:
        return "-"
    low, high = row["delta_ci"]
    return f"{row['delta']:+.4f} [{low:+.4f}, {high:+.4f}]"


def leaderboard_rows(results: dict[str, Any], dataset: str) -> list[dict[str, Any]]:
    """Candidates and baselines on one data set, best first by its primary metric."""
    metric = primary_metric(results, dataset)
    verdicts = {c["name"]: c["verdict"] for c in results["checkpoints"]}
    evaluations = [e for e in results["evaluations"] if e["dataset"] == dataset]
    sign = 1.0 if metric is None or greater_is_better(metric) else -1.0
    columns = columns_of(results, dataset)

    def key(e: dict[str, Any]) -> tuple[float, str]:
        value = e["metrics"].get(metric, {}).get("value") if metric else None
        return (-sign * value if value is not None else math.inf, e["model"])

    rows = []
    for rank, e in enumerate(sorted(evaluations, key=key), start=1):
        rows.append(
            {
                "rank": rank,
                "model": e["model"] + (" (baseline)" if e["role"] == "baseline" else ""),
                **{name: e["metrics"].get(name, {}).get("value") for name, _ in columns},
                "delta": "-"
                if e["compared_with"] == e["model"]
                else _delta(e["metrics"].get(metric)),
                "throughput": e.get("throughput"),
                "verdict": verdicts.get(e["model"], "baseline" if e["role"] == "baseline" else ""),
            }
        )
    return rows


def leaderboard_table(results: dict[str, Any], dataset: str) -> tuple[list[str], list[list[str]]]:
    """A data set's leaderboard as a header and rows of cells (text, Markdown and HTML)."""
    metric = primary_metric(results, dataset) or "-"
    columns = columns_of(results, dataset)
    header = ["#", "model", *(label for _, label in columns), f"{metric} delta [95% CI]"]
    rows = leaderboard_rows(results, dataset)
    with_throughput = any(r["throughput"] for r in rows)
    if with_throughput:
        header.append("sent/s")
    body = []
    for r in rows:
        cells = [str(r["rank"]), r["model"], *(_fmt(r[name]) for name, _ in columns), r["delta"]]
        if with_throughput:
            cells.append(_fmt(r["throughput"], 0))
        body.append(cells)
    return header, body


def dataset_role(results: dict[str, Any], dataset: str) -> str:
    """How a data set counts: "gating", or "reference, never fails"."""
    role = next((d["role"] for d in results["datasets"] if d["name"] == dataset), "")
    return "gating" if role == "gate" else "reference, never fails"


def datasets_in(results: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(e["dataset"] for e in results["evaluations"]))


def render_text(results: dict[str, Any]) -> str:
    """Fixed-width tables for the terminal (no colour); one space between a table's metric
    columns keeps it, its interval and its sent/s column within 100 columns."""
    blocks = []
    for dataset in datasets_in(results):
        header, body = leaderboard_table(results, dataset)
        lines = [f"{dataset} ({dataset_role(results, dataset)})"]
        tight = tuple(range(3, 2 + len(columns_of(results, dataset))))
        lines += _fixed_width(header, body, left=(1,), tight=tight, shrink=1)
        blocks.append("\n".join(lines))
    if throughput_rows(results):
        header, body = _throughput_table(results)
        lines = [throughput_title(results), *_fixed_width(header, body, left=(0, 1), shrink=0)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _shorten(name: str, width: int) -> str:
    """`name` in at most `width` characters: its start and end around "..."."""
    if len(name) <= width:
        return name
    head = (width - 3 + 1) // 2
    return name[:head] + "..." + name[len(name) - (width - 3 - head):]


def _fixed_width(
    header: list[str],
    body: list[list[str]],
    left: tuple[int, ...],
    tight: tuple[int, ...] = (),
    shrink: int | None = None,
) -> list[str]:
    """Aligned rows: columns in `left` left-aligned, one space before columns in `tight`;
    column `shrink` shortened (names kept recognisable) if a row would pass WIDTH (text tables
    only: leaderboard.md keeps every name whole)."""
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    gaps = sum(0 if i == 0 else 1 if i in tight else 2 for i in range(len(header)))
    excess = sum(widths) + gaps - WIDTH
    if shrink is not None and excess > 0:
        widths[shrink] = max(len(header[shrink]), 16, widths[shrink] - excess)
        body = [
            [_shorten(c, widths[shrink]) if i == shrink else c for i, c in enumerate(row)]
            for row in body
        ]
    return [
        "".join(
            ("" if i == 0 else " " if i in tight else "  ")
            + (cell.ljust(w) if i in left else cell.rjust(w))
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *body]
    ]


THROUGHPUT_MODES = ("base", "shipped", "merged")


def throughput_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Sentences/s per checkpoint, dtype and batch size: base, shipped, merged, merged/base."""
    rows = []
    for checkpoint in results["checkpoints"]:
        block = checkpoint.get("throughput")
        if not block:
            continue
        cases: dict[tuple[str, int], dict[str, float]] = {}
        for run in block["runs"]:
            key = (run["dtype"], run["batch_size"])
            cases.setdefault(key, {})[run["mode"]] = run["sentences_per_second"]
        ratios = {(r["dtype"], r["batch_size"]): r["ratio"] for r in block["merged_vs_base"]}
        for (dtype, batch_size), speeds in cases.items():
            rows.append(
                {
                    "checkpoint": checkpoint["name"],
                    "dtype": dtype,
                    "batch_size": batch_size,
                    **{mode: speeds.get(mode) for mode in THROUGHPUT_MODES},
                    "merged_vs_base": ratios.get((dtype, batch_size)),
                }
            )
    return rows


def throughput_title(results: dict[str, Any]) -> str:
    blocks = [c["throughput"] for c in results["checkpoints"] if c.get("throughput")]
    first = blocks[0]
    rounds = max((r["rounds"] for r in first["runs"]), default=0)
    return (
        f"throughput (sentences/s, best of {rounds} rounds over "
        f"{first['corpus']['sentences']} sentences; {first['device']})"
    )


def _throughput_table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["checkpoint", "dtype", "batch", *THROUGHPUT_MODES, "merged/base"]
    body = [
        [
            r["checkpoint"],
            r["dtype"],
            str(r["batch_size"]),
            *(_fmt(r[mode], 0) for mode in THROUGHPUT_MODES),
            "-" if r["merged_vs_base"] is None else f"{r['merged_vs_base']:.2f}x",
        ]
        for r in throughput_rows(results)
    ]
    return header, body


def _markdown_table(header: list[str], body: list[list[str]], left: tuple[int, ...]) -> list[str]:
    """A Markdown table: the columns in `left` left-aligned, the others right-aligned."""
    rule = "|" + "|".join("---" if i in left else "---:" for i in range(len(header))) + "|"
    return ["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(r) + " |" for r in body)]


def render_markdown(results: dict[str, Any]) -> str:
    """Paste-able Markdown: one table per data set (with its slices and analyses), then the
    verdicts."""
    parts = ["# Release gate leaderboard", ""]
    for dataset in datasets_in(results):
        header, body = leaderboard_table(results, dataset)
        parts += [f"## {dataset} ({dataset_role(results, dataset)})", ""]
        parts += _markdown_table(header, body, left=(1,))
        parts.append("")
        parts += [f"- {line}" for line in analysis_lines(results, dataset)]
        header, body = slice_table(results, dataset)
        if body:
            parts += ["", f"### {dataset} per slice", "", *_markdown_table(header, body, left=(0,))]
        parts.append("")
    if throughput_rows(results):
        header, body = _throughput_table(results)
        parts += [f"## {throughput_title(results).capitalize()}", ""]
        parts += _markdown_table(header, body, left=(0, 1))
        parts.append("")
    parts += ["## Verdicts", ""]
    comparison = results["config"]["comparison"]
    margin = margin_note(comparison["metrics"], comparison["min_delta"])
    if margin:
        parts += [margin[0].upper() + margin[1:], ""]
    for checkpoint in results["checkpoints"]:
        parts.append(
            f"- **{checkpoint['verdict']}** `{checkpoint['name']}`"
            + verdict_reason(checkpoint, ": ")
        )
    return "\n".join(parts) + "\n"


def verdict_reason(checkpoint: dict[str, Any], lead: str = "", limit: int = MAX_REASON) -> str:
    """The first failing check and its message in one line of at most `limit` characters (the
    message's whitespace, line breaks included, collapsed to single spaces), then how many
    required checks did not run; nothing for a complete pass."""
    reasons = []
    first = checkpoint.get("first_failure")
    if first:
        message = " ".join((first.get("message") or first.get("outcome") or "").split())
        if len(message) > limit:
            message = message[: limit - 3] + "..."
        reasons.append(f"{first.get('check')} {first.get('outcome')}: {message}")
    missing = checkpoint.get("missing_checks") or []
    if missing:
        reasons.append(f"{len(missing)} required check(s) did not run")
    return f"{lead}{'; '.join(reasons)}" if reasons else ""
