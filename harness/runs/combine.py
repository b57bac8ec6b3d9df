"""Combine the report folders of several gate runs (xdist workers, CI shards) into one report.

The runs must agree on what they measured against: the same gate.toml, the same data
(fingerprints), the same baselines (weights fingerprints and identical evaluations) and the same
checkpoints discovered (names and folder fingerprints). Each checkpoint may come from one run
only. Shards (`--shard K/N`) must be complete: each K of N exactly once (a shard that hashing
left empty writes its report too), so that the combined report covers every checkpoint
discovered; a shard that is missing is refused, naming the checkpoints it should have gated.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from harness.checkpoint.discover import shard_index
from harness.errors import GateInputError
from harness.report.document import evaluated_status
from harness.report.folder import read_report
from harness.run.battery import missing_checks
from harness.run.outcomes import missing_check_reasons
from harness.run.verdicts import sorted_checks, verdict_of

Run = tuple[Path, dict[str, Any], dict[str, np.ndarray]]
ONE_RUN = "combine only shards of one nightly run: same gate.toml, data and baselines"


def _agree(what: str, values: dict[Path, Any], fix: str = ONE_RUN) -> None:
    distinct = {json.dumps(v, sort_keys=True) for v in values.values()}
    if len(distinct) > 1:
        listing = "\n".join(
            f"    {path}: {json.dumps(v, sort_keys=True)[:160]}" for path, v in values.items()
        )
        raise GateInputError(next(iter(values)), f"the runs disagree on {what}:\n{listing}", fix)


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
    ):
        _agree(what, {path: key(results) for path, results, _ in runs})
    _agree(  # a run that gated no checkpoint (an empty shard) loaded no baseline
        "the baselines (weights fingerprints)",
        {
            path: [(b["name"], b["weights_fingerprint"]) for b in results["baselines"]]
            for path, results, _ in runs
            if results["checkpoints"]
        },
    )
    discovered = _discovered(runs)
    shard = _shard(runs, discovered, split_checkpoints=split_checkpoints)

    # the baselines, data sets and environment as a run that gated something recorded them
    merged = dict(next((r for _, r, _ in runs if r["checkpoints"]), runs[0][1]))
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
    _refuse_uncovered(runs, discovered, shard, checkpoints)
    if split_checkpoints:  # the workers judged no checkpoint's missing checks
        checkpoints = {name: _judged(row) for name, row in checkpoints.items()}
    merged["shard"] = shard
    merged["discovered"] = discovered
    merged["datasets"] = _datasets(merged["datasets"], [results for _, results, _ in runs])
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


def _discovered(runs: list[Run]) -> list[dict[str, str]]:
    """The checkpoints every run discovered (names and folder fingerprints); runs that found
    others, or other files under one name, are refused."""
    for path, results, _ in runs:
        if not isinstance(results.get("discovered"), list):
            raise GateInputError(
                path,
                "its results.json lists no 'discovered' checkpoints, so what the runs should "
                "have covered together is unknown (written by an older gate)",
                "rerun it with this gate",
            )
    first, theirs = runs[0][0], _fingerprints(runs[0][1])
    for path, results, _ in runs[1:]:
        ours = _fingerprints(results)
        differences = [
            *(f"{name}: only here" for name in sorted(ours.keys() - theirs.keys())),
            *(f"{name}: only in {first}" for name in sorted(theirs.keys() - ours.keys())),
            *(
                f"{name}: other files (fingerprint {ours[name][:12]}, there {theirs[name][:12]})"
                for name in sorted(ours.keys() & theirs.keys())
                if ours[name] != theirs[name]
            ),
        ]
        if differences:
            raise GateInputError(
                path,
                f"discovered other checkpoints than {first}:\n"
                + "\n".join(f"    {line}" for line in differences),
                "combine the shards of one run over one checkpoints folder; rerun every shard "
                "if a checkpoint was added, removed or saved again while they ran",
            )
    return list(runs[0][1]["discovered"])


def _fingerprints(results: dict[str, Any]) -> dict[str, str]:
    return {d["name"]: d["fingerprint"] for d in results["discovered"]}


def _shard(
    runs: list[Run], discovered: list[dict[str, str]], *, split_checkpoints: bool
) -> dict[str, int] | None:
    """The combined run's shard. xdist workers share their run's (null, or its --shard K/N);
    shards combine into one run over every checkpoint (null), only if every K of N is there
    exactly once."""
    shards: dict[Path, dict[str, int] | None] = {path: r.get("shard") for path, r, _ in runs}
    if split_checkpoints:
        _agree("the shard (--shard K/N)", shards, "combine the workers of one run")
        return next(iter(shards.values()))
    sharded = {path: shard for path, shard in shards.items() if shard is not None}
    if not sharded:
        return None
    unsharded = [path for path in shards if path not in sharded]
    if unsharded:
        raise GateInputError(
            unsharded[0],
            "is a run over every checkpoint (no --shard), given with the shard runs "
            + ", ".join(f"{path} ({s['index']}/{s['count']})" for path, s in sharded.items()),
            "combine the N shard runs of one nightly run (--shard K/N each), without it",
        )
    _agree("the number of shards (N of --shard K/N)", {p: s["count"] for p, s in sharded.items()})
    count = next(iter(sharded.values()))["count"]
    by_index: dict[int, Path] = {}
    for path, shard in sharded.items():
        if shard["index"] in by_index:
            raise GateInputError(
                path,
                f"is shard {shard['index']}/{count}, and so is {by_index[shard['index']]}",
                "pass each shard's report folder once: drop the copy, or rerun the shard whose "
                "--shard K/N was wrong",
            )
        by_index[shard["index"]] = path
    missing = [k for k in range(1, count + 1) if k not in by_index]
    if missing:
        given = ", ".join(f"{k}/{count} ({path})" for k, path in sorted(by_index.items()))
        lines = [
            f"    shard {k}/{count}: {', '.join(_on_shard(discovered, k, count)) or 'none (empty)'}"
            for k in missing
        ]
        raise GateInputError(
            "combine",
            f"{len(missing)} of {count} shards have no report among the folders given "
            f"(shards {given}); missing, and what they should have gated:\n" + "\n".join(lines),
            "pass every shard's report folder; a shard without one did not finish (its job "
            "died, or its report was not uploaded): rerun it with `pytest -m gpu --shard K/N`",
        )
    return None


def _on_shard(discovered: list[dict[str, str]], index: int, count: int) -> list[str]:
    """The names of the discovered checkpoints that shard `index` of `count` gates."""
    return [d["name"] for d in discovered if shard_index(d["name"], count) == index]


def _refuse_uncovered(
    runs: list[Run],
    discovered: list[dict[str, str]],
    shard: dict[str, int] | None,
    checkpoints: dict[str, Any],
) -> None:
    """Every checkpoint discovered (on the combined run's shard, if it has one) was gated."""
    expected = (
        [d["name"] for d in discovered]
        if shard is None
        else _on_shard(discovered, shard["index"], shard["count"])
    )
    absent = [name for name in expected if name not in checkpoints]
    if absent:
        on = f" on shard {shard['index']}/{shard['count']}" if shard else ""
        raise GateInputError(
            "combine",
            f"no run among {', '.join(str(path) for path, _, _ in runs)} gated "
            f"{', '.join(absent)}, which every run discovered{on}",
            "pass the report folder of the run that gated it, or rerun its shard",
        )

def _datasets(rows: list[dict[str, Any]], runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The data set `rows` (the runs agree on them) with the evaluation errors of every run:
    each shard evaluates its own checkpoints on a reference set."""
    errors: dict[str, dict[str, str]] = {}
    for results in runs:
        for row in results["datasets"]:
            errors.setdefault(row["name"], {}).update(row.get("evaluation_errors", {}))
    combined = []
    for row in rows:
        if "evaluation_errors" in row:  # read (an unreadable set has none)
            found = dict(sorted(errors[row["name"]].items()))
            row = {**row, "status": evaluated_status(found), "evaluation_errors": found}
        combined.append(row)
    return combined


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
