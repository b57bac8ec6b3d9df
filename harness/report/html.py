"""report.html: one self-contained page (inline CSS, PNG plots as data URIs, no JS) per gate run.

Built from results.json and the per-pair arrays of scores.npz (`GateSession.arrays`): verdicts
first, then per data set the leaderboard, ROC curves, positive/negative score
distributions at the operating threshold and confusion matrices, then the adapters' effect on
the probe sentences, every check, and the run's environment and fingerprints. Any array may be
absent (a graded-only data set has no labels, a full model no probe distances): its plot is left
out with a note, never an error.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from sklearn.metrics import roc_curve

from harness.checkpoint.training_record import show
from harness.quality.checks import margin_note
from harness.report.analyses_html import leakage_section, pair_parts, retrieval_parts
from harness.report.html_parts import (
    array_of,
    e,
    evaluations_on,
    figure,
    metric_of,
    mpl_text,
    num,
    png,
    short,
    subplots,
    table_html,
    threshold_of,
)
from harness.report.leaderboard import (
    dataset_role,
    datasets_in,
    leaderboard_table,
    verdict_reason,
)
from harness.report.terminal import (
    evaluation_errors,
    failed_closed_note,
    profile_line,
    training_record_line,
)
from harness.run.findings import not_measured
from harness.run.verdicts import INCOMPLETE, PROMOTE, REJECT

N_BINS = 40
VERDICT_CLASS = {PROMOTE: "promote", REJECT: "reject", INCOMPLETE: "incomplete"}
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;
 color:#1b1f24;background:#fff;line-height:1.4}
main{max-width:1120px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:1.5em;margin:.4em 0}
h2{border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:1.6em}
h3{margin-bottom:.3em}
.verdict{border-radius:6px;padding:10px 14px;margin:8px 0;color:#fff;font-size:1.05em}
.verdict.promote{background:#1a7f37}.verdict.reject{background:#cf222e}
.verdict.other{background:#6e7781}.verdict.incomplete{background:#9a6700}
.verdict .badge{font-weight:700;font-size:1.3em;margin-right:.6em;letter-spacing:.03em}
.verdict pre{background:rgba(255,255,255,.15);color:#fff;margin:6px 0 0}
.alert{border-left:5px solid #bf8700;background:#fff8c5;padding:8px 12px;margin:8px 0}
table{border-collapse:collapse;margin:6px 0 12px;font-size:.92em;max-width:100%}
th,td{border:1px solid #d0d7de;padding:3px 8px;vertical-align:top;overflow-wrap:break-word}
table.env td{overflow-wrap:anywhere}
table.checks{width:100%}table.checks td:nth-child(-n+2){white-space:nowrap}th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.passed{color:#1a7f37;font-weight:600}td.failed,td.error,td.skipped{color:#cf222e;font-weight:600}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:6px 8px;margin:0;
 font-size:.88em}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
figure{display:inline-block;margin:6px 12px 12px 0;vertical-align:top}
figcaption{font-size:.85em;color:#57606a;max-width:560px}
img{max-width:100%;height:auto}
.note{color:#57606a;font-style:italic}
td.fp{background:#ffebe9}
nav a{margin-right:1em}
"""


# ---- plots ----------------------------------------------------------------------------------


Scored = list[tuple[dict[str, Any], np.ndarray]]  # (evaluation, its per-pair scores)


def _roc_plot(dataset: str, curves: Scored, labels: np.ndarray) -> str:
    fig, axes = subplots(figsize=(4.8, 4.3))
    ax: Axes = axes[0, 0]
    for ev, scores in curves:
        fpr, tpr, _ = roc_curve(labels, scores)
        baseline = ev.get("role") == "baseline"
        auc = metric_of(ev, "roc_auc")
        name = ev["model"] + (" (baseline)" if baseline else "")
        line = ax.plot(fpr, tpr, linestyle="--" if baseline else "-", linewidth=1.6,
                       label=mpl_text(f"{name}  AUC {num(auc, 3)}"))[0]
        threshold = threshold_of(ev)
        if threshold is not None:
            predicted = scores >= threshold
            op_fpr = float(np.mean(predicted[labels == 0]))
            op_tpr = float(np.mean(predicted[labels == 1]))
            ax.plot([op_fpr], [op_tpr], "o", color=line.get_color(), markersize=6)
    ax.plot([0, 1], [0, 1], color="#aaaaaa", linewidth=0.8, linestyle=":")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false-positive rate", ylabel="true-positive rate",
           title=mpl_text(f"ROC on {dataset}"))
    ax.legend(loc="lower right", fontsize=7.5)
    ax.grid(alpha=0.3)
    return png(fig)


