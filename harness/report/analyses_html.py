"""report.html's answers to the questions after a failed run, per data set: retrieval (a
recall@k curve), the FP and FN rates' exact bounds, lexical-overlap buckets, slices (table and
plot, with the Holm-corrected test), the decisions that flipped with the worst pairs, and
Matryoshka dimensions (table and plot); per checkpoint, leakage into training.

Everything is read from results.json's evaluations; an analysis a document lacks is left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from harness.report.html_parts import e, evaluations_on, figure, mpl_text, num, png, subplots
from harness.report.html_parts import table_html as table

#: rows of each flip list the report shows
SHOWN_FLIPS = 10


def _name(ev: dict[str, Any]) -> str:
    return ev["model"] + (" (baseline)" if ev.get("role") == "baseline" else "")


def _ci(row: dict[str, Any] | None, key: str = "ci") -> str:
    interval = (row or {}).get(key)
    if not interval:
        return ""
    return f" [{num(interval[0])}, {num(interval[1])}]"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


# ---- retrieval --------------------------------------------------------------------------------


def retrieval_parts(results: dict[str, Any], dataset: str) -> list[str]:
    """A retrieval set's recall@k curve per model and its Matryoshka table."""
    evaluations = evaluations_on(results, dataset)
    info: dict[str, Any] = next(
        (d for d in results.get("datasets", []) if d.get("name") == dataset), {}
    )
    parts = [
        f"<p>{e(info.get('n_queries'))} queries against a corpus of {e(info.get('n_corpus'))} "
        f"texts ({e(info.get('n_relevant'))} relevant pairs); "
        + (
            "a query is never retrieved as its own result"
            if info.get("exclude_self")
            else "queries may retrieve themselves (exclude_self = false)"
        )
        + (f"; derived from {e(info['derived_from'])}" if info.get("derived_from") else "")
        + ". Intervals: paired bootstrap over queries.</p>"
    ]
    curves = [(ev, ev["recall_curve"]) for ev in evaluations if ev.get("recall_curve")]
    if curves:
        parts.append(
            figure(
                _recall_plot(dataset, curves),
                f"recall at k on {dataset}",
                "Share of each query's relevant documents among its first k results, per model "
                "(baselines dashed).",
            )
        )
    parts += matryoshka_parts(evaluations, dataset)
    return parts


