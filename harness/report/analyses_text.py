"""The analyses in words and tables for the terminal summary and leaderboard.md: per candidate
and pair set its FP bound, flips and slices significantly worse; per pair set a slice table."""

from __future__ import annotations

from typing import Any


def _candidates_on(results: dict[str, Any], dataset: str) -> list[dict[str, Any]]:
    return [
        ev
        for ev in results["evaluations"]
        if ev["dataset"] == dataset and ev["role"] == "candidate"
    ]


def analysis_lines(results: dict[str, Any], dataset: str) -> list[str]:
    """One line per candidate on a pair set: the FP rate with its exact bound, the flipped
    decisions with McNemar's p, and the slices significantly worse than the baseline."""
    lines = []
    for ev in _candidates_on(results, dataset):
        said = []
        bounds = ev.get("error_bounds")
        if bounds and bounds["fp"]["total"]:
            fp = bounds["fp"]
            said.append(
                f"FP {fp['count']}/{fp['total']} = {fp['rate']:.3f} "
                f"(upper bound {fp['upper']:.3f})"
            )
        flips = ev.get("flips")
        if flips:
            said.append(
                f"flips {flips['wrong_to_right']} wrong->right, {flips['right_to_wrong']} "
                f"right->wrong (McNemar p {flips['mcnemar_p']:.2g})"
            )
        test = (ev.get("slices") or {}).get("test")
        if test:
            worse = ", ".join(f"{w['slice']} ({w['metric']})" for w in test["worse"]) or "none"
            said.append(f"slices worse: {worse}")
        if said:
            lines.append(f"{ev['model']} on {dataset}: " + "; ".join(said))
    return lines


def slice_table(results: dict[str, Any], dataset: str) -> tuple[list[str], list[list[str]]]:
    """Per slice, each candidate's delta on the slice metrics with its interval and the
    Holm-adjusted p-value; empty when the data set has no slices."""
    header: list[str] = []
    body: list[list[str]] = []
    candidates = [
        ev for ev in _candidates_on(results, dataset) if (ev.get("slices") or {}).get("metrics")
    ]
    if not candidates:
        return header, body
    metrics = candidates[0]["slices"]["metrics"]
    header = ["slice", "pairs"]
    for ev in candidates:
        header += [f"{ev['model']} {m} delta [95% CI] (Holm p)" for m in metrics]
    adjusted = {
        (ev["model"], row["slice"], row["metric"]): row["p_adjusted"]
        for ev in candidates
        for row in ((ev["slices"].get("test") or {}).get("rows") or [])
    }
    for index, row in enumerate(candidates[0]["slices"]["rows"]):
        cells = [row["slice"], str(row["n_pairs"])]
        for ev in candidates:
            own = ev["slices"]["rows"][index]
            for metric in metrics:
                value = own["metrics"].get(metric)
                if not value or "delta" not in value:
                    cells.append("undefined")
                    continue
                low, high = value["delta_ci"]
                p = adjusted.get((ev["model"], row["slice"], metric))
                shown = "" if p is None else f" ({p:.2g})"
                cells.append(f"{value['delta']:+.3f} [{low:+.3f}, {high:+.3f}]{shown}")
        body.append(cells)
    return header, body
