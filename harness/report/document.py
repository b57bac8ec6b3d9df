"""results.json: everything a gate run found, as one JSON-ready dict (documented in the README),
built from plain data: the run's context, its findings and its check outcomes.

Deterministic apart from the `run` block (timestamps, timings, texts encoded) and measured
throughput (`throughput` of checkpoints and evaluations): two runs over the same inputs give
the same document otherwise.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import numpy as np

from harness.analysis_config import AnalysisSpecs
from harness.checkpoint.fingerprints import file_fingerprint
from harness.checkpoint.weights_files import weights_format
from harness.quality.evaluate import LoadedDataset
from harness.quality.evaluate_retrieval import LoadedRetrieval
from harness.run.battery import missing_checks, required_checks
from harness.run.context import RunContext
from harness.run.findings import Findings
from harness.run.outcomes import Outcomes, incomplete_reasons
from harness.run.verdicts import verdict_of
from harness.throughput.measure import sentences_per_second_by_model

#: 4: discovered[].fingerprint and checkpoints[].fingerprint are the sha256 of the checkpoint's
#: manifest as discovered (every file below the folder, links to folders inside it included),
#: null for a folder refused before it could be listed.
#: 3: retrieval data sets (datasets[].kind "retrieval" with n_queries, n_corpus, exclude_self;
#: evaluations[].kind, and for retrieval n_queries, n_corpus, recall_curve), and per pair-set
#: evaluation error_bounds, overlap, slices, flips and matryoshka; checkpoints[].leakage;
#: config.analyses. 2 added datasets[].calibration_overlap and evaluation_errors,
#: evaluations[].max_score_difference, pipelines, required_checks and missing_checks, the
#: verdict INCOMPLETE, weights_format, `shard` and `discovered` (and later, as new keys only,
#: baselines[].revision, checkpoints[].base_path, base_revision and training_record).
SCHEMA_VERSION = 4


def _datasets(context: RunContext, findings: Findings) -> list[dict[str, Any]]:
    rows = []
    for spec in context.config.datasets:
        data = context.datasets.get(spec.name)
        row: dict[str, Any] = {
            "name": spec.name,
            "role": spec.role,
            "kind": spec.kind,
            "path": str(spec.path),
        }
        if isinstance(data, LoadedRetrieval):
            errors = dict(sorted(findings.reference_errors.get(spec.name, {}).items()))
            row.update(
                status=evaluated_status(errors),
                evaluation_errors=errors,
                truncated_texts=findings.truncated_texts.get(spec.name),
                **data.describe(),
            )
        elif not isinstance(data, LoadedDataset):
            row.update(status="unreadable", error=str(data))
        else:
            # a reference set some model could not be evaluated on: shown, never failing
            errors = dict(sorted(findings.reference_errors.get(spec.name, {}).items()))
            row.update(
                status=evaluated_status(errors),
                evaluation_errors=errors,
                fingerprint=data.test.fingerprint,
                n_pairs=len(data.test),
                duplicate_pairs=data.test.duplicate_pairs,
                # longer than the first baseline's max_seq_length; None: not evaluated
                truncated_texts=findings.truncated_texts.get(spec.name),
                calibration_fingerprint=data.calibration.fingerprint if data.calibration else None,
                n_calibration_pairs=len(data.calibration) if data.calibration else 0,
                calibration_overlap=data.calibration_overlap,
                targets=spec.targets,
            )
        rows.append(row)
    return rows


def evaluated_status(evaluation_errors: dict[str, str]) -> str:
    """A readable data set's status: "failed" where some model could not be evaluated on it
    (only a reference set: a gating set's error fails its quality tests instead)."""
    return "failed" if evaluation_errors else "ok"


def _checkpoints(
    context: RunContext,
    findings: Findings,
    checks_of: dict[str, list[dict[str, Any]]],
    required: dict[str, list[str]],
    missing: dict[str, list[str]],
) -> list[dict[str, Any]]:
    rows = []
    for checkpoint in sorted(context.checkpoints, key=lambda c: c.name):
        checks = checks_of[checkpoint.name]
        verdict, first_failure = verdict_of(checks, missing[checkpoint.name])
        profile = findings.change_profiles.get(checkpoint.name)
        throughput = findings.throughput.get(checkpoint.name)
        base = findings.bases.get(checkpoint.name, {})
        record = findings.training_records.get(checkpoint.name)
        rows.append(
            {
                "name": checkpoint.name,
                "path": str(checkpoint.path),
                "kind": checkpoint.kind,
                "saved_by": checkpoint.saved_by,
                "base_model": checkpoint.base_id,
                # where the base was found (None: not loaded, or a full model)
                "base_path": base.get("path"),
                "base_revision": base.get("revision"),
                "adapter_name": checkpoint.adapter_name if checkpoint.is_adapter else None,
                # safetensors | pickle (scanned, then loaded with weights_only); None: a full model
                "weights_format": (
                    weights_format(checkpoint.adapter_file) if checkpoint.is_adapter else None
                ),
                "fingerprint": checkpoint.fingerprint,
                "verdict": verdict,
                "first_failure": first_failure,
                "checks": checks,
                "required_checks": required[checkpoint.name],
                "missing_checks": missing[checkpoint.name],
                "change_profile": profile.to_dict() if profile is not None else None,
                "throughput": throughput.to_dict() if throughput is not None else None,
                "pipeline": findings.pipelines.get(checkpoint.name),  # None: never loaded
                # None: no [training_record] table, no record to read, or its check did not run
                "training_record": record.to_dict() if record is not None else None,
                # None: no [leakage] table, or its check did not run
                "leakage": findings.leakage.get(checkpoint.name),
            }
        )
    return rows


def build_results(
    context: RunContext,
    findings: Findings,
    outcomes: Outcomes,
    *,
    finished: datetime,
    gated_only: bool = False,
) -> dict[str, Any]:
    """The whole run as a JSON-ready dict. `gated_only` (an xdist worker's share): the checks
    a checkpoint misses are not judged here, since other workers may run them (the controller
    judges the combined document)."""
    config = context.config
    speeds = sentences_per_second_by_model(findings.throughput)
    required = {
        c.name: required_checks(c, config, context.environment["device"])
        for c in context.checkpoints
    }
    checks_of = {name: outcomes.checks_of(name) for name in required}
    missing = {
        name: missing_checks(checks, (c["check"] for c in checks_of[name]))
        for name, checks in required.items()
    }
    incomplete = incomplete_reasons(
        outcomes, {} if gated_only else missing, context.unreadable(gating=True)
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "started": context.started.astimezone(UTC).isoformat(timespec="seconds"),
            "finished": finished.astimezone(UTC).isoformat(timespec="seconds"),
            "seconds": round((finished - context.started).total_seconds(), 1),
            # work done, not findings: a second run serves the baseline from the disk cache
            "texts_encoded": dict(sorted(context.texts_encoded.items())),
        },
        "complete": not incomplete,  # false: the verdicts do not cover everything; the run failed
        "incomplete_reasons": incomplete,
        "environment": context.environment,
        # --shard K/N (null: not sharded) and every checkpoint found before K's share was chosen:
        # what the shards of one run must cover together (harness.runs.combine)
        "shard": {"index": context.shard[0], "count": context.shard[1]} if context.shard else None,
        "discovered": [
            {"name": c.name, "fingerprint": c.fingerprint} for c in context.all_discovered()
        ],
        "config": {
            "path": str(config.source),
            "fingerprint": file_fingerprint(config.source),
            "comparison": {
                "metrics": list(config.comparison.metrics),
                "min_delta": config.comparison.min_delta,
                "n_resamples": config.comparison.n_resamples,
                "confidence": config.comparison.confidence,
                "seed": config.comparison.seed,
            },
            "threshold_policy": config.threshold.describe(),
            "retrieval_metrics": list(config.comparison.retrieval_metrics),
            "analyses": analyses_config(config.analyses),
        },
        "baselines": [
            {
                "name": b.name,
                "model": b.model,
                "path": b.path,
                "revision": b.revision,
                "weights_fingerprint": b.weights_fingerprint,
                "pipeline": findings.pipelines.get(f"baseline/{b.name}"),
            }
            for b in context.baselines
        ],
        "datasets": _datasets(context, findings),
        "checkpoints": _checkpoints(context, findings, checks_of, required, missing),
        "evaluations": [
            {**e.to_dict(), "throughput": speeds.get(e.model)}  # sent/s, float32 (leaderboard)
            for _, e in sorted(findings.evaluations.items())
        ],
        "not_applicable": sorted(
            (
                {"check": n.check, "checkpoint": n.checkpoint, "reason": n.reason}
                for n in outcomes.not_applicable
            ),
            key=lambda n: (n["checkpoint"], n["check"]),
        ),
        "missing_reference_datasets": context.unreadable(gating=False),
        "encode_events": list(context.encode_events),
    }