def _distribution_plot(dataset: str, rows: Scored, labels: np.ndarray) -> str:
    """Positive and negative score histograms per model on shared bins, threshold as a line.
    Histograms are one filled outline each ("stepfilled": the same pixels as 40 bars, a
    fraction of the artists to draw)."""
    everything = np.concatenate([scores for _, scores in rows])
    low, high = float(everything.min()), float(everything.max())
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    bins = np.linspace(low, high, N_BINS + 1)
    fig, axes = subplots(len(rows), 1, figsize=(6.6, 1.75 * len(rows) + 0.7), sharex=True)
    for ax, (ev, scores) in zip(axes[:, 0], rows, strict=True):
        negatives, positives = scores[labels == 0], scores[labels == 1]
        ax.hist(negatives, bins=bins, color="#d1242f", alpha=0.55, histtype="stepfilled",
                label=f"unrelated pairs (label 0, n={negatives.size})")
        ax.hist(positives, bins=bins, color="#0969da", alpha=0.55, histtype="stepfilled",
                label=f"similar pairs (label 1, n={positives.size})")
        threshold = threshold_of(ev)
        title = ev["model"] + (" (baseline)" if ev.get("role") == "baseline" else "")
        if threshold is not None:
            ax.axvline(threshold, color="black", linewidth=1.5, linestyle="--",
                       label=f"threshold {threshold:.3f}")
            false_pos = int(np.sum(negatives >= threshold))
            missed = int(np.sum(positives < threshold))
            share = false_pos / negatives.size if negatives.size else float("nan")
            title += (f": {false_pos}/{negatives.size} unrelated called similar ({share:.0%}), "
                      f"{missed}/{positives.size} similar missed")
        ax.set_title(mpl_text(title), fontsize=9, loc="left")
        ax.set_ylabel("pairs", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7, loc="upper left")
    axes[-1, 0].set_xlabel("cosine score")
    fig.suptitle(mpl_text(f"Score distributions on {dataset}"), fontsize=10)
    return png(fig)


