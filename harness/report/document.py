"""results.json: everything a gate run found, as one JSON-ready dict (documented in the README).

Deterministic apart from the `run` block (timestamps, timings, texts encoded) and measured
throughput (`throughput` of checkpoints and evaluations): two runs over the same inputs give
the same document otherwise.
"""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from typing import Any

import numpy as np
import peft
import scipy
import sentence_transformers
import sklearn
import torch
import transformers

from harness.checkpoint.fingerprints import directory_fingerprint, file_fingerprint
from harness.run.session import GateSession
from harness.run.verdicts import sorted_checks, verdict_of
from harness.throughput.measure import sentences_per_second_by_model

SCHEMA_VERSION = 1


def package_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit_learn": sklearn.__version__,
    }


def _datasets(session: GateSession) -> list[dict[str, Any]]:
    rows = []
    for spec in session.config.datasets:
        data = session.datasets.get(spec.name)
        row: dict[str, Any] = {"name": spec.name, "role": spec.role, "path": str(spec.path)}
        if isinstance(data, Exception) or data is None:
            row.update(status="unreadable", error=str(data))
        else:
            row.update(
                status="ok",
                fingerprint=data.test.fingerprint,
                n_pairs=len(data.test),
                duplicate_pairs=data.test.duplicate_pairs,
                truncated_texts=session.truncated_texts(data),  # longer than max_seq_length
                calibration_fingerprint=data.calibration.fingerprint if data.calibration else None,
                n_calibration_pairs=len(data.calibration) if data.calibration else 0,
                targets=spec.targets,
            )
        rows.append(row)
    return rows


def _checkpoints(session: GateSession, gated_only: bool) -> list[dict[str, Any]]:
    checks_by_checkpoint: dict[str, list[dict[str, str]]] = {}
    for outcome in session.outcomes.values():
        checks_by_checkpoint.setdefault(outcome.checkpoint, []).append(
            {"check": outcome.check, "outcome": outcome.outcome, "message": outcome.message}
        )
    rows = []
    for checkpoint in sorted(session.checkpoints, key=lambda c: c.name):
        checks = sorted_checks(checks_by_checkpoint.get(checkpoint.name, []))
        if gated_only and not checks:
            continue  # an xdist worker reports only the checkpoints it gated
        verdict, first_failure = verdict_of(checks) if checks else ("NOT GATED", None)
        rows.append(
            {
                "name": checkpoint.name,
                "path": str(checkpoint.path),
                "kind": checkpoint.kind,
                "saved_by": checkpoint.saved_by,
                "base_model": checkpoint.base_id,
                "adapter_name": checkpoint.adapter_name if checkpoint.is_adapter else None,
                "fingerprint": directory_fingerprint(checkpoint.path),
                "verdict": verdict,
                "first_failure": first_failure,
                "checks": checks,
                "change_profile": session.change_profiles[checkpoint.name].to_dict()
                if checkpoint.name in session.change_profiles
                else None,
                "throughput": session.throughput[checkpoint.name].to_dict()
                if checkpoint.name in session.throughput
                else None,
            }
        )
    return rows


def build_results(
    session: GateSession, *, started: datetime, finished: datetime, gated_only: bool = False
) -> dict[str, Any]:
    """The whole run as a JSON-ready dict."""
    config = session.config
    speeds = sentences_per_second_by_model(session)
    incomplete = session.incomplete_reasons(gated_only=gated_only)
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "started": started.astimezone(UTC).isoformat(timespec="seconds"),
            "finished": finished.astimezone(UTC).isoformat(timespec="seconds"),
            "seconds": round((finished - started).total_seconds(), 1),
            # work done, not findings: a second run serves the baseline from the disk cache
            "texts_encoded": dict(sorted(session.embedder.encoded.items())),
        },
        "complete": not incomplete,  # false: the verdicts do not cover everything; the run failed
        "incomplete_reasons": incomplete,
        "environment": {
            "device": session.device,
            "device_note": session.device_note,
            "dtype": "float32",
            "versions": package_versions(),
        },
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
        },
        "baselines": [
            {
                "name": b.spec.name,
                "model": b.spec.model,
                "path": str(b.path),
                "weights_fingerprint": b.fingerprint,
            }
            for b in session.loaded_baselines()
        ],
        "datasets": _datasets(session),
        "checkpoints": _checkpoints(session, gated_only),
        "evaluations": [
            {**e.to_dict(), "throughput": speeds.get(e.model)}  # sent/s, float32 (leaderboard)
            for _, e in sorted(session.evaluations.items())
        ],
        "not_applicable": sorted(
            (
                {"check": check, "checkpoint": name, "reason": why}
                for check, name, why in session.not_applicable
            ),
            key=lambda n: (n["checkpoint"], n["check"]),
        ),
        "missing_reference_datasets": session.missing_references(),
        "encode_events": [event.to_dict() for event in session.embedder.events],
    }