def analyses_config(analyses: AnalysisSpecs) -> dict[str, Any]:
    """The analysis tables as run (what the report says of how slices were tested, ...)."""
    document = asdict(analyses)
    leakage = document.get("leakage")
    if leakage is not None:
        for key in ("path", "relative_to"):
            leakage[key] = None if leakage[key] is None else str(leakage[key])
    document["matryoshka"]["targets"] = {
        str(dimension): targets for dimension, targets in analyses.matryoshka.targets.items()
    }
    document["matryoshka"].pop("source")
    return document


def score_arrays(context: RunContext, findings: Findings) -> dict[str, np.ndarray]:
    """Per-pair scores, gold data and probe distances for the report's plots (scores.npz)."""
    arrays: dict[str, np.ndarray] = {}
    for (model, dataset_name), evaluation in sorted(findings.evaluations.items()):
        arrays[f"scores|{model}|{dataset_name}"] = evaluation.scores
    for data in context.datasets.values():
        if not isinstance(data, LoadedDataset):
            continue
        if data.test.labels is not None:
            arrays[f"labels|{data.spec.name}"] = data.test.labels
        if data.test.scores is not None:
            arrays[f"gold|{data.spec.name}"] = data.test.scores
    for name, distances in sorted(findings.probe_distances.items()):
        arrays[f"probe_distance|{name}"] = distances
    return arrays