def _recall_plot(dataset: str, curves: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    fig, axes = subplots(figsize=(4.8, 3.6))
    ax: Axes = axes[0, 0]
    for ev, curve in curves:
        style = "--" if ev.get("role") == "baseline" else "-"
        ax.plot(curve["k"], curve["recall"], style, marker=".", label=mpl_text(_name(ev)))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("k (results shown)")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1.02)
    ax.set_title(mpl_text(f"recall@k on {dataset}"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return png(fig)


# ---- pair sets --------------------------------------------------------------------------------


def pair_parts(results: dict[str, Any], dataset: str) -> list[str]:
    """A pair set's error bounds, overlap buckets, slices, flips and Matryoshka table."""
    evaluations = evaluations_on(results, dataset)
    parts: list[str] = []
    parts += _bounds_parts(evaluations)
    parts += _overlap_parts(evaluations, dataset)
    parts += _slice_parts(evaluations, dataset)
    parts += _flip_parts(evaluations)
    parts += matryoshka_parts(evaluations, dataset)
    return parts


def _bounds_parts(evaluations: list[dict[str, Any]]) -> list[str]:
    rows = []
    for ev in evaluations:
        bounds = ev.get("error_bounds")
        if not bounds:
            continue
        fp, fn = bounds["fp"], bounds["fn"]
        rows.append(
            (
                _name(ev),
                f"{fp['count']} of {fp['total']}",
                num(fp["rate"]),
                num(fp["upper"]),
                f"{fn['count']} of {fn['total']}",
                num(fn["rate"]),
                num(fn["upper"]),
            )
        )
    if not rows:
        return []
    level = next(ev["error_bounds"] for ev in evaluations if ev.get("error_bounds"))
    return [
        f"<h3>FP and FN rates with their exact bounds</h3><p>{e(level['method'])} upper bound "
        f"at {level['confidence']:.0%}: the rate the errors seen are still consistent with."
        "</p>"
        + table(
            ["model", "false positives", "FP rate", "FP upper bound", "false negatives",
             "FN rate", "FN upper bound"],
            rows,
            numeric_from=1,
        )
    ]


def _overlap_parts(evaluations: list[dict[str, Any]], dataset: str) -> list[str]:
    tables = [(ev, ev["overlap"]) for ev in evaluations if ev.get("overlap")]
    if not tables:
        return []
    first = tables[0][1]
    header = ["lexical overlap (TF-IDF cosine)", "pairs", "negatives", "positives"]
    header += [f"FP rate: {_name(ev)}" for ev, _ in tables]
    rows = []
    for index, bucket in enumerate(first["rows"]):
        cells = [
            _bucket(bucket),
            bucket["n_pairs"],
            bucket["n_negatives"],
            bucket.get("n_positives", "-"),
        ]
        for _, overlap in tables:
            row = overlap["rows"][index]
            cells.append(
                "-" if row["fp_rate"] is None else f"{_pct(row['fp_rate'])} ({row['fp']})"
            )
        rows.append(cells)
    high = first["high_overlap"]
    return [
        "<h3>False positives by lexical overlap</h3><p>Pairs bucketed by the TF-IDF cosine of "
        "their two texts (fitted on this data set's texts); a negative with high overlap shares "
        f"its words without meaning the same. High-overlap negatives (overlap >= "
        f"{e(high['threshold'])}): {e(high['negatives'])}.</p>"
        + table(header, rows, numeric_from=1),
        figure(
            _overlap_plot(dataset, tables),
            f"FP rate by lexical overlap on {dataset}",
            "FP rate of the negatives in each overlap bucket, per model.",
        ),
    ]


def _bucket(row: dict[str, Any]) -> str:
    closing = "]" if row["high"] >= 1.0 else ")"
    return f"[{row['low']:.1f}, {row['high']:.1f}{closing}"


def _overlap_plot(dataset: str, tables: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    fig, axes = subplots(figsize=(4.8, 3.4))
    ax: Axes = axes[0, 0]
    labels = [_bucket(row) for row in tables[0][1]["rows"]]
    width = 0.8 / len(tables)
    for i, (ev, overlap) in enumerate(tables):
        rates = [np.nan if r["fp_rate"] is None else r["fp_rate"] for r in overlap["rows"]]
        positions = np.arange(len(labels)) + (i - (len(tables) - 1) / 2) * width
        ax.bar(positions, rates, width, label=mpl_text(_name(ev)))
    ax.set_xticks(np.arange(len(labels)), labels, fontsize=7)
    ax.set_xlabel("TF-IDF cosine of the two texts")
    ax.set_ylabel("FP rate of the negatives")
    ax.set_ylim(0, 1.25)  # room for the legend above the bars
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_title(mpl_text(f"false positives by overlap on {dataset}"))
    ax.legend(fontsize=7, loc="upper left")
    return png(fig)


def _slice_parts(evaluations: list[dict[str, Any]], dataset: str) -> list[str]:
    sliced = [(ev, ev["slices"]) for ev in evaluations if (ev.get("slices") or {}).get("metrics")]
    if not sliced:
        return []
    metrics = sliced[0][1]["metrics"]
    header = ["slice", "pairs"]
    for ev, _ in sliced:
        header += [f"{m}: {_name(ev)}" for m in metrics]
    names = [row["slice"] for row in sliced[0][1]["rows"]]
    rows = []
    for index, slice_name in enumerate(names):
        cells: list[Any] = [slice_name, sliced[0][1]["rows"][index]["n_pairs"]]
        for _, slices in sliced:
            row = slices["rows"][index]
            for metric in metrics:
                value = row["metrics"].get(metric)
                cells.append("undefined" if value is None else num(value["value"]) + _ci(value))
        rows.append(cells)
    parts = [
        "<h3>Slices</h3><p>Each metric per slice, with its paired-bootstrap interval.</p>"
        + table(header, rows, numeric_from=1)
    ]
    for ev, slices in sliced:
        test = slices.get("test")
        if not test:
            continue
        parts.append(
            f"<p>{e(_name(ev))} against {e(ev.get('compared_with'))}: {e(test['method'])}; "
            f"{e(test['n_comparisons'])} comparisons, {e(test['n_permutations'])} "
            f"permutations, alpha {e(test['alpha'])}. Significantly worse: "
            + (
                ", ".join(f"{e(w['slice'])} ({e(w['metric'])})" for w in test["worse"])
                or "none"
            )
            + ".</p>"
            + table(
                ["slice", "metric", "improvement", "p", "Holm-adjusted p", "significantly worse"],
                [
                    (
                        r["slice"],
                        r["metric"],
                        f"{r['improvement']:+.4f}",
                        f"{r['p_value']:.2g}",
                        f"{r['p_adjusted']:.2g}",
                        "yes" if r["significantly_worse"] else "no",
                    )
                    for r in test["rows"]
                ],
                numeric_from=2,
            )
        )
        parts.append(
            figure(
                _slice_plot(dataset, ev, slices),
                f"per-slice improvement of {ev['model']} on {dataset}",
                "The candidate's improvement over the baseline per slice, with its 95% "
                "paired-bootstrap interval; red: significantly worse after Holm-Bonferroni.",
            )
        )
    return parts


def _slice_plot(dataset: str, ev: dict[str, Any], slices: dict[str, Any]) -> str:
    metrics = slices["metrics"]
    fig, axes = subplots(1, len(metrics), figsize=(3.2 * len(metrics) + 1, 3.6), sharey=True)
    worse = {(w["slice"], w["metric"]) for w in (slices.get("test") or {}).get("worse", [])}
    names = [row["slice"] for row in slices["rows"]]
    for ax, metric in zip(axes[0], metrics, strict=True):
        for y, row in enumerate(slices["rows"]):
            value = row["metrics"].get(metric)
            if not value or "delta" not in value:
                continue
            low, high = value["delta_ci"]
            colour = "#cf222e" if (row["slice"], metric) in worse else "#0969da"
            ax.errorbar(
                value["delta"], y, xerr=[[value["delta"] - low], [high - value["delta"]]],
                fmt="o", color=colour, capsize=3,
            )
        ax.axvline(0, color="#57606a", linewidth=0.8)
        ax.set_title(mpl_text(metric))
        ax.set_xlabel("candidate - baseline")
    axes[0, 0].set_yticks(range(len(names)), [mpl_text(n) for n in names], fontsize=8)
    fig.suptitle(mpl_text(f"{ev['model']} per slice on {dataset}"), fontsize=10)
    return png(fig)


def _flip_parts(evaluations: list[dict[str, Any]]) -> list[str]:
    parts = []
    for ev in evaluations:
        flips = ev.get("flips")
        if not flips:
            continue
        parts.append(
            f"<h3>Decisions that flipped: {e(_name(ev))} against {e(ev.get('compared_with'))}</h3>"
            f"<p>Each at its own threshold: {e(flips['wrong_to_right'])} pairs wrong to right, "
            f"{e(flips['right_to_wrong'])} right to wrong ({e(flips['both_right'])} both right, "
            f"{e(flips['both_wrong'])} both wrong); McNemar's exact test p = "
            f"{flips['mcnemar_p']:.3g}.</p>"
        )
        for key, title in (("worst", "right to wrong"), ("best", "wrong to right")):
            rows = flips.get(key) or []
            if rows:
                parts.append(
                    f"<p>{e(title)}, furthest across the candidate's threshold first:</p>"
                    + table(
                        ["label", "candidate", "baseline", "sentence 1", "sentence 2"],
                        [
                            (
                                "similar" if r["label"] == 1 else "unrelated",
                                num(r["candidate_score"]),
                                num(r["baseline_score"]),
                                r["sentence1"],
                                r["sentence2"],
                            )
                            for r in rows[:SHOWN_FLIPS]
                        ],
                    )
                )
    return parts


# ---- Matryoshka -------------------------------------------------------------------------------


def matryoshka_parts(evaluations: list[dict[str, Any]], dataset: str) -> list[str]:
    """Every model's metrics at each truncated dimension: a table and a plot."""
    tables = [
        (ev, ev["matryoshka"]) for ev in evaluations if (ev.get("matryoshka") or {}).get("rows")
    ]
    errors = [
        f'<p class="note">{e(_name(ev))}: not evaluated at truncated dimensions: '
        f"{e(ev['matryoshka']['error'])}</p>"
        for ev in evaluations
        if (ev.get("matryoshka") or {}).get("error")
    ]
    if not tables:
        return errors
    metrics = list(dict.fromkeys(m for _, t in tables for r in t["rows"] for m in r["metrics"]))
    shown = [m for m in metrics if m not in ("precision", "recall", "accuracy", "fn_rate")]
    header = ["model", "dimensions", *shown]
    rows = [
        (_name(ev), row["dimension"], *(num(row["metrics"].get(m)) for m in shown))
        for ev, t in tables
        for row in t["rows"]
    ]
    return [
        "<h3>Matryoshka dimensions</h3><p>Every metric again on embeddings cut to the first d "
        "dimensions and re-normalised (no new encode); a pair set's threshold is chosen again "
        "on its calibration part at each dimension.</p>"
        + table(header, rows, numeric_from=1),
        figure(
            _matryoshka_plot(dataset, tables, shown[0]),
            f"{shown[0]} against dimension on {dataset}",
            f"{shown[0]} at each truncated dimension, per model (baselines dashed).",
        ),
        *errors,
    ]


def _matryoshka_plot(
    dataset: str, tables: list[tuple[dict[str, Any], dict[str, Any]]], metric: str
) -> str:
    fig, axes = subplots(figsize=(4.8, 3.4))
    ax: Axes = axes[0, 0]
    for ev, t in tables:
        dims = [row["dimension"] for row in t["rows"]]
        values = [row["metrics"].get(metric, np.nan) for row in t["rows"]]
        style = "--" if ev.get("role") == "baseline" else "-"
        ax.plot(dims, values, style, marker="o", label=mpl_text(_name(ev)))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("embedding dimensions")
    ax.set_ylabel(mpl_text(metric))
    ax.set_title(mpl_text(f"{metric} by dimension on {dataset}"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return png(fig)


# ---- leakage ----------------------------------------------------------------------------------


def leakage_section(results: dict[str, Any]) -> str:
    """Per checkpoint, its training pairs' overlap with each pair set."""
    checkpoints = results.get("checkpoints", [])
    reports = [(c["name"], c["leakage"]) for c in checkpoints if c.get("leakage")]
    if not reports:
        return ""
    parts = ['<h2 id="leakage">Leakage into training</h2>']
    for name, report in reports:
        if report.get("error"):
            parts.append(f'<div class="alert">{e(name)}: {e(report["error"])}</div>')
            continue
        parts.append(
            f"<p>{e(name)}: training pairs {e(report['training_pairs'])} "
            f"({e(report['n_training_pairs'])} pairs, from {e(report['source'])}); a gating "
            f"set fails above a share of {e(report['max_share'])}.</p>"
            + table(
                ["data set", "role", "test pairs in training (exact / normalised)",
                 "sentences in training (exact / normalised)"],
                [
                    (
                        row["dataset"],
                        row["role"],
                        f"{row['pairs']['exact']} / {row['pairs']['normalised']} of "
                        f"{row['pairs']['total']} ({_pct(row['pairs']['normalised_share'])})",
                        f"{row['sentences']['exact']} / {row['sentences']['normalised']} of "
                        f"{row['sentences']['total']} "
                        f"({_pct(row['sentences']['normalised_share'])})",
                    )
                    for row in report["datasets"]
                ],
                numeric_from=2,
            )
        )
    return "\n".join(parts)
