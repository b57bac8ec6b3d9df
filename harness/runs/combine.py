"""Combine the report folders of several gate runs (xdist workers, CI shards) into one report.

The runs must agree on what they measured against: the same gate.toml, the same data
(fingerprints) and the same baselines (weights fingerprints and identical evaluations).
Each checkpoint may come from one run only.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import GateInputError
from harness.report.document import evaluated_status
from harness.report.folder import read_report
from harness.run.battery import missing_checks
from harness.run.outcomes import missing_check_reasons
from harness.run.verdicts import sorted_checks, verdict_of


def _agree(what: str, values: dict[Path, Any]) -> None:
    distinct = {json.dumps(v, sort_keys=True) for v in values.values()}
    if len(distinct) > 1:
        listing = "\n".join(
            f"    {path}: {json.dumps(v, sort_keys=True)[:160]}" for path, v in values.items()
        )
        raise GateInputError(
            next(iter(values)),
            f"the runs disagree on {what}:\n{listing}",
            "combine only shards of one nightly run: same gate.toml, data and baselines",
        )


def _datasets_key(results: dict[str, Any]) -> list[Any]:
    return [
        (d["name"], d["role"], d.get("fingerprint"), d.get("calibration_fingerprint"))
        for d in results["datasets"]
    ]


def combine_runs(
    folders: list[str | Path], *, split_checkpoints: bool = False
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One results document and one array set from several runs' report folders.

    `split_checkpoints`: one checkpoint's tests may come from several runs (xdist workers,
    each listing every checkpoint and judging none missing); its checks are joined, and its
    missing checks, its verdict and the run's completeness are judged here. Shards must be
    disjoint.
    """
    if not folders:
        raise GateInputError("combine", "no report folders were given", "pass one folder per shard")
    runs = [read_report(folder) for folder in folders]
    for what, key in (
        ("the schema version", lambda r: r["schema_version"]),
        (
            "the configuration (gate.toml)",
            lambda r: {k: v for k, v in r["config"].items() if k != "path"},
        ),
        ("the data sets (fingerprints)", _datasets_key),
        (
            "the baselines (weights fingerprints)",
            lambda r: [(b["name"], b["weights_fingerprint"]) for b in r["baselines"]],
        ),
    ):
        _agree(what, {path: key(results) for path, results, _ in runs})

    merged = dict(runs[0][1])
    checkpoints: dict[str, dict[str, Any]] = {}
    evaluations: dict[tuple[str, str], dict[str, Any]] = {}
    arrays: dict[str, np.ndarray] = {}
    for path, results, run_arrays in runs:
        for checkpoint in results["checkpoints"]:
            earlier = checkpoints.get(checkpoint["name"])
            if earlier is None:
                checkpoints[checkpoint["name"]] = checkpoint
            elif split_checkpoints:
                checkpoints[checkpoint["name"]] = _join(earlier, checkpoint)
            else:
                raise GateInputError(
                    path,
                    f"checkpoint '{checkpoint['name']}' was gated by more than one run",
                    "combine disjoint shards (each checkpoint in one --shard K/N only)",
                )
        for evaluation in results["evaluations"]:
            pair = (evaluation["model"], evaluation["dataset"])
            if evaluation["role"] == "baseline" and pair in evaluations:
                _agree(
                    f"the baseline evaluation {pair}",
                    {path: stable(evaluation), Path("earlier run"): stable(evaluations[pair])},
                )
            evaluations.setdefault(pair, evaluation)
        for name, value in run_arrays.items():
            arrays.setdefault(name, value)
    if split_checkpoints:  # the workers judged no checkpoint's missing checks
        checkpoints = {name: _judged(row) for name, row in checkpoints.items()}
    merged["datasets"] = _datasets([results for _, results, _ in runs])
    merged["checkpoints"] = [checkpoints[name] for name in sorted(checkpoints)]
    merged["evaluations"] = [evaluations[key] for key in sorted(evaluations)]
    merged["not_applicable"] = sorted(
        {
            json.dumps(n, sort_keys=True): n for _, r, _ in runs for n in r["not_applicable"]
        }.values(),
        key=lambda n: (n["checkpoint"], n["check"]),
    )
    merged["missing_reference_datasets"] = dict(
        sorted(
            {k: v for _, r, _ in runs for k, v in r["missing_reference_datasets"].items()}.items()
        )
    )
    merged["run"] = {
        "started": min(r["run"]["started"] for _, r, _ in runs),
        "finished": max(r["run"]["finished"] for _, r, _ in runs),
        "seconds": round(sum(r["run"]["seconds"] for _, r, _ in runs), 1),
        "merged_from": [str(path) for path, _, _ in runs],
        "texts_encoded": _summed(r["run"].get("texts_encoded", {}) for _, r, _ in runs),
    }
    merged["encode_events"] = [e for _, r, _ in runs for e in r.get("encode_events", [])]
    reasons = [reason for _, r, _ in runs for reason in r["incomplete_reasons"]]
    if split_checkpoints:
        reasons += missing_check_reasons(
            {c["name"]: (c["missing_checks"], bool(c["checks"])) for c in merged["checkpoints"]}
        )
    merged["incomplete_reasons"] = list(dict.fromkeys(reasons))
    merged["complete"] = not merged["incomplete_reasons"]
    return merged, dict(sorted(arrays.items()))


def _datasets(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The data set rows (the runs agree on them) with the evaluation errors of every run: each
    shard evaluates its own checkpoints on a reference set."""
    errors: dict[str, dict[str, str]] = {}
    for results in runs:
        for row in results["datasets"]:
            errors.setdefault(row["name"], {}).update(row.get("evaluation_errors", {}))
    rows = []
    for row in runs[0]["datasets"]:
        if "evaluation_errors" in row:  # read (an unreadable set has none)
            found = dict(sorted(errors[row["name"]].items()))
            row = {**row, "status": evaluated_status(found), "evaluation_errors": found}
        rows.append(row)
    return rows


def _join(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """One checkpoint's entries from two workers, with the checks of both (judged later)."""
    joined = {k: first.get(k) if first.get(k) is not None else second.get(k) for k in first}
    joined["checks"] = sorted_checks(first["checks"] + second["checks"])
    return joined


def _judged(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's entry with its missing checks and its verdict over every check it has."""
    checks = checkpoint["checks"]
    missing = missing_checks(checkpoint["required_checks"], (c["check"] for c in checks))
    verdict, first_failure = verdict_of(checks, missing)
    return {
        **checkpoint, "missing_checks": missing, "verdict": verdict, "first_failure": first_failure
    }


def _summed(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """The counts added up key by key, keys sorted."""
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    return dict(sorted(total.items()))


#: fields measured rather than computed: they differ between identical runs
VOLATILE = ("run", "throughput")


def stable(document: Any) -> Any:
    """The document without run-dependent fields (timestamps, timings, throughput, counts)."""
    if isinstance(document, dict):
        return {k: stable(v) for k, v in document.items() if k not in VOLATILE}
    if isinstance(document, list):
        return [stable(item) for item in document]
    return document