def _graded_plot(dataset: str, rows: Scored, gold: np.ndarray) -> str:
    """Cosine score against the gold grade, one panel per model (graded data sets)."""
    columns = min(3, len(rows))
    lines = math.ceil(len(rows) / columns)
    fig, axes = subplots(lines, columns, figsize=(3.2 * columns, 2.8 * lines), sharey=True)
    for ax in axes.ravel()[len(rows):]:
        ax.set_visible(False)
    for ax, (ev, scores) in zip(axes.ravel(), rows, strict=False):
        ax.scatter(gold, scores, s=6, alpha=0.45, color="#0969da", linewidths=0)
        spearman = num(metric_of(ev, "spearman"), 3)
        ax.set_title(mpl_text(f"{ev['model']}  Spearman {spearman}"), fontsize=8)
        ax.set_xlabel("gold score", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("cosine score", fontsize=8)
    fig.suptitle(mpl_text(f"Cosine score against gold on {dataset}"), fontsize=10)
    return png(fig)


def _probe_plot(name: str, distances: np.ndarray) -> str:
    fig, axes = subplots(figsize=(5.2, 2.5))
    ax: Axes = axes[0, 0]
    ax.hist(distances, bins=min(N_BINS, max(5, distances.size // 2)), color="#8250df", alpha=0.8,
            histtype="stepfilled")
    ax.axvline(float(distances.mean()), color="black", linestyle="--", linewidth=1.2,
               label=f"mean {distances.mean():.2e}")
    ax.set(xlabel="cosine distance, base vs adapter", ylabel="probe sentences")
    ax.set_title(mpl_text(f"Per-sentence embedding change: {name}"), fontsize=9, loc="left")
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=8)
    return png(fig)


def _profile_plot(name: str, profile: dict[str, Any]) -> str:
    """Relative weight update of each adapted module by layer (log scale), one marker per module
    type; modules with a zero update sit on the floor as red crosses."""
    modules = profile.get("modules", [])
    layers = [m["layer"] for m in modules if m.get("layer") is not None]
    other = (max(layers) + 1) if layers else 0  # modules outside the layers (pooler, embeddings)
    positive = [m["relative_update"] for m in modules if m["relative_update"] > 0]
    floor = (min(positive) / 10) if positive else 1e-8
    zero = profile.get("zero_threshold", 0.0)
    groups: dict[str, list[tuple[float, float]]] = {}
    unchanged: list[tuple[float, float]] = []
    for m in modules:
        layer = m["layer"] if m.get("layer") is not None else other
        kind = m["module"].split(f"layer.{m['layer']}.")[-1] if m.get("layer") is not None else (
            m["module"])
        if m["relative_update"] <= zero:
            unchanged.append((layer, floor))
        else:
            groups.setdefault(kind, []).append((layer, m["relative_update"]))
    fig, axes = subplots(figsize=(6.4, 3.0))
    ax: Axes = axes[0, 0]
    offsets = np.linspace(-0.25, 0.25, max(1, len(groups)))
    for offset, (kind, points) in zip(offsets, sorted(groups.items()), strict=False):
        xs, ys = zip(*points, strict=True)
        ax.plot(np.asarray(xs) + offset, ys, "o", markersize=4.5, alpha=0.85, label=mpl_text(kind))
    if unchanged:
        xs, ys = zip(*unchanged, strict=True)
        ax.plot(xs, ys, "x", color="#cf222e", markersize=8, mew=2,
                label=f"zero update ({len(unchanged)})")
    ax.set_yscale("log")
    ticks = sorted(set(layers))
    labels = [str(t) for t in ticks]
    if any(m.get("layer") is None for m in modules):
        ticks.append(other)
        labels.append("other")
    ax.set_xticks(ticks, labels)
    ax.set(xlabel="layer", ylabel="||update|| / ||base weight||")
    ax.set_title(mpl_text(f"Per-module change profile: {name}"), fontsize=9, loc="left")
    ax.legend(fontsize=6.5, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.grid(alpha=0.3, which="both", axis="y")
    ax.tick_params(labelsize=8)
    return png(fig)


# ---- sections -------------------------------------------------------------------------------


def _verdicts(results: dict[str, Any]) -> str:
    checkpoints = results.get("checkpoints", [])
    if not checkpoints:
        return ('<div class="verdict other" data-verdict="NONE"><span class="badge">NO VERDICT'
                "</span>no checkpoint was gated</div>")
    parts = []
    for ckpt in checkpoints:
        verdict = ckpt.get("verdict", REJECT)
        css = VERDICT_CLASS.get(verdict, "other")
        body = ""
        first = ckpt.get("first_failure")
        if first:
            body = (f"<div>first failing check: <b>{e(first.get('check'))}</b> "
                    f"({e(first.get('outcome'))})</div>")
            if first.get("message"):
                body += f"<pre>{e(first['message'])}</pre>"
        missing = ckpt.get("missing_checks") or []
        if missing:
            body += (f"<div>{len(missing)} required check(s) did not run (never a pass): "
                     f"{e(', '.join(missing))}</div>")
        parts.append(
            f'<div class="verdict {css}" data-verdict="{e(verdict)}">'
            f'<span class="badge">{e(verdict)}</span><code>{e(ckpt.get("name"))}</code>{body}</div>'
        )
    failed_closed = failed_closed_note(results)
    if failed_closed:
        parts.append(f'<div class="alert">{e(failed_closed)}.</div>')
    comparison = results.get("config", {}).get("comparison", {})
    margin = margin_note(comparison.get("metrics", []), comparison.get("min_delta", 0.0))
    if margin:
        parts.append(f'<p class="note">{e(margin)}</p>')
    return "\n".join(parts)


def _confusion(ev: dict[str, Any]) -> str:
    matrix = ev.get("confusion_matrix")
    if not matrix:
        return ""
    (tn, fp), (fn, tp) = matrix
    neg, pos = tn + fp, fn + tp

    def pct(count: int, total: int) -> str:
        return f"{count} ({count / total:.0%})" if total else str(count)

    name = ev["model"] + (" (baseline)" if ev.get("role") == "baseline" else "")
    return (
        f"<table><caption>{e(name)} at threshold {e(num(threshold_of(ev)))}</caption>"
        "<tr><th></th><th>predicted unrelated</th><th>predicted similar</th></tr>"
        f'<tr><th>unrelated (label 0)</th><td class="num">TN {e(pct(tn, neg))}</td>'
        f'<td class="num fp">FP {e(pct(fp, neg))}</td></tr>'
        f'<tr><th>similar (label 1)</th><td class="num">FN {e(pct(fn, pos))}</td>'
        f'<td class="num">TP {e(pct(tp, pos))}</td></tr></table>'
    )


def _dataset_section(results: dict[str, Any], arrays: dict[str, np.ndarray], dataset: str) -> str:
    info: dict[str, Any] = next(
        (d for d in results.get("datasets", []) if d.get("name") == dataset), {}
    )
    parts = [f'<h2 id="ds-{e(dataset)}">{e(dataset)} ({e(dataset_role(results, dataset))})</h2>']
    if info.get("kind") == "retrieval":
        parts += [f'<div class="alert">{e(line)}</div>' for line in evaluation_errors(info)]
        header, body = leaderboard_table(results, dataset)
        if body:
            parts.append("<h3>Leaderboard</h3>" + table_html(header, body, numeric_from=2))
        return "\n".join(parts + retrieval_parts(results, dataset))
    parts.append(
        f"<p>{e(info.get('n_pairs', '?'))} test pairs; fingerprint "
        f"<span class=\"mono\">{e(short(info.get('fingerprint')))}</span>; threshold policy: "
        f"{e(results.get('config', {}).get('threshold_policy', '-'))}</p>"
    )
    parts += [f'<div class="alert">{e(line)}</div>' for line in evaluation_errors(info)]
    header, body = leaderboard_table(results, dataset)
    if body:
        parts.append("<h3>Leaderboard</h3>" + table_html(header, body, numeric_from=2))

    evaluations = evaluations_on(results, dataset)
    labels = arrays.get(f"labels|{dataset}")
    gold = arrays.get(f"gold|{dataset}")
    notes: list[str] = []
    figures: list[str] = []
    scored: Scored = []
    for ev in evaluations:
        scores = array_of(arrays, f"scores|{ev['model']}|{dataset}", ev.get("n_pairs"))
        if scores is None:
            notes.append(f"no per-pair scores for {ev['model']}: left out of the plots")
        else:
            scored.append((ev, scores))
    labelled: Scored = []
    if labels is not None:
        labels = np.asarray(labels).astype(np.int64).ravel()
        labelled = [(ev, s) for ev, s in scored if s.size == labels.size]
        both = labels.size and 0 < int(labels.sum()) < labels.size
        if labelled and both:
            figures.append(figure(
                _roc_plot(dataset, labelled, labels), f"ROC curves on {dataset}",
                "ROC curve per model (baselines dashed); a dot marks each model's operating "
                "threshold.",
            ))
        if labelled:
            figures.append(figure(
                _distribution_plot(dataset, labelled, labels),
                f"positive and negative score distributions on {dataset}",
                "Cosine scores of unrelated (red) and similar (blue) pairs on shared bins; the "
                "dashed line is the operating threshold. Red to the right of it are false "
                "positives, blue to the left missed pairs.",
            ))
    else:
        notes.append("no binary labels: no ROC curves, score distributions or confusion matrices")
    if gold is not None and scored:
        gold = np.asarray(gold, dtype=np.float64).ravel()
        graded = [(ev, s) for ev, s in scored if s.size == gold.size]
        if graded:
            figures.append(figure(_graded_plot(dataset, graded, gold),
                                   f"cosine score against gold on {dataset}"))
    if figures:
        parts.append("<h3>Plots</h3>" + "".join(figures))
    matrices = [_confusion(ev) for ev in evaluations if ev.get("confusion_matrix")]
    if matrices:
        parts.append("<h3>Confusion matrices</h3>" + "".join(matrices))
    parts += pair_parts(results, dataset)
    if notes:
        parts.append("".join(f'<p class="note">{e(n)}</p>' for n in notes))
    return "\n".join(parts)


def _probe_section(results: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    parts = ['<h2 id="effect">Adapter effect on the probe sentences</h2>']
    found = False
    for ckpt in results.get("checkpoints", []):
        distances = array_of(arrays, f"probe_distance|{ckpt.get('name')}")
        if distances is None:
            why = (not_measured("probe_distances") if ckpt.get("kind") == "adapter"
                   else ckpt.get("kind", "checkpoint"))
            parts.append(f'<p class="note">{e(ckpt.get("name"))}: no probe distances '
                         f"({e(why)}).</p>")
            continue
        found = True
        caption = (f"{distances.size} sentences: mean {distances.mean():.3e}, median "
                   f"{np.median(distances):.3e}, max {distances.max():.3e}, "
                   f"min {distances.min():.3e}")
        parts.append(figure(_probe_plot(ckpt["name"], distances),
                             f"probe distance distribution of {ckpt['name']}", caption))
    for ckpt in results.get("checkpoints", []):
        profile = ckpt.get("change_profile")
        if profile and profile.get("modules"):
            found = True
            parts.append(figure(_profile_plot(ckpt["name"], profile),
                                 f"change profile of {ckpt['name']}", profile_line(profile)))
        elif profile is None and ckpt.get("kind") == "adapter":
            parts.append(f'<p class="note">{e(ckpt.get("name"))}: no change profile '
                         f'({e(not_measured("change_profile"))}).</p>')
    return "\n".join(parts) if found or len(parts) > 1 else ""


def _checks_section(results: dict[str, Any]) -> str:
    parts = ['<h2 id="checks">Checks</h2>']
    for ckpt in results.get("checkpoints", []):
        parts.append(f"<h3>{e(ckpt.get('name'))}: {e(ckpt.get('verdict'))}</h3>")
        reason = verdict_reason(ckpt)
        if reason:
            parts.append(f"<p>{e(reason)}</p>")
        rows = []
        for check in ckpt.get("checks", []):
            outcome = check.get("outcome", "")
            message = check.get("message") or ""
            rows.append(
                f"<tr><td><code>{e(check.get('check'))}</code></td>"
                f'<td class="{e(outcome)}">{e(outcome)}</td>'
                f"<td>{f'<pre>{e(message)}</pre>' if message else ''}</td></tr>"
            )
        if rows:
            parts.append('<table class="checks"><tr><th>check</th><th>outcome</th>'
                         "<th>message</th></tr>" + "".join(rows) + "</table>")
        else:
            parts.append('<p class="note">no check ran for this checkpoint.</p>')
        record = ckpt.get("training_record")
        if record:
            parts.append(_training_record_html(record))
    not_applicable = results.get("not_applicable", [])
    if not_applicable:
        parts.append("<h3>Not applicable (not run, not counted as passed)</h3>")
        parts.append(table_html(["check", "checkpoint", "reason"],
                                 [(n.get("check"), n.get("checkpoint"), n.get("reason"))
                                  for n in not_applicable]))
    missing = results.get("missing_reference_datasets", {})
    if missing:
        parts.append("<h3>Reference data sets not evaluated</h3>")
        parts.append(table_html(["data set", "error"], sorted(missing.items())))
    return "\n".join(parts)


def _training_record_html(record: dict[str, Any]) -> str:
    """A checkpoint's training record: what the check found, then its fields by dotted path."""
    parts = [f"<h4>training record <code>{e(record.get('file'))}</code></h4>",
             f"<p>{e(training_record_line(record))}</p>"]
    fields = record.get("fields") or {}
    if fields:
        parts.append(table_html(["field", "value"],
                                 [(path, show(value)) for path, value in fields.items()],
                                 css="record"))
    return "".join(parts)


def _environment_section(results: dict[str, Any]) -> str:
    env = results.get("environment", {})
    config = results.get("config", {})
    run = results.get("run", {})
    parts = ['<h2 id="environment">Environment and fingerprints</h2>']
    comparison = config.get("comparison", {})
    parts.append(table_html(["", ""], [
        ("device", env.get("device_note") or env.get("device")),
        ("dtype", env.get("dtype")),
        ("run", f"{run.get('started', '-')} to {run.get('finished', '-')} "
                f"({run.get('seconds', '-')} s)"),
        ("config", config.get("path")),
        ("config fingerprint", config.get("fingerprint")),
        ("comparison", ", ".join(f"{k}={v}" for k, v in comparison.items())),
        ("threshold policy", config.get("threshold_policy")),
        ("schema version", results.get("schema_version")),
    ], css="env"))
    versions = env.get("versions", {})
    if versions:
        parts.append("<h3>Versions</h3>" + table_html(["package", "version"], versions.items()))
    if results.get("baselines"):
        parts.append("<h3>Baselines</h3>" + table_html(
            ["name", "model", "path", "weights fingerprint"],
            [(b.get("name"), b.get("model"), b.get("path"), b.get("weights_fingerprint"))
             for b in results["baselines"]], css="env"))
    if results.get("datasets"):
        parts.append("<h3>Data sets</h3>" + table_html(
            ["name", "role", "status", "test pairs", "fingerprint", "calibration pairs",
             "calibration fingerprint", "in both parts", "path / error"],
            [(d.get("name"), d.get("role"), d.get("status"), d.get("n_pairs"),
              d.get("fingerprint"), d.get("n_calibration_pairs"), d.get("calibration_fingerprint"),
              d.get("calibration_overlap"), d.get("error") or d.get("path"))
             for d in results["datasets"]], css="env"))
    if results.get("checkpoints"):
        parts.append("<h3>Checkpoints</h3>" + table_html(
            ["name", "kind", "saved by", "base model", "path", "fingerprint"],
            [(c.get("name"), c.get("kind"), c.get("saved_by"), c.get("base_model"), c.get("path"),
              c.get("fingerprint")) for c in results["checkpoints"]], css="env"))
    encoded = run.get("texts_encoded")
    if encoded:
        parts.append("<h3>Texts encoded</h3>" + table_html(
            ["model / mode", "texts"], encoded.items(), numeric_from=1))
    return "\n".join(parts)


def render_html(results: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    """The whole report as one HTML document (UTF-8 text, nothing external)."""
    failed = [d["name"] for d in results.get("datasets", []) if d.get("evaluation_errors")]
    datasets = list(dict.fromkeys(datasets_in(results) + failed))
    nav = "".join(f'<a href="#ds-{e(d)}">{e(d)}</a>' for d in datasets)
    nav += '<a href="#effect">adapter effect</a><a href="#checks">checks</a>'
    nav += '<a href="#environment">environment</a>'
    run = results.get("run", {})
    sections = [
        '<h1>Release gate report</h1>',
        f"<p>run finished {e(run.get('finished', '-'))} on "
        f"{e(results.get('environment', {}).get('device_note', '-'))}</p>",
        f'<section id="verdicts">{_verdicts(results)}</section>',
        f"<nav>{nav}</nav>",
    ]
    unreadable = [d for d in results.get("datasets", []) if d.get("status") == "unreadable"]
    for d in unreadable:
        first = (d.get("error") or "").splitlines()[0] if d.get("error") else ""
        sections.append(f'<div class="alert">data set {e(d.get("name"))} ({e(d.get("role"))}) '
                        f"could not be read: {e(first)}</div>")
    sections += [_dataset_section(results, arrays, d) for d in datasets]
    sections += [_probe_section(results, arrays), leakage_section(results),
                 _checks_section(results), _environment_section(results)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Release gate report</title><style>{CSS}</style></head>\n<body><main>\n"
        + "\n".join(s for s in sections if s)
        + "\n</main></body></html>\n"
    )
